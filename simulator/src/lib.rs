//! A seeded population of players and their events, day by day. Each player has
//! an archetype that shapes their rhythm: how often they play and when, how long,
//! how fast, for what stakes, how they deposit and withdraw. At-risk players follow
//! a pathway of harm (escalation, payment chasing, bingeing, or a mix), starting
//! at different times and speeds, and most exclude themselves; confounders look
//! risky but are not (high rollers, night-shift players, bonus hunters, heavy
//! regulars); casual players and regulars play, churners fade out. Archetypes
//! never show in the events: they go to a separate ground truth.

mod archetype;
mod day;
mod random;
mod recommendation;

use std::io::{self, Write};

use chrono::{DateTime, Duration, Utc};
use domain::{PlayerEvent, PlayerId};
use store::{EventStore, StoreError, StreamAppend};

use archetype::Profile;
pub use archetype::{Archetype, Mix, MixError};
use day::CATEGORIES;
use day::Day;
pub use recommendation::recommendation;

use random::Random;

/// Gaming days begin at 06:00 UTC.
const DAY_BEGINS: Duration = Duration::hours(6);

/// A population of players whose events follow from a seed.
#[derive(Debug, Clone)]
pub struct Population {
    players: u64,
    seed: u64,
    start: DateTime<Utc>,
    mix: Mix,
    horizon: u32,
}

/// What the simulator knows about a player and the events do not say.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// The player.
    pub player_id: String,
    /// Their archetype.
    pub archetype: Archetype,
    /// The day harm began to grow (at-risk players; may be before day 0).
    pub harm_onset_day: Option<f64>,
    /// The day they excluded themselves, if they did within the horizon.
    pub self_exclusion_day: Option<i64>,
    /// The day play began to fade (churners).
    pub fade_from_day: Option<f64>,
}

impl Population {
    /// `players` players with the default mix over a 30-day horizon, from `start`
    /// (the first day's midnight; gaming days run from 06:00 to 06:00).
    pub fn new(players: u64, seed: u64, start: DateTime<Utc>) -> Self {
        Self { players, seed, start, mix: Mix::default(), horizon: 30 }
    }

    /// The same population with another archetype mix.
    pub fn with_mix(self, mix: Mix) -> Self {
        Self { mix, ..self }
    }

    /// The same population with at-risk and churning courses placed within `days`.
    pub fn with_horizon(self, days: u32) -> Self {
        Self { horizon: days.max(1), ..self }
    }

    /// How many players.
    pub fn players(&self) -> u64 {
        self.players
    }

    /// Every event of day `day` (from 0), in time order; one player's events are
    /// also in the order they happened, and all before those of the next day.
    pub fn day(&self, day: u32) -> Vec<PlayerEvent> {
        let mut events = Vec::new();
        let begins = self.start + Duration::days(i64::from(day)) + DAY_BEGINS;
        for player in 0..self.players {
            let profile = self.profile(player);
            let Ok(player_id) = PlayerId::parse(&format!("p{player}")) else { continue };
            let random = Random::new(
                self.seed.rotate_left(17)
                    ^ player.wrapping_mul(0x9E37_79B9)
                    ^ u64::from(day).wrapping_mul(0xD6E8_FEB8_6659_FD93),
            );
            Day::new(&profile, player_id, i64::from(day), begins, random, &mut events).play();
        }
        events.sort_by_key(|event| event.time);
        events
    }

    /// Every player's archetype and course.
    pub fn truth(&self) -> Vec<Truth> {
        (0..self.players)
            .map(|player| {
                let profile = self.profile(player);
                Truth {
                    player_id: format!("p{player}"),
                    archetype: profile.archetype,
                    harm_onset_day: profile.harm.map(|h| h.onset),
                    self_exclusion_day: profile
                        .harm
                        .and_then(|h| h.excluded_on)
                        .filter(|day| *day < i64::from(self.horizon)),
                    fade_from_day: profile.fade.map(|f| f.from),
                }
            })
            .collect()
    }

    /// Writes [`Population::truth`] as CSV with a header line.
    pub fn write_truth(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "player_id,archetype,pathway,harm_onset_day,self_exclusion_day,fade_from_day")?;
        let optional = |value: Option<String>| value.unwrap_or_default();
        for truth in self.truth() {
            writeln!(
                out,
                "{},{},{},{},{},{}",
                truth.player_id,
                truth.archetype,
                if truth.archetype.at_risk() { truth.archetype.as_str() } else { "" },
                optional(truth.harm_onset_day.map(|d| format!("{d:.2}"))),
                optional(truth.self_exclusion_day.map(|d| d.to_string())),
                optional(truth.fade_from_day.map(|d| format!("{d:.2}"))),
            )?;
        }
        Ok(())
    }

    /// Appends `events` to their players' streams, a thousand to a call.
    pub async fn append(store: &dyn EventStore, events: &[PlayerEvent]) -> Result<(), StoreError> {
        for chunk in events.chunks(1_000) {
            store.append(StreamAppend::per_stream(chunk.to_vec())?.0).await?;
        }
        Ok(())
    }

    fn profile(&self, player: u64) -> Profile {
        let mut random = Random::new(self.seed ^ player.wrapping_mul(0x2545_F491_4F6C_DD1D));
        Profile::new(&mut random, &self.mix, f64::from(self.horizon), CATEGORIES.len())
    }
}

#[cfg(test)]
mod tests;
