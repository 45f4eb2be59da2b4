//! Every feature, against values worked out by hand.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Map;

use super::*;
use crate::{Channel, Currency, LimitKind, LimitPeriod, Money, PlayerId};

pub(super) const D: i64 = 24 * 60;

/// 2026-11-02T12:00:00Z plus `minutes`.
pub(super) fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).single().unwrap() + chrono::Duration::minutes(minutes)
}

pub(super) fn eur(amount: i64) -> Money {
    Money { amount, currency: Currency::parse("EUR").unwrap() }
}

pub(super) fn event(time: DateTime<Utc>, data: EventData) -> PlayerEvent {
    PlayerEvent {
        id: format!("e-{}", time.timestamp_millis()),
        source: "/test".to_owned(),
        player_id: PlayerId::parse("p-1").unwrap(),
        time,
        data,
        extra: Map::new(),
        extensions: Default::default(),
    }
}

pub(super) fn started() -> EventData {
    EventData::SessionStarted { channel: Channel::Web }
}
pub(super) fn deposit(amount: i64) -> EventData {
    EventData::DepositSucceeded { amount: eur(amount) }
}
pub(super) fn failed_deposit() -> EventData {
    EventData::DepositFailed { amount: eur(100), reason: "declined".to_owned() }
}
pub(super) fn launch(category: &str) -> EventData {
    EventData::GameLaunched { game_id: "g".to_owned(), category: category.to_owned() }
}
pub(super) fn bet(id: &str, stake: i64) -> EventData {
    EventData::BetPlaced { bet_id: id.to_owned(), game_id: "g".to_owned(), stake: eur(stake) }
}
pub(super) fn settle(id: &str, payout: i64) -> EventData {
    EventData::BetSettled { bet_id: id.to_owned(), game_id: "g".to_owned(), payout: eur(payout) }
}
pub(super) fn limit(kind: LimitKind, amount: i64) -> EventData {
    EventData::LimitChanged { kind, amount, period: LimitPeriod::Week }
}

/// Folds events given as (minutes after the base time, data).
pub(super) fn fold(events: Vec<(i64, EventData)>) -> Features {
    fold_at(events.into_iter().map(|(minutes, data)| (at(minutes), data)).collect())
}

fn fold_at(events: Vec<(DateTime<Utc>, EventData)>) -> Features {
    let mut state = PlayerFeatures::default();
    for (time, data) in events {
        state.apply(&event(time, data));
    }
    state.features()
}

#[test]
fn a_player_without_events_has_neutral_features() {
    let f = PlayerFeatures::default().features();
    assert_eq!((f.bet_count, f.first_seen, f.in_session, f.favourite_category), (0, None, false, None));
    assert_eq!((f.stake_escalation, f.loss_chasing, f.night_bet_share_7d), (1.0, 1.0, 0.0));
    assert_eq!((f.session_rate_trend, f.session_minutes_trend, f.session_gap_trend), (1.0, 1.0, 1.0));
}

#[test]
fn lifetime_totals_count_succeeded_deposits_requested_withdrawals_and_every_bet() {
    let f = fold(vec![
        (
            0,
            EventData::Registered {
                country: crate::Country::parse("MT").unwrap(),
                currency: eur(0).currency,
                birth_year: None,
            },
        ),
        (1, deposit(5000)),
        (2, failed_deposit()),
        (3, EventData::WithdrawalRequested { amount: eur(2000) }),
        (4, EventData::WithdrawalCancelled { amount: eur(2000) }),
        (5, bet("b1", 100)),
        (6, settle("b1", 250)),
        (7, bet("b2", 300)),
        (8, settle("b2", 0)),
        // Late: counts, and moves first_seen back but not last_seen.
        (-10, deposit(1)),
    ]);
    assert_eq!((f.deposit_total, f.deposit_count, f.withdrawal_total), (5001, 2, 2000));
    assert_eq!((f.bet_count, f.stake_total, f.payout_total, f.net_loss), (2, 400, 250, 150));
    assert_eq!((f.first_seen, f.last_seen), (Some(at(-10)), Some(at(8))));
}

#[test]
fn session_features_follow_the_open_session_then_keep_the_last_one() {
    let open = vec![(0, started()), (1, bet("a", 100)), (2, settle("a", 40)), (3, bet("b", 200))];
    let f = fold(open.clone());
    assert!(f.in_session);
    assert_eq!(f.session_started_at, Some(at(0)));
    assert_eq!((f.session_seconds, f.session_bet_count, f.session_stake, f.session_net_loss), (180, 2, 300, 260));

    let mut ended = open;
    ended.extend([(10, EventData::SessionEnded), (20, bet("c", 999))]);
    let f = fold(ended.clone());
    assert!(!f.in_session);
    assert_eq!((f.session_seconds, f.session_bet_count, f.session_stake, f.session_net_loss), (600, 2, 300, 260));

    ended.extend([(30, started()), (32, launch("slots"))]);
    let f = fold(ended);
    assert_eq!((f.in_session, f.session_started_at), (true, Some(at(30))));
    assert_eq!((f.session_seconds, f.session_bet_count, f.session_stake, f.session_net_loss), (120, 0, 0, 0));
}

#[test]
fn a_session_started_while_one_is_open_ends_it() {
    let f = fold(vec![(0, started()), (5, started()), (6, EventData::SessionEnded)]);
    // 0-5 and 5-6: 3 minutes on average.
    assert_eq!((f.sessions_7d, f.avg_session_minutes_7d, f.session_seconds), (2, 3.0, 60));
}

#[test]
fn session_counts_lengths_and_gaps_over_their_windows() {
    let f = fold(vec![
        (0, started()),
        (30, EventData::SessionEnded),
        (5 * D, started()),
        (5 * D + 60, EventData::SessionEnded),
        (8 * D, started()),
        (8 * D + 90, EventData::SessionEnded),
        (8 * D + 100, started()),
        (8 * D + 120, launch("slots")),
    ]);
    // The first session is 8 days old; the open one has run 20 minutes.
    assert_eq!((f.sessions_7d, f.sessions_24h), (3, 2));
    assert!((f.avg_session_minutes_7d - (60.0 + 90.0 + 20.0) / 3.0).abs() < 1e-9);
    assert_eq!(f.days_between_sessions, Some(100.0 / 1440.0));
    assert_eq!((f.in_session, f.session_seconds), (true, 1200));
    assert_eq!(fold(vec![(0, started())]).days_between_sessions, None);
}

#[test]
fn a_fading_player_reads_below_their_own_rhythm() {
    // Seen from a deposit 10 days before daily hour-long sessions on days 0 to 20, then one of
    // 15 minutes after a five-day gap, on day 25.
    let mut events = vec![(-10 * D, deposit(100))];
    events.extend((0..21).flat_map(|day| [(day * D, started()), (day * D + 60, EventData::SessionEnded)]));
    events.extend([(25 * D, started()), (25 * D + 15, EventData::SessionEnded)]);
    let f = fold(events);
    // The last 7 days hold days 19, 20 and 25; the 21 days before them days 0 to 18.
    assert_eq!((f.sessions_7d, f.sessions_28d), (3, 22));
    // 19 earlier sessions over 21 days of baseline; (3 + 1) / (19 / 3 + 1).
    assert!((f.session_rate_trend - 4.0 / (19.0 / 3.0 + 1.0)).abs() < 1e-9, "{}", f.session_rate_trend);
    // The last week: 60, 60 and 15 minutes, 45 on average, against 60.
    assert!((f.session_minutes_trend - 0.75).abs() < 1e-9, "{}", f.session_minutes_trend);
    // A gap of 5 days against 1 day between the earlier starts.
    assert!((f.session_gap_trend - 5.0).abs() < 1e-9, "{}", f.session_gap_trend);
    // Seen for under 10 days: no rhythm of their own yet.
    let young = fold(vec![(0, started()), (D, started()), (8 * D, started())]);
    assert_eq!(young.session_rate_trend, 1.0);
    assert!((young.session_gap_trend - 7.0).abs() < 1e-9);
}

#[test]
fn windows_reach_back_from_the_latest_event_and_exclude_their_boundary() {
    let now = 25 * 60;
    let f = fold(vec![
        (now - 7 * D, deposit(7)),
        (0, bet("b3", 50)),
        (10, deposit(3000)),
        (60, settle("b3", 70)),
        (now - 120, bet("b1", 100)),
        (now - 30, bet("b2", 200)),
        (now - 20, settle("b1", 500)),
        (now, deposit(1000)),
    ]);
    assert_eq!((f.stake_1h, f.bets_1h, f.net_loss_1h), (200, 1, -300));
    assert_eq!((f.stake_24h, f.bets_24h, f.net_loss_24h), (300, 2, -200));
    assert_eq!((f.deposit_amount_24h, f.deposit_count_24h), (1000, 1));
    assert_eq!((f.deposit_amount_7d, f.deposit_count_7d), (4000, 2));
}

#[test]
fn loss_streak_counts_losing_settlements_in_a_row() {
    let mut events = vec![(0, bet("a", 100)), (1, settle("a", 0)), (2, bet("b", 100)), (3, settle("b", 50))];
    assert_eq!(fold(events.clone()).loss_streak, 2);
    events.extend([(4, bet("c", 100)), (5, settle("c", 100))]);
    assert_eq!(fold(events.clone()).loss_streak, 0, "a push resets");
    events.extend([(6, bet("d", 100)), (7, settle("d", 0))]);
    assert_eq!(fold(events.clone()).loss_streak, 1);
    events.push((8, settle("never-placed", 0)));
    assert_eq!(fold(events).loss_streak, 0, "an unknown bet resets");
}

#[test]
fn deposits_within_ten_minutes_of_a_losing_settlement_are_marked() {
    let mut events = vec![
        (0, bet("a", 100)),
        (1, settle("a", 0)),
        (5, deposit(10)),
        (12, deposit(10)),
        (13, bet("b", 100)),
        (20, settle("b", 0)),
        (30, deposit(10)),
    ];
    assert_eq!(fold(events.clone()).deposits_after_loss_24h, 2);
    events.push((5 + D, launch("slots")));
    assert_eq!(fold(events).deposits_after_loss_24h, 1, "the one at minute 5 left the window");
}

#[test]
fn failed_deposits_and_cancelled_withdrawals_count_over_their_windows() {
    let cancel = || EventData::WithdrawalCancelled { amount: eur(10) };
    let f = fold(vec![(0, failed_deposit()), (10, failed_deposit()), (0, cancel()), (D + 5, launch("x"))]);
    assert_eq!((f.failed_deposits_24h, f.cancelled_withdrawals_30d), (1, 1));
    let f = fold(vec![(0, cancel()), (29 * D, cancel())]);
    assert_eq!(f.cancelled_withdrawals_30d, 2);
    let f = fold(vec![(0, cancel()), (29 * D, cancel()), (30 * D + 5, launch("x"))]);
    assert_eq!(f.cancelled_withdrawals_30d, 1);
}

#[test]
fn night_bets_are_those_placed_between_midnight_and_six_utc() {
    let day = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 11, 3, h, m, 0).single().unwrap();
    let f = fold_at(vec![
        (day(2, 0), bet("a", 1)),
        (day(5, 59), bet("b", 1)),
        (day(6, 0), bet("c", 1)),
        (day(23, 0), bet("d", 1)),
    ]);
    assert_eq!(f.night_bet_share_7d, 0.5);
}

#[test]
fn stake_escalation_compares_this_sessions_mean_stake_with_the_lifetime_mean_before_it() {
    let f = fold(vec![(0, bet("a", 100)), (1, bet("b", 300)), (2, started()), (3, bet("c", 400)), (4, bet("d", 600))]);
    assert_eq!(f.stake_escalation, 2.5);
    assert_eq!(fold(vec![(0, started()), (1, bet("a", 100))]).stake_escalation, 1.0, "no history");
    assert_eq!(fold(vec![(0, bet("a", 100))]).stake_escalation, 1.0, "no session");
}

#[test]
fn loss_chasing_compares_first_bets_after_losses_with_first_bets_after_other_settlements() {
    let events = vec![
        (0, bet("a", 100)),
        (1, settle("a", 0)),
        (2, bet("b", 300)),
        (3, bet("c", 1000)),
        (4, settle("b", 500)),
        (5, bet("d", 100)),
        (6, settle("d", 0)),
        (7, bet("e", 500)),
    ];
    // After a loss: b 300, e 500 (mean 400). After a win: d 100. c is neither.
    assert_eq!(fold(events.clone()).loss_chasing, 4.0);
    assert_eq!(fold(events[..4].to_vec()).loss_chasing, 1.0, "nothing after other settlements");
    let mut week_later = events;
    week_later.push((7 + 7 * D - 1, launch("x")));
    // Only e (7 days minus a minute old) is still inside; b and d are out.
    assert_eq!(fold(week_later).loss_chasing, 1.0);
}

#[test]
fn limit_raises_count_against_the_previous_limit_of_the_same_kind() {
    let events = vec![
        (0, limit(LimitKind::Deposit, 1000)),
        (1, limit(LimitKind::Deposit, 2000)),
        (2, limit(LimitKind::Loss, 500)),
        (3, limit(LimitKind::Deposit, 1500)),
        (4, limit(LimitKind::Loss, 700)),
        (5, limit(LimitKind::Session, 60)),
    ];
    let f = fold(events.clone());
    assert_eq!((f.limit_increases_30d, f.deposit_limit_raises_7d, f.deposit_limit), (2, 1, Some(1500)));
    let mut week = events.clone();
    week.push((1 + 7 * D, launch("x")));
    assert_eq!((fold(week).limit_increases_30d, fold(vec![(0, launch("x"))]).deposit_limit_raises_7d), (2, 0));
    let mut later = events;
    later.push((1 + 30 * D, launch("x")));
    assert_eq!(fold(later).limit_increases_30d, 1);
    assert_eq!(fold(vec![(0, launch("x"))]).deposit_limit, None);
}

#[test]
fn a_limit_raise_stored_as_a_bare_time_reads_as_another_limits() {
    let old: LimitRaise = serde_json::from_str("1700000000000").unwrap();
    assert_eq!(old, LimitRaise { at: 1_700_000_000_000, deposit: false });
    let deposit = LimitRaise { at: 5, deposit: true };
    assert_eq!(serde_json::from_str::<LimitRaise>(&serde_json::to_string(&deposit).unwrap()).unwrap(), deposit);
}

#[test]
fn minutes_since_last_win_counts_from_the_last_settlement_above_its_stake() {
    let events = vec![(0, bet("a", 100)), (10, settle("a", 300)), (20, bet("b", 100)), (25, settle("b", 100))];
    let mut later = events.clone();
    later.push((70, launch("x")));
    assert_eq!(fold(later).minutes_since_last_win, Some(60));
    assert_eq!(fold(events[..1].to_vec()).minutes_since_last_win, None);
}

#[test]
fn favourite_category_and_distinct_categories_use_their_windows() {
    let f = fold(vec![
        (-31 * D, launch("slots")),
        (-20 * D, launch("slots")),
        (-20 * D, launch("slots")),
        (-D, launch("live")),
        (-D, launch("table")),
        (0, launch("live")),
    ]);
    // slots 2 (the third is 31 days old), live 2, table 1: the tie goes to the first name.
    assert_eq!(f.favourite_category.as_deref(), Some("live"));
    assert_eq!(f.categories_7d, 2);
}

#[test]
fn self_exclusion_runs_from_the_event_time() {
    let f = fold(vec![(0, EventData::SelfExcluded { duration_days: 180 })]);
    assert_eq!(f.self_excluded_until, Some(at(180 * D)));
}

#[test]
fn a_self_exclusion_past_year_9999_ends_at_the_last_instant_rfc_3339_writes() {
    let f = fold(vec![(0, EventData::SelfExcluded { duration_days: u32::MAX })]);
    let Some(until) = f.self_excluded_until else { panic!("no self-exclusion") };
    assert_eq!(serde_json::to_value(until).unwrap(), "9999-12-31T23:59:59.999Z");
}

#[test]
fn names_and_values_line_up() {
    let f = fold(vec![(0, deposit(5))]);
    let values = f.values();
    assert_eq!(values.len(), Features::NAMES.len());
    let position = Features::NAMES.iter().position(|n| *n == "deposit_total").unwrap();
    assert_eq!(values[position], FeatureValue::Int(5));
}
