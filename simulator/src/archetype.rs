//! Kinds of player and what stays the same about each player from day to day.

use std::{fmt, str::FromStr};

use crate::random::Random;

/// A kind of player the simulator makes. Four are pathways of harm (their
/// players are at risk, and most end by excluding themselves); the others are
/// not at risk, some of them looking as if they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archetype {
    /// Plays now and then, small stakes, short sessions.
    Casual,
    /// Plays most days, moderate stakes.
    Regular,
    /// Large, steady stakes and deposits, in control.
    HighRoller,
    /// At risk, a mix of pathways: two or three of escalation, payment chasing and bingeing.
    AtRisk,
    /// Plays less and less, then not at all.
    Churner,
    /// At risk: stakes and sessions grow, losses chased within the session.
    Escalation,
    /// At risk: deposits soon after losses, declined deposits, raised deposit limits,
    /// cancelled withdrawals, with flat stakes.
    PaymentChasing,
    /// At risk: more sessions a day, longer and later into the night, each under three hours.
    Bingeing,
    /// Steady night play, not at risk.
    NightShift,
    /// Many small deposits and withdrawals cancelled to play a bonus, not at risk.
    BonusHunter,
    /// Long sessions most days, steady, not at risk.
    HeavyRegular,
}

/// How many archetypes there are.
const ARCHETYPES: usize = 11;

impl Archetype {
    /// Every archetype, in the order of [`Mix`] shares.
    pub const ALL: [Self; ARCHETYPES] = [
        Self::Casual,
        Self::Regular,
        Self::HighRoller,
        Self::AtRisk,
        Self::Churner,
        Self::Escalation,
        Self::PaymentChasing,
        Self::Bingeing,
        Self::NightShift,
        Self::BonusHunter,
        Self::HeavyRegular,
    ];

    /// The archetype's name, as the ground-truth file and `--mix` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Casual => "casual",
            Self::Regular => "regular",
            Self::HighRoller => "high_roller",
            Self::AtRisk => "at_risk",
            Self::Churner => "churner",
            Self::Escalation => "escalation",
            Self::PaymentChasing => "payment_chasing",
            Self::Bingeing => "bingeing",
            Self::NightShift => "night_shift",
            Self::BonusHunter => "bonus_hunter",
            Self::HeavyRegular => "heavy_regular",
        }
    }

    /// Whether the archetype is a pathway of harm.
    pub fn at_risk(self) -> bool {
        matches!(self, Self::AtRisk | Self::Escalation | Self::PaymentChasing | Self::Bingeing)
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Archetype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The share of each archetype in a population, in the order of [`Archetype::ALL`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix([f64; ARCHETYPES]);

impl Default for Mix {
    /// Every pathway and every confounder: 12 % at risk, 3 % on each pathway.
    fn default() -> Self {
        Self([0.30, 0.20, 0.05, 0.03, 0.12, 0.03, 0.03, 0.03, 0.07, 0.07, 0.07])
    }
}

/// Why a `--mix` value was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MixError {
    /// A part is not `name=share`.
    #[error("`{0}` is not name=share")]
    Syntax(String),
    /// A name that is no archetype.
    #[error(
        "unknown archetype `{0}` (known: casual, regular, high_roller, churner, night_shift, bonus_hunter, \
         heavy_regular, and the pathways escalation, payment_chasing, bingeing, at_risk)"
    )]
    Unknown(String),
    /// A share that is not a finite number at least 0.
    #[error("the share of `{0}` must be a number at least 0")]
    Share(String),
    /// All shares are zero.
    #[error("at least one share must be above 0")]
    Empty,
    /// An archetype given twice.
    #[error("`{0}` is given twice: give each archetype once")]
    Repeated(String),
}

impl FromStr for Mix {
    type Err = MixError;

    /// Reads `casual=0.4,at_risk=0.1,...`; archetypes not named get no share, and
    /// the shares are scaled to sum to one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut shares = [0.0; ARCHETYPES];
        let mut named = [false; ARCHETYPES];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, share) = part.split_once('=').ok_or_else(|| MixError::Syntax(part.to_owned()))?;
            let archetype = Archetype::parse(name.trim()).ok_or_else(|| MixError::Unknown(name.trim().to_owned()))?;
            let share: f64 = share.trim().parse().map_err(|_| MixError::Share(name.trim().to_owned()))?;
            if !share.is_finite() || share < 0.0 {
                return Err(MixError::Share(name.trim().to_owned()));
            }
            if std::mem::replace(&mut named[archetype as usize], true) {
                return Err(MixError::Repeated(name.trim().to_owned()));
            }
            shares[archetype as usize] = share;
        }
        let total: f64 = shares.iter().sum();
        if total <= 0.0 {
            return Err(MixError::Empty);
        }
        Ok(Self(shares.map(|share| share / total)))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> =
            Archetype::ALL.iter().zip(self.0).map(|(a, share)| format!("{a}={share:.3}")).collect();
        f.write_str(&parts.join(","))
    }
}

impl Mix {
    fn pick(&self, u: f64) -> Archetype {
        let mut acc = 0.0;
        for (archetype, share) in Archetype::ALL.into_iter().zip(self.0) {
            acc += share;
            if u < acc {
                return archetype;
            }
        }
        Archetype::Casual
    }
}

/// An at-risk player's course: harm grows from `onset` over `ramp` days.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Harm {
    pub(crate) onset: f64,
    pub(crate) ramp: f64,
    /// The day they exclude themselves, if they do.
    pub(crate) excluded_on: Option<i64>,
}

/// How strongly each sign of harm shows as harm grows, 0 to 1.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Signs {
    /// Stakes and session length rise, losses chased within the session.
    pub(crate) escalation: f64,
    /// Deposits soon after losses, declined deposits, raised limits, cancelled withdrawals.
    pub(crate) payments: f64,
    /// More sessions a day, longer (under three hours) and later into the night.
    pub(crate) binge: f64,
}

/// A churner's course: play fades from day `from` over `days` days, then stops.
/// While it fades, sessions come rarer and shorter with fewer, smaller bets,
/// deposits stop, and near the end the balance is often withdrawn.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fade {
    pub(crate) from: f64,
    pub(crate) days: f64,
}

/// What stays the same about a player from day to day.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) archetype: Archetype,
    /// Chance of playing on a weekday.
    pub(crate) activity: f64,
    /// Typical stake, in cents.
    pub(crate) stake: f64,
    /// Typical session length, in minutes.
    pub(crate) minutes: f64,
    /// Bets per minute.
    pub(crate) pace: f64,
    /// Chance a session starts after midnight.
    pub(crate) night: f64,
    /// Typical deposit, in cents.
    pub(crate) deposit: f64,
    /// Index of the favourite game category.
    pub(crate) favourite: usize,
    pub(crate) harm: Option<Harm>,
    /// How harm shows, for at-risk players.
    pub(crate) signs: Signs,
    pub(crate) fade: Option<Fade>,
}

impl Profile {
    /// The profile of one player; `horizon` is the number of days simulated, which
    /// places the at-risk and churning courses inside it.
    pub(crate) fn new(random: &mut Random, mix: &Mix, horizon: f64, categories: usize) -> Self {
        let archetype = mix.pick(random.unit());
        let mut between = |low: f64, high: f64| low + (high - low) * random.unit();
        let (activity, stake, minutes, pace, deposit) = match archetype {
            Archetype::Casual => (between(0.10, 0.30), between(50.0, 300.0), between(10.0, 30.0), 0.8, 2_000.0),
            Archetype::Regular
            | Archetype::AtRisk
            | Archetype::Escalation
            | Archetype::PaymentChasing
            | Archetype::Bingeing
            | Archetype::NightShift => (between(0.35, 0.70), between(100.0, 800.0), between(15.0, 40.0), 0.8, 5_000.0),
            Archetype::BonusHunter => (between(0.40, 0.70), between(50.0, 300.0), between(15.0, 40.0), 0.8, 1_500.0),
            Archetype::HeavyRegular => {
                (between(0.75, 0.95), between(100.0, 600.0), between(100.0, 160.0), 0.8, 8_000.0)
            }
            Archetype::HighRoller => {
                (between(0.30, 0.60), between(2_000.0, 15_000.0), between(30.0, 90.0), 0.8, 100_000.0)
            }
            Archetype::Churner => (between(0.35, 0.75), between(80.0, 600.0), between(15.0, 50.0), 0.9, 3_000.0),
        };
        let night = match archetype {
            Archetype::NightShift => 0.9,
            _ if random.chance(0.1) => 0.3,
            _ => 0.03,
        };
        let pace = pace * (0.6 + 0.8 * random.unit());
        let favourite = random.range(0, categories as i64) as usize;
        let signs = match archetype {
            Archetype::Escalation => Signs { escalation: 1.0, payments: 0.15, binge: 0.2 },
            Archetype::PaymentChasing => Signs { escalation: 0.0, payments: 1.0, binge: 0.2 },
            Archetype::Bingeing => Signs { escalation: 0.1, payments: 0.1, binge: 1.0 },
            Archetype::AtRisk => {
                let mut mixed = [0.7 + 0.3 * random.unit(), 0.7 + 0.3 * random.unit(), 0.7 + 0.3 * random.unit()];
                if random.chance(0.3) {
                    mixed[random.range(0, 3) as usize] = 0.2;
                }
                Signs { escalation: mixed[0], payments: mixed[1], binge: mixed[2] }
            }
            _ => Signs::default(),
        };
        let harm = archetype.at_risk().then(|| {
            let onset = -12.0 + (horizon - 10.0).max(1.0) * random.unit();
            let ramp = 5.0 + 20.0 * random.unit();
            let excludes = random.chance(0.85);
            let day = (onset + ramp + 5.0 * random.unit()).floor() as i64;
            Harm { onset, ramp, excluded_on: excludes.then_some(day.max(1)) }
        });
        // Fades of 10 to 18 days, most ending early enough in the horizon that the
        // quiet after them shows; a few run past it.
        let fade = (archetype == Archetype::Churner)
            .then(|| Fade { from: horizon * (0.05 + 0.25 * random.unit()), days: 10.0 + 8.0 * random.unit() });
        Self { archetype, activity, stake, minutes, pace, night, deposit, favourite, harm, signs, fade }
    }

    /// How far harm has grown on `day`: 0 (none) to 1.
    pub(crate) fn harm_on(&self, day: i64) -> f64 {
        self.harm.map_or(0.0, |h| ((day as f64 - h.onset) / h.ramp).clamp(0.0, 1.0))
    }

    /// How far play has faded on `day`: 0 (not yet) to 1 (gone).
    pub(crate) fn fade_on(&self, day: i64) -> f64 {
        self.fade.map_or(0.0, |f| ((day as f64 - f.from) / f.days).clamp(0.0, 1.0))
    }

    /// Whether the player is done playing by `day`: excluded before it, or faded out.
    pub(crate) fn gone_on(&self, day: i64) -> bool {
        self.harm.and_then(|h| h.excluded_on).is_some_and(|excluded| day > excluded) || self.fade_on(day) >= 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_reads_names_and_scales_shares() {
        let mix: Mix = "casual=1, at_risk=1".parse().unwrap();
        assert_eq!(mix, Mix([0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
        assert_eq!(mix.pick(0.2), Archetype::Casual);
        assert_eq!(mix.pick(0.7), Archetype::AtRisk);
        assert_eq!("gambler=1".parse::<Mix>(), Err(MixError::Unknown("gambler".into())));
        assert_eq!("casual".parse::<Mix>(), Err(MixError::Syntax("casual".into())));
        assert_eq!("casual=-1".parse::<Mix>(), Err(MixError::Share("casual".into())));
        assert_eq!("casual=0".parse::<Mix>(), Err(MixError::Empty));
        assert_eq!("casual=0.1,regular=0.5,casual=0.9".parse::<Mix>(), Err(MixError::Repeated("casual".into())));
        assert_eq!("bingeing=1".parse::<Mix>().map(|m| m.pick(0.5)), Ok(Archetype::Bingeing));
        let default = Mix::default();
        assert!(default.0.iter().all(|share| *share > 0.0), "{default}");
        assert!((default.0.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(default.to_string().parse::<Mix>().map(|m| m.to_string()), Ok(default.to_string()));
    }
}
