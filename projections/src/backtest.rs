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
    /// Who was warned, over every player active from `from`.
    #[serde(flatten)]
    pub figures: Figures,
    /// Marketing recommendations inside the marketing block after a safer-gambling one (the policy allows none).
    pub marketing_in_block: usize,
    /// Marketing recommendations during a self-exclusion (the policy allows none).
    pub marketing_while_excluded: usize,
    /// Recommendations made (from `from`), per kind.
    pub per_kind: BTreeMap<&'static str, usize>,
    /// Each player active from `from`: when they excluded themselves and were first warned.
    #[serde(skip)]
    pub courses: BTreeMap<String, Course>,
}

/// One player's course in a backtest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Course {
    /// Their first self-exclusion (from `from`), if any.
    pub excluded_at: Option<DateTime<Utc>>,
    /// Their first safer-gambling recommendation (before the self-exclusion, if any).
    pub first_warning: Option<DateTime<Utc>>,
}

/// Who was warned in a group of players.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Players who excluded themselves.
    pub self_excluded: usize,
    /// Of those, players warned before their first self-exclusion.
    pub warned_before_exclusion: usize,
    /// Median hours from the first warning to the self-exclusion, over those warned before.
    pub median_lead_hours: Option<f64>,
    /// Players who did not exclude themselves.
    pub others: usize,
    /// Of those, players warned (false alarms).
    pub others_warned: usize,
}

impl Figures {
    /// The figures of these courses.
    pub fn of<'a>(courses: impl Iterator<Item = &'a Course>) -> Self {
        let mut figures = Self::default();
        let mut leads = Vec::new();
        for course in courses {
            match (course.excluded_at, course.first_warning) {
                (Some(excluded), warning) => {
                    figures.self_excluded += 1;
                    if let Some(warning) = warning.filter(|w| *w <= excluded) {
                        figures.warned_before_exclusion += 1;
                        leads.push((excluded - warning).num_seconds() as f64 / 3_600.0);
                    }
                }
                (None, warning) => {
                    figures.others += 1;
                    figures.others_warned += usize::from(warning.is_some());
                }
            }
        }
        leads.sort_by(f64::total_cmp);
        figures.median_lead_hours = leads.get(leads.len() / 2).copied();
        figures
    }

    /// Share of self-excluded players warned before, 0 to 1.
    pub fn warned_share(&self) -> f64 {
        self.warned_before_exclusion as f64 / self.self_excluded.max(1) as f64
    }

    /// Share of the others warned, 0 to 1.
    pub fn false_alarm_share(&self) -> f64 {
        self.others_warned as f64 / self.others.max(1) as f64
    }
}

impl Backtest {
    /// The figures per group, `group_of` naming each player's (players without one are left out).
    pub fn by_group(&self, group_of: impl Fn(&str) -> Option<String>) -> BTreeMap<String, Figures> {
        let mut groups: BTreeMap<String, Vec<&Course>> = BTreeMap::new();
        for (player, course) in &self.courses {
            if let Some(group) = group_of(player) {
                groups.entry(group).or_default().push(course);
            }
        }
        groups.into_iter().map(|(group, courses)| (group, Figures::of(courses.into_iter()))).collect()
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
    report.courses = players
        .into_iter()
        .filter(|(_, p)| p.active_from)
        .map(|(id, p)| (id, Course { excluded_at: p.excluded_at, first_warning: p.first_warning }))
        .collect();
    report.figures = Figures::of(report.courses.values());
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
