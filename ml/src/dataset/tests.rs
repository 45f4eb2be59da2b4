use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{Channel, Currency, EventData, Money, PlayerEvent, PlayerId};
use proptest::prelude::*;
use serde_json::Map;

use super::*;
use simulator::Population;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap()
}

fn event(player: &str, n: u32, hours: i64, data: EventData) -> PlayerEvent {
    PlayerEvent {
        id: format!("{player}-{n}"),
        source: "/test".into(),
        player_id: PlayerId::parse(player).unwrap(),
        time: start() + Duration::hours(hours),
        data,
        extra: Map::new(),
        extensions: Default::default(),
    }
}

#[test]
fn points_are_labelled_from_later_events_only() {
    let started = || EventData::SessionStarted { channel: Channel::Web };
    let ended = || EventData::SessionEnded;
    let deposit = EventData::DepositSucceeded { amount: Money { amount: 1_000, currency: Currency::EUR } };
    let day = 24;
    let events = [
        event("a", 1, 0, started()),
        event("a", 2, 1, ended()), // point: excluded 6 days later (no churn to tell)
        event("a", 3, 49, started()),
        event("a", 4, 50, deposit.clone()), // point: excluded 5 days later
        event("a", 5, 6 * day + 1, EventData::SelfExcluded { duration_days: 90 }),
        event("c", 1, 0, started()),
        event("c", 2, 1, ended()), // point: one more session 3 days later, then none: stops
        event("c", 3, 3 * day, started()),
        event("c", 4, 3 * day + 1, ended()), // point: none after: stops
        event("d", 1, 0, started()),
        event("d", 2, 1, ended()), // point: sessions every 5 days: plays on
        event("d", 3, 5 * day, started()),
        event("d", 4, 10 * day, started()),
        event("d", 5, 10 * day + 1, ended()), // point: 8 days without a session, under four of their gaps: plays on
        event("d", 6, 18 * day + 2, started()),
        event("b", 1, 30 * day, started()),
        event("b", 2, 30 * day + 1, ended()), // point: 2 days before the end
        event("b", 3, 32 * day + 1, deposit),
    ];
    let set = TrainingSet::of(&events);
    let labels: Vec<(Option<bool>, Option<bool>)> = set.points.iter().map(|p| (p.harm, p.churn)).collect();
    let (yes, no) = (Some(true), Some(false));
    assert_eq!(
        labels,
        [(yes, None), (yes, None), (no, yes), (no, yes), (no, no), (no, no), (None, None), (None, None)]
    );
    assert_eq!((set.events, set.players, set.positions), (18, 4, (1, 18)));
}

#[test]
fn a_player_stops_when_a_quiet_spell_long_for_them_begins_within_the_horizon() {
    let day = 24 * HOUR;
    let end = 100 * day;
    // Sessions every 2 days from day 0: never a quiet spell.
    let steady: Vec<i64> = (0..50).map(|n| n * 2 * day).collect();
    assert_eq!(stops(&steady, &[], day, end), Some(false));
    // The last session 7 days after the point, then none: it began within the horizon.
    assert_eq!(stops(&[0, 7 * day], &[], 0, end), Some(true));
    // The last one just after the horizon: not within it.
    assert_eq!(stops(&[0, 4 * day, 7 * day + 1], &[], 0, end), Some(false));
    // A gap of exactly 7 days is no quiet spell; one a millisecond longer is, from the point on.
    assert_eq!(stops(&[0, 7 * day, 12 * day], &[], 0, end), Some(false));
    assert_eq!(stops(&[0, 7 * day + 1, 12 * day], &[], 0, end), Some(true));
    // A player who starts a session every 5 days: a 19-day pause is under four usual gaps, 21 days is over.
    let five: Vec<i64> = (0..4).map(|n| n * 5 * day).collect();
    let pause = |days: i64| [five.clone(), vec![15 * day + days * day]].concat();
    assert_eq!(stops(&pause(19), &[], 14 * day, end), Some(false));
    assert_eq!(stops(&pause(21), &[], 14 * day, end), Some(true));
    // Back after a stop: the point of the return is no stop.
    let back: Vec<i64> = [0].into_iter().chain((20..100).map(|d| d * day)).collect();
    assert_eq!(stops(&back, &[], 19 * day, end), Some(false));
    // Too close to the end, no session yet, or a self-exclusion before it is told: unknown.
    assert_eq!(stops(&[0, 95 * day], &[], 94 * day, end), None);
    assert_eq!(stops(&[], &[], 0, end), None);
    assert_eq!(stops(&[0], &[5 * day], 0, end), None);
    assert_eq!(stops(&[0], &[15 * day], 0, end), Some(true));
}

#[test]
fn the_quiet_that_stops_a_player_follows_their_rhythm() {
    let day = 24 * HOUR;
    assert_eq!(stop_quiet(0, 0, 1), CHURN_QUIET);
    assert_eq!(stop_quiet(0, 10 * day, 11), CHURN_QUIET);
    assert_eq!(stop_quiet(0, 30 * day, 4), 40 * day);
}

#[test]
fn games_rank_by_players_within_their_category() {
    let launch =
        |game: &str, category: &str| EventData::GameLaunched { game_id: game.into(), category: category.into() };
    let events = [
        event("a", 1, 0, launch("slots-2", "slots")),
        event("a", 2, 0, launch("slots-2", "slots")),
        event("a", 3, 0, launch("slots-1", "slots")),
        event("b", 1, 0, launch("slots-1", "slots")),
        event("c", 1, 0, launch("slots-1", "slots")),
        event("c", 2, 0, launch("live-1", "live")),
    ];
    let set = TrainingSet::of(&events);
    assert_eq!(set.games["slots"], ["slots-1", "slots-2"]);
    assert_eq!(set.games["live"], ["live-1"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Whatever follows a moment, the points up to it keep their inputs.
    #[test]
    fn later_events_never_change_a_points_inputs(seed in 0u64..1_000, cut_hours in 24i64..(24 * 6)) {
        let population = Population::new(40, 7, start());
        let other = Population::new(40, seed + 8, start());
        let cut = start() + Duration::hours(cut_hours);
        let days = |p: &Population| (0..7).flat_map(|d| p.day(d)).collect::<Vec<_>>();
        let original = days(&population);
        let mut changed: Vec<PlayerEvent> = original.iter().filter(|e| e.time <= cut).cloned().collect();
        changed.extend(days(&other).into_iter().filter(|e| e.time > cut));
        let (a, b) = (TrainingSet::of(&original), TrainingSet::of(&changed));
        let before = |set: &TrainingSet| -> Vec<(u64, [f64; INPUTS])> {
            set.points.iter().filter(|p| p.time <= cut.timestamp_millis()).map(|p| (p.position, p.inputs)).collect()
        };
        prop_assert!(!before(&a).is_empty());
        prop_assert_eq!(before(&a), before(&b));
    }
}
