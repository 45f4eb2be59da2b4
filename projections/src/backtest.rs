//! A backtest: history replayed through the same player state and policy as
//! the projection, with a given model, counting who was warned and when.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use domain::{EventData, PlayerEvent};
use ml::MlError;
use serde::Serialize;
use store::EventStore;

use crate::player::{Decider, Effect, PlayerState};

/// What a backtest found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Backtest {
    /// Events replayed.
    pub events: u64,
    /// Players seen.
    pub players: usize,
    /// Players who excluded themselves (counted from `from`).
    pub self_excluded: usize,
    /// Of those, players who got a safer-gambling recommendation before their first self-exclusion.
    pub warned_before_exclusion: usize,
    /// Median hours from a warned player's first safer-gambling recommendation to their self-exclusion.
    pub median_lead_hours: Option<f64>,
    /// Players active from `from` who did not exclude themselves.
    pub others: usize,
    /// Of those, players who got a safer-gambling recommendation (false alarms).
    pub others_warned: usize,
    /// Marketing recommendations inside the marketing block after a safer-gambling one (the policy allows none).
    pub marketing_in_block: usize,
    /// Marketing recommendations during a self-exclusion (the policy allows none).
    pub marketing_while_excluded: usize,
    /// Recommendations made (from `from`), per kind.
    pub per_kind: BTreeMap<&'static str, usize>,
}

impl Backtest {
    /// Share of self-excluded players warned before, 0 to 1.
    pub fn warned_share(&self) -> f64 {
        self.warned_before_exclusion as f64 / self.self_excluded.max(1) as f64
    }

    /// Share of the others warned, 0 to 1.
    pub fn false_alarm_share(&self) -> f64 {
        self.others_warned as f64 / self.others.max(1) as f64
    }
}

/// One player as the backtest follows them.
#[derive(Default)]
struct Followed {
    state: PlayerState,
    active_from: bool,
    first_warning: Option<DateTime<Utc>>,
    last_warning: Option<i64>,
    excluded_at: Option<DateTime<Utc>>,
    excluded_until: Option<DateTime<Utc>>,
}

/// Replays every stream of `store` with `decider`; counts players and
/// recommendations from `from` on (all history when `None`), the model still
/// seeing everything before it.
pub async fn backtest(
    store: Arc<dyn EventStore>,
    decider: &Decider,
    from: Option<DateTime<Utc>>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Backtest, MlError> {
    let mut players: HashMap<String, Followed> = HashMap::new();
    let mut report = Backtest::default();
    ml::for_each_event(store, progress, |position, event| {
        let Some(event) = event else { return };
        report.events += 1;
        follow(&mut players, &mut report, decider, from, position, event);
    })
    .await?;
    report.players = players.len();
    let mut leads = Vec::new();
    for player in players.values().filter(|p| p.active_from) {
        match (player.excluded_at, player.first_warning) {
            (Some(excluded), warning) => {
                report.self_excluded += 1;
                if let Some(warning) = warning.filter(|w| *w <= excluded) {
                    report.warned_before_exclusion += 1;
                    leads.push((excluded - warning).num_seconds() as f64 / 3_600.0);
                }
            }
            (None, warning) => {
                report.others += 1;
                report.others_warned += usize::from(warning.is_some());
            }
        }
    }
    leads.sort_by(f64::total_cmp);
    report.median_lead_hours = leads.get(leads.len() / 2).copied();
    Ok(report)
}

fn follow(
    players: &mut HashMap<String, Followed>,
    report: &mut Backtest,
    decider: &Decider,
    from: Option<DateTime<Utc>>,
    position: u64,
    event: &PlayerEvent,
) {
    let player = players.entry(event.player_id.as_str().to_owned()).or_default();
    let counted = from.is_none_or(|from| event.time >= from);
    player.active_from |= counted;
    let effect = player.state.apply(event, position, decider);
    if !counted {
        return;
    }
    if let Some(Effect::Recommended(recommendation)) = effect {
        *report.per_kind.entry(recommendation.kind.as_str()).or_default() += 1;
        let at = recommendation.created_at;
        if recommendation.kind.is_marketing() {
            let time = at.timestamp_millis();
            report.marketing_in_block +=
                usize::from(player.last_warning.is_some_and(|warned| decider.policy.blocks_marketing(warned, time)));
            report.marketing_while_excluded += usize::from(player.excluded_until.is_some_and(|until| at < until));
        } else {
            player.last_warning = Some(at.timestamp_millis());
            if player.excluded_at.is_none() {
                player.first_warning.get_or_insert(at);
            }
        }
    }
    if let EventData::SelfExcluded { duration_days } = event.data {
        player.excluded_at.get_or_insert(event.time);
        player.excluded_until = Some(event.time + chrono::Duration::days(i64::from(duration_days)));
    }
}
