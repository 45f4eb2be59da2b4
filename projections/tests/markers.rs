//! The markers through the projection's own player step, with no model active:
//! each fires on the payments it describes, and not on a confounder that looks
//! like it (a card declined now and then, deposits that do not chase a loss,
//! a deposit limit raised twice but weeks apart, or another limit raised).

#![allow(clippy::unwrap_used)]

use chrono::{Duration, TimeZone, Utc};
use domain::{Currency, EventData, LimitKind, LimitPeriod, Money, PlayerEvent, PlayerId, Recommendation};
use projections::{Decider, Effect, PlayerState};
use serde_json::Map;

fn eur(amount: i64) -> Money {
    Money { amount, currency: Currency::parse("EUR").unwrap() }
}

fn declined() -> EventData {
    EventData::DepositFailed { amount: eur(5_000), reason: "declined".to_owned() }
}

fn deposit() -> EventData {
    EventData::DepositSucceeded { amount: eur(5_000) }
}

fn bet(id: &str) -> EventData {
    EventData::BetPlaced { bet_id: id.to_owned(), game_id: "g".to_owned(), stake: eur(1_000) }
}

fn settle(id: &str, payout: i64) -> EventData {
    EventData::BetSettled { bet_id: id.to_owned(), game_id: "g".to_owned(), payout: eur(payout) }
}

fn limit(kind: LimitKind, amount: i64) -> EventData {
    EventData::LimitChanged { kind, amount, period: LimitPeriod::Week }
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 5, 9, 0, 0).single().unwrap()
}

/// What a player's events, given as (minutes from the start, data), get with no model active.
fn recommended(events: Vec<(i64, EventData)>) -> Vec<Recommendation> {
    let mut state = PlayerState::default();
    let decider = Decider::default();
    let mut made = Vec::new();
    for (n, (minutes, data)) in events.into_iter().enumerate() {
        let event = PlayerEvent {
            id: format!("e{n}"),
            source: "/test".to_owned(),
            player_id: PlayerId::parse("p1").unwrap(),
            time: start() + Duration::minutes(minutes),
            data,
            extra: Map::new(),
            extensions: Default::default(),
        };
        if let Some(Effect::Recommended(r)) = state.apply(&event, n as u64 + 1, &decider) {
            made.push(*r);
        }
    }
    made
}

/// The (kind, rule, minute) of each recommendation.
fn decisions(events: Vec<(i64, EventData)>) -> Vec<(&'static str, &'static str, i64)> {
    let made = recommended(events);
    made.iter().map(|r| (r.kind.as_str(), r.rule.as_str(), (r.created_at - start()).num_minutes())).collect()
}

const DAY: i64 = 24 * 60;

#[test]
fn three_declined_deposits_in_a_day_suggest_a_deposit_limit() {
    let made = recommended(vec![(0, declined()), (5, declined()), (9, declined())]);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        (made[0].kind.as_str(), made[0].rule.as_str()),
        ("deposit_limit_suggestion", "marker:declined_deposits")
    );
    assert_eq!((made[0].reasons[0].feature.as_str(), made[0].reasons[0].value), ("failed_deposits_24h", 3.0));
    assert_eq!(serde_json::to_value(made[0].rule).unwrap(), "marker:declined_deposits");
    // A card declined now and then: three in three days.
    assert_eq!(decisions(vec![(0, declined()), (DAY, declined()), (2 * DAY, declined())]), []);
}

#[test]
fn three_deposits_chasing_losses_in_a_day_offer_a_break() {
    let chase = |at: i64, n: usize, payout: i64, after: i64| {
        let id = format!("b{n}");
        vec![(at, bet(&id)), (at + 1, settle(&id, payout)), (at + 1 + after, deposit())]
    };
    let chasing: Vec<_> = (0..3).flat_map(|n| chase(n as i64 * 60, n, 0, 3)).collect();
    assert_eq!(decisions(chasing), [("cool_off", "marker:deposits_after_loss", 124)]);
    // A bonus hunter or high roller: as many deposits, after wins, or long after a loss.
    let after_wins: Vec<_> = (0..3).flat_map(|n| chase(n as i64 * 60, n, 3_000, 3)).collect();
    assert_eq!(decisions(after_wins), []);
    let later: Vec<_> = (0..3).flat_map(|n| chase(n as i64 * 120, n, 0, 45)).collect();
    assert_eq!(decisions(later), []);
}

#[test]
fn a_deposit_limit_raised_twice_in_a_week_suggests_a_deposit_limit() {
    let raised = vec![
        (0, limit(LimitKind::Deposit, 10_000)),
        (DAY, limit(LimitKind::Deposit, 20_000)),
        (3 * DAY, limit(LimitKind::Deposit, 50_000)),
    ];
    assert_eq!(decisions(raised), [("deposit_limit_suggestion", "marker:deposit_limit_raised", 3 * DAY)]);
    // Raised twice, but ten days apart; or the loss limit raised twice in a week.
    let apart = vec![
        (0, limit(LimitKind::Deposit, 10_000)),
        (DAY, limit(LimitKind::Deposit, 20_000)),
        (11 * DAY, limit(LimitKind::Deposit, 50_000)),
    ];
    assert_eq!(decisions(apart), []);
    let loss = vec![
        (0, limit(LimitKind::Loss, 10_000)),
        (DAY, limit(LimitKind::Loss, 20_000)),
        (2 * DAY, limit(LimitKind::Loss, 50_000)),
    ];
    assert_eq!(decisions(loss), []);
}
