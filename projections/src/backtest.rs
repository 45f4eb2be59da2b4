//! A backtest: history replayed through the same player state and policy as
//! the projection, with a given model, counting who was warned and when.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use domain::{EventData, InterventionKind, PlayerEvent};
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
    /// Whether they stopped playing: no self-exclusion, and no session started
    /// after their last for longer than [`ml::stop_quiet`] (at least a week, and
    /// four times their usual gap between starts) up to the end of the history.
    pub stopped: bool,
    /// Whether they got a retention offer (from `from`).
    pub retention_offered: bool,
    /// Whether they got one no later than the end of their last session (or
    /// during it, when it never ended): the offers that can still keep a player.
    pub offered_while_playing: bool,
}

/// Retention offers against players who stopped playing.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChurnFigures {
    /// Players who stopped playing.
    pub stopped: usize,
    /// Of those, players who got a retention offer while still playing (by the end of their last session).
    pub stopped_offered: usize,
    /// Players who got a retention offer.
    pub offered: usize,
}

impl ChurnFigures {
    /// The churn figures of these courses.
    pub fn of<'a>(courses: impl Iterator<Item = &'a Course>) -> Self {
        let mut figures = Self::default();
        for course in courses {
            figures.stopped += usize::from(course.stopped);
            figures.stopped_offered += usize::from(course.stopped && course.offered_while_playing);
            figures.offered += usize::from(course.retention_offered);
        }
        figures
    }

    /// Share of the players who stopped that got an offer, 0 to 1.
    pub fn recall(&self) -> f64 {
        self.stopped_offered as f64 / self.stopped.max(1) as f64
    }

    /// Share of the players offered who stopped, 0 to 1.
    pub fn precision(&self) -> f64 {
        self.stopped_offered as f64 / self.offered.max(1) as f64
    }
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

    /// Retention offers against stopping, over the players `include` keeps; a
    /// player counts as stopped only when `stopped` also says so (say, when the
    /// simulator's truth has them churn rather than pause).
    pub fn churn(&self, include: impl Fn(&str) -> bool, stopped: impl Fn(&str) -> bool) -> ChurnFigures {
        let courses = self.courses.iter().filter(|(player, _)| include(player));
        let courses: Vec<Course> =
            courses.map(|(player, course)| Course { stopped: course.stopped && stopped(player), ..*course }).collect();
        ChurnFigures::of(courses.iter())
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
    first_session: Option<DateTime<Utc>>,
    last_session: Option<DateTime<Utc>>,
    last_session_end: Option<DateTime<Utc>>,
    sessions: usize,
    first_offer: Option<DateTime<Utc>>,
}

impl Followed {
    /// Whether the history, ending at `end`, shows them stopped (see [`Course::stopped`]).
    fn stopped(&self, end: DateTime<Utc>) -> bool {
        let (Some(first), Some(last)) = (self.first_session, self.last_session) else { return false };
        let quiet = ml::stop_quiet(first.timestamp_millis(), last.timestamp_millis(), self.sessions);
        self.excluded_at.is_none() && (end - last).num_milliseconds() > quiet
    }

    /// Whether their first retention offer came no later than the end of their
    /// last session, or while it is still open.
    fn offered_while_playing(&self) -> bool {
        let open = match (self.last_session, self.last_session_end) {
            (Some(start), Some(end)) => start > end,
            (Some(_), None) => true,
            (None, _) => false,
        };
        self.first_offer.is_some_and(|offer| open || self.last_session_end.is_some_and(|end| offer <= end))
    }
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
    let mut end = None;
    ml::for_each_event(store, progress, |position, event| {
        let Some(event) = event else { return };
        report.events += 1;
        end = end.max(Some(event.time));
        follow(&mut players, &mut report, decider, from, position, event);
    })
    .await?;
    report.players = players.len();
    report.courses = players
        .into_iter()
        .filter(|(_, p)| p.active_from)
        .map(|(id, p)| {
            let stopped = end.is_some_and(|end| p.stopped(end));
            let course = Course {
                excluded_at: p.excluded_at,
                first_warning: p.first_warning,
                stopped,
                retention_offered: p.first_offer.is_some(),
                offered_while_playing: p.offered_while_playing(),
            };
            (id, course)
        })
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
    match event.data {
        EventData::SessionStarted { .. } => {
            player.first_session.get_or_insert(event.time);
            player.last_session = Some(event.time);
            player.sessions += 1;
        }
        EventData::SessionEnded => player.last_session_end = Some(event.time),
        _ => {}
    }
    let counted = from.is_none_or(|from| event.time >= from);
    player.active_from |= counted;
    let effect = player.state.apply(event, position, decider);
    if !counted {
        return;
    }
    if let Some(Effect::Recommended(recommendation)) = effect {
        *report.per_kind.entry(recommendation.kind.as_str()).or_default() += 1;
        let at = recommendation.created_at;
        if recommendation.kind == InterventionKind::RetentionOffer {
            player.first_offer.get_or_insert(at);
        }
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
        player.excluded_until = Some(exclusion_end(event.time, duration_days));
    }
}

/// When a self-exclusion of `days` from `time` ends: for ever, past the last
/// time chrono holds.
fn exclusion_end(time: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    time.checked_add_signed(chrono::Duration::days(i64::from(days))).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_figures_count_offers_against_players_who_stopped() {
        let course = |stopped, offered| Course {
            stopped,
            retention_offered: offered,
            offered_while_playing: offered,
            ..Course::default()
        };
        let report = Backtest {
            courses: [
                ("a", course(true, true)),
                ("b", course(true, false)),
                ("c", course(false, true)),
                ("d", course(false, false)),
                ("e", course(true, true)),
                // Offered only after the last session ended: offered, but not in time.
                ("f", Course { offered_while_playing: false, ..course(true, true) }),
            ]
            .into_iter()
            .map(|(id, c)| (id.to_owned(), c))
            .collect(),
            ..Backtest::default()
        };
        let all = report.churn(|p| p != "f", |_| true);
        assert_eq!((all.stopped, all.stopped_offered, all.offered), (3, 2, 3));
        assert!((all.recall() - 2.0 / 3.0).abs() < 1e-12 && (all.precision() - 2.0 / 3.0).abs() < 1e-12);
        let late = report.churn(|_| true, |_| true);
        assert_eq!((late.stopped, late.stopped_offered, late.offered), (4, 2, 4));
        let some = report.churn(|p| p != "e" && p != "f", |_| true);
        assert_eq!((some.stopped, some.stopped_offered, some.offered), (2, 1, 2));
        // Only a and b truly stopped: c offered and d not, as before; e now offered in vain.
        let truly = report.churn(|p| p != "f", |p| p != "e");
        assert_eq!((truly.stopped, truly.stopped_offered, truly.offered), (2, 1, 3));
        assert_eq!(ChurnFigures::default().recall(), 0.0);
    }

    #[test]
    fn a_self_exclusion_past_the_calendar_lasts_for_ever() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(exclusion_end(start, 180), start + chrono::Duration::days(180));
        assert_eq!(exclusion_end(start, u32::MAX), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn a_player_stopped_when_quiet_for_long_against_their_own_rhythm() {
        let day = |d: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(d);
        let followed = |first: i64, last: i64, sessions: usize| Followed {
            first_session: Some(day(first)),
            last_session: Some(day(last)),
            sessions,
            ..Followed::default()
        };
        // Daily play until day 20, the history ending on day 28: over a week quiet.
        assert!(followed(0, 20, 21).stopped(day(28)));
        assert!(!followed(0, 20, 21).stopped(day(27)));
        // A session every 5 days: 8 quiet days are their rhythm, 21 are a stop.
        assert!(!followed(0, 20, 5).stopped(day(28)));
        assert!(!followed(0, 20, 5).stopped(day(40)));
        assert!(followed(0, 20, 5).stopped(day(41)));
        // Excluded, or never played: no stop.
        let excluded = Followed { excluded_at: Some(day(21)), ..followed(0, 20, 21) };
        assert!(!excluded.stopped(day(40)) && !Followed::default().stopped(day(40)));
    }

    #[test]
    fn an_offer_counts_while_playing_until_the_last_session_ends() {
        let at = |h: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::hours(h);
        let followed = |offer: i64, end: Option<i64>| Followed {
            last_session: Some(at(10)),
            last_session_end: end.map(at),
            first_offer: Some(at(offer)),
            ..Followed::default()
        };
        assert!(followed(11, Some(11)).offered_while_playing());
        assert!(!followed(12, Some(11)).offered_while_playing());
        // The last session still open: any offer is within it.
        assert!(followed(30, None).offered_while_playing());
        assert!(followed(30, Some(9)).offered_while_playing());
        assert!(!Followed { first_offer: None, ..followed(0, None) }.offered_while_playing());
    }
}
