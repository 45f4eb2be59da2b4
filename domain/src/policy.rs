//! The intervention policy: what, if anything, to recommend to a player right
//! after one of their events, from their features and the model's scores. The
//! guardrails come first and no score overrides them: no marketing to a
//! self-excluded player, one at risk of harm or one given a safer-gambling
//! intervention lately (the marketing block), a reality check after three
//! hours of play with or without a model, and a cooldown for every kind.

mod markers;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::{EventData, Features};

pub use markers::{Marker, Markers};

/// A session this long (seconds) gets a reality check, model or not.
pub const LONG_SESSION_SECONDS: i64 = 3 * 3_600;

/// Days after a safer-gambling intervention during which no marketing kind goes to the player.
pub const MARKETING_BLOCK_DAYS: u32 = 30;

const DAY_MS: i64 = 24 * 3_600 * 1_000;

/// What nudge can recommend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InterventionKind {
    /// Show the player how long they have played and what they spent (safer gambling).
    RealityCheck,
    /// Suggest a deposit limit (safer gambling).
    DepositLimitSuggestion,
    /// Offer a break from play (safer gambling).
    CoolOff,
    /// An offer to a player about to leave (marketing).
    RetentionOffer,
    /// A game to a player starting to play (marketing).
    GameRecommendation,
}

impl InterventionKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::RealityCheck,
        Self::DepositLimitSuggestion,
        Self::CoolOff,
        Self::RetentionOffer,
        Self::GameRecommendation,
    ];

    /// The kind as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RealityCheck => "reality_check",
            Self::DepositLimitSuggestion => "deposit_limit_suggestion",
            Self::CoolOff => "cool_off",
            Self::RetentionOffer => "retention_offer",
            Self::GameRecommendation => "game_recommendation",
        }
    }

    /// Reads a kind as the API writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the kind sells play rather than protects the player.
    pub fn is_marketing(self) -> bool {
        matches!(self, Self::RetentionOffer | Self::GameRecommendation)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which rule of the policy made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A session of three hours or more (a hard rule, no model needed).
    LongSession,
    /// Harm risk at or over its threshold.
    HarmRisk,
    /// Churn risk at or over its threshold.
    ChurnRisk,
    /// A session started and a game suits the player.
    SessionStart,
    /// Three or more (`--marker-declined-deposits`) declined deposits in 24 hours.
    #[serde(rename = "marker:declined_deposits")]
    MarkerDeclinedDeposits,
    /// Three or more (`--marker-deposits-after-loss`) deposits within 10 minutes of a losing settlement in 24 hours.
    #[serde(rename = "marker:deposits_after_loss")]
    MarkerDepositsAfterLoss,
    /// A deposit limit raised twice or more (`--marker-deposit-limit-raises`) in 7 days.
    #[serde(rename = "marker:deposit_limit_raised")]
    MarkerDepositLimitRaised,
}

impl Rule {
    /// The rule as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LongSession => "long_session",
            Self::HarmRisk => "harm_risk",
            Self::ChurnRisk => "churn_risk",
            Self::SessionStart => "session_start",
            Self::MarkerDeclinedDeposits => "marker:declined_deposits",
            Self::MarkerDepositsAfterLoss => "marker:deposits_after_loss",
            Self::MarkerDepositLimitRaised => "marker:deposit_limit_raised",
        }
    }
}

/// The active model's view of a player: risks and the thresholds they are judged by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// P(self-exclusion within 7 days).
    pub harm: f64,
    /// P(stopping play within 7 days: a week with no session begins by then).
    pub churn: f64,
    /// Harm risk at or over this is harm.
    pub harm_threshold: f64,
    /// Churn risk at or over this is churn.
    pub churn_threshold: f64,
}

impl Assessment {
    /// Whether the harm risk is at or over its threshold.
    pub fn at_risk(&self) -> bool {
        self.harm >= self.harm_threshold
    }
}

/// How long after recommending a kind to a player the policy stays silent about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooldowns {
    seconds: [i64; 5],
}

impl Default for Cooldowns {
    /// 60 minutes for reality checks, 24 hours for the other kinds.
    fn default() -> Self {
        let mut seconds = [24 * 3_600; 5];
        seconds[InterventionKind::RealityCheck.index()] = 3_600;
        Self { seconds }
    }
}

impl Cooldowns {
    /// The same cooldowns with `kind`'s set to `seconds` (at least 0).
    pub fn with(mut self, kind: InterventionKind, seconds: i64) -> Self {
        self.seconds[kind.index()] = seconds.max(0);
        self
    }

    /// The cooldown of `kind`, in seconds.
    pub fn of(&self, kind: InterventionKind) -> i64 {
        self.seconds[kind.index()]
    }
}

/// When each kind was last recommended to a player (event time, milliseconds
/// since the epoch): the policy's memory, kept with the player's features.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    last: [Option<i64>; 5],
}

impl Recent {
    /// When `kind` was last recommended.
    pub fn last(&self, kind: InterventionKind) -> Option<i64> {
        self.last[kind.index()]
    }

    /// When a safer-gambling kind was last recommended.
    pub fn last_safer_gambling(&self) -> Option<i64> {
        InterventionKind::ALL.into_iter().filter(|k| !k.is_marketing()).filter_map(|k| self.last(k)).max()
    }

    /// Notes that `kind` was recommended at `time`.
    pub fn record(&mut self, kind: InterventionKind, time: i64) {
        self.last[kind.index()] = Some(time);
    }
}

/// What the policy knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The player's features right after the event.
    pub features: &'a Features,
    /// The event.
    pub event: &'a EventData,
    /// Its time, in milliseconds since the epoch.
    pub time: i64,
    /// The active model's assessment; none without a model.
    pub assessment: Option<Assessment>,
    /// A game from the player's favourite category that similar players play and
    /// this player has not launched, if there is one.
    pub game: Option<&'a str>,
    /// What the player was recommended lately.
    pub recent: &'a Recent,
}

/// A recommendation to make, and the rule that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What to recommend.
    pub kind: InterventionKind,
    /// Why.
    pub rule: Rule,
}

/// The policy, with its cooldowns, its markers and its marketing block.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    cooldowns: Cooldowns,
    markers: Markers,
    marketing_block_ms: i64,
}

impl Default for Policy {
    /// The default cooldowns and markers, and a block of [`MARKETING_BLOCK_DAYS`].
    fn default() -> Self {
        Self::new(Cooldowns::default())
    }
}

impl Policy {
    /// A policy with these cooldowns, the default markers and the default marketing block.
    pub fn new(cooldowns: Cooldowns) -> Self {
        Self { cooldowns, markers: Markers::default(), marketing_block_ms: i64::from(MARKETING_BLOCK_DAYS) * DAY_MS }
    }

    /// The same policy with these markers.
    pub fn with_markers(mut self, markers: Markers) -> Self {
        self.markers = markers;
        self
    }

    /// The same policy with a marketing block of `days` after each safer-gambling intervention.
    pub fn with_marketing_block(mut self, days: u32) -> Self {
        self.marketing_block_ms = i64::from(days) * DAY_MS;
        self
    }

    /// Whether a player given a safer-gambling kind at `warned` (ms) is still in the marketing block at `time` (ms).
    pub fn blocks_marketing(&self, warned: i64, time: i64) -> bool {
        time < warned.saturating_add(self.marketing_block_ms)
    }

    /// Whether the policy looks at a player after this event: session starts and
    /// ends, deposits, limit changes, and every event of a session open for three
    /// hours or more.
    pub fn looks_at(event: &EventData, open_session_seconds: Option<i64>) -> bool {
        matches!(
            event,
            EventData::SessionStarted { .. }
                | EventData::SessionEnded
                | EventData::DepositSucceeded { .. }
                | EventData::DepositFailed { .. }
                | EventData::LimitChanged { .. }
        ) || open_session_seconds.is_some_and(|s| s >= LONG_SESSION_SECONDS)
    }

    /// Decides what to recommend, if anything.
    pub fn decide(&self, situation: &Situation<'_>) -> Option<Decision> {
        let features = situation.features;
        let self_excluded = match (features.self_excluded_until, features.last_seen) {
            (Some(until), Some(last)) => until > last,
            _ => false,
        };
        let at_risk = situation.assessment.is_some_and(|a| a.at_risk());
        let blocked = situation.recent.last_safer_gambling().is_some_and(|t| self.blocks_marketing(t, situation.time));
        let allowed = |kind: InterventionKind| {
            let cooling =
                situation.recent.last(kind).is_some_and(|t| situation.time < t + self.cooldowns.of(kind) * 1_000);
            !cooling && !(kind.is_marketing() && (self_excluded || at_risk || blocked))
        };
        let decision = |kind, rule| allowed(kind).then_some(Decision { kind, rule });

        if features.in_session
            && features.session_seconds >= LONG_SESSION_SECONDS
            && let Some(decision) = decision(InterventionKind::RealityCheck, Rule::LongSession)
        {
            return Some(decision);
        }
        if let Some(assessment) = situation.assessment.filter(Assessment::at_risk) {
            return decision(severity(&assessment), Rule::HarmRisk);
        }
        if let Some(decision) = self.markers.met(features).find_map(|m| decision(m.kind(), m.rule())) {
            return Some(decision);
        }
        let assessment = situation.assessment?;
        if assessment.churn >= assessment.churn_threshold
            && let Some(decision) = decision(InterventionKind::RetentionOffer, Rule::ChurnRisk)
        {
            return Some(decision);
        }
        if matches!(situation.event, EventData::SessionStarted { .. }) && situation.game.is_some() {
            return decision(InterventionKind::GameRecommendation, Rule::SessionStart);
        }
        None
    }
}

/// The safer-gambling kind for a harm risk over its threshold, by how far over:
/// the lower third of the way to 1 a reality check, the middle a deposit limit
/// suggestion, the top a cool-off.
fn severity(assessment: &Assessment) -> InterventionKind {
    let over = (assessment.harm - assessment.harm_threshold) / (1.0 - assessment.harm_threshold).max(f64::EPSILON);
    if over < 1.0 / 3.0 {
        InterventionKind::RealityCheck
    } else if over < 2.0 / 3.0 {
        InterventionKind::DepositLimitSuggestion
    } else {
        InterventionKind::CoolOff
    }
}
