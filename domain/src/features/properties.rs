//! Property tests of the fold: resuming from a stored state, the weekly and
//! four-weekly windows worked out the plain way, and sums that saturate.

use proptest::prelude::*;

use super::{
    PlayerFeatures,
    tests::{D, at, bet, deposit, eur, event, failed_deposit, fold, launch, limit, settle, started},
};
use crate::{EventData, LimitKind, PlayerEvent};

fn any_event() -> impl Strategy<Value = (i64, EventData)> {
    let id = prop::sample::select(vec!["a", "b", "c"]);
    let data = prop_oneof![
        Just(started()),
        Just(EventData::SessionEnded),
        (1..10_000i64).prop_map(deposit),
        Just(failed_deposit()),
        (1..10_000i64).prop_map(|a| EventData::WithdrawalRequested { amount: eur(a) }),
        (1..10_000i64).prop_map(|a| EventData::WithdrawalCancelled { amount: eur(a) }),
        prop::sample::select(vec!["slots", "live", "table"]).prop_map(launch),
        (id.clone(), 1..1_000i64).prop_map(|(id, stake)| bet(id, stake)),
        (id, 0..2_000i64).prop_map(|(id, payout)| settle(id, payout)),
        (prop::sample::select(LimitKind::ALL), 1..10_000i64).prop_map(|(kind, amount)| limit(kind, amount)),
        (1..365u32).prop_map(|duration_days| EventData::SelfExcluded { duration_days }),
    ];
    // Mostly forward in time, by up to two days, sometimes a little back.
    (-30..2 * D, data)
}

proptest! {
    #[test]
    fn folding_resumes_from_a_stored_state(steps in prop::collection::vec(any_event(), 0..80), cut in 0usize..80) {
        let mut minutes = 0;
        let events: Vec<PlayerEvent> = steps
            .into_iter()
            .map(|(step, data)| {
                minutes += step;
                event(at(minutes), data)
            })
            .collect();
        let cut = cut.min(events.len());

        let mut whole = PlayerFeatures::default();
        events.iter().for_each(|e| whole.apply(e));

        let mut prefix = PlayerFeatures::default();
        events[..cut].iter().for_each(|e| prefix.apply(e));
        let stored = serde_json::to_string(&prefix).unwrap();
        let mut resumed: PlayerFeatures = serde_json::from_str(&stored).unwrap();
        events[cut..].iter().for_each(|e| resumed.apply(e));

        prop_assert_eq!(&resumed, &whole);
        prop_assert_eq!(resumed.features(), whole.features());
    }

    /// Deposit limit raises of the last 7 days, counted the plain way.
    #[test]
    fn deposit_limit_raises_are_those_of_the_week(limits in prop::collection::vec((-30..2 * D, prop::sample::select(LimitKind::ALL), 1..5i64), 0..40)) {
        let (mut minutes, mut latest, mut previous, mut raised) = (0, i64::MIN, None, Vec::new());
        let events: Vec<(i64, EventData)> = limits.into_iter().map(|(step, kind, amount)| {
            minutes += step;
            latest = latest.max(minutes);
            if matches!(kind, LimitKind::Deposit) {
                if previous.is_some_and(|p| amount > p) {
                    raised.push(minutes);
                }
                previous = Some(amount);
            }
            (minutes, limit(kind, amount))
        }).collect();
        let expected = raised.iter().filter(|t| **t > latest - 7 * D).count() as i64;
        prop_assert_eq!(fold(events).deposit_limit_raises_7d, expected);
    }
}

proptest! {
    /// The session trends, worked out the plain way from the session starts and ends.
    #[test]
    fn session_trends_follow_the_starts_of_four_weeks(gaps in prop::collection::vec((1..4 * D, 1..300i64), 1..40)) {
        let (mut minutes, mut sessions, mut events) = (0, Vec::new(), Vec::new());
        for (gap, length) in gaps {
            let start = minutes + gap;
            sessions.push((start, length));
            events.extend([(start, started()), (start + length, EventData::SessionEnded)]);
            minutes = start + length;
        }
        let now = minutes;
        let f = fold(events);
        let kept: Vec<(i64, i64)> = sessions.iter().copied().filter(|s| s.0 > now - 28 * D).collect();
        let (week, earlier): (Vec<_>, Vec<_>) = kept.iter().partition(|s| s.0 > now - 7 * D);
        prop_assert_eq!((f.sessions_28d, f.sessions_7d), (kept.len() as i64, week.len() as i64));
        let mean = |s: &[(i64, i64)]| s.iter().map(|s| s.1 as f64).sum::<f64>() / s.len() as f64;
        let minutes_trend = if week.is_empty() || earlier.is_empty() { 1.0 } else { mean(&week) / mean(&earlier) };
        prop_assert!((f.session_minutes_trend - minutes_trend).abs() < 1e-9);
        let baseline = (now - sessions[0].0 - 7 * D).min(21 * D);
        let rate_trend = if baseline < 3 * D {
            1.0
        } else {
            (week.len() as f64 + 1.0) / (earlier.len() as f64 * 7.0 * D as f64 / baseline as f64 + 1.0)
        };
        prop_assert!((f.session_rate_trend - rate_trend).abs() < 1e-9);
        let gap_trend = match kept.as_slice() {
            [first, .., before, latest] if kept.len() >= 3 => {
                let latest_gap = (latest.0 - sessions[sessions.len() - 2].0) as f64;
                latest_gap / ((before.0 - first.0) as f64 / (kept.len() - 2) as f64)
            }
            _ => 1.0,
        };
        prop_assert!((f.session_gap_trend - gap_trend).abs() < 1e-9, "{} {}", f.session_gap_trend, gap_trend);
        prop_assert!(f.session_rate_trend > 0.0 && f.session_minutes_trend > 0.0 && f.session_gap_trend > 0.0);
    }
}

/// An amount at the extremes: the smallest, the validation bound, and far beyond it.
fn extreme_amount() -> impl Strategy<Value = i64> {
    prop_oneof![Just(1), Just(crate::MAX_AMOUNT), Just(i64::MAX / 2 + 1), Just(i64::MAX)]
}

proptest! {
    #[test]
    fn sums_and_counts_saturate_instead_of_wrapping(
        steps in prop::collection::vec((0u8..3, extreme_amount()), 1..12)
    ) {
        let (mut stakes, mut payouts, mut deposits) = (0i128, 0i128, 0i128);
        let mut events = vec![(0, started())];
        for (n, (kind, amount)) in steps.into_iter().enumerate() {
            let id = format!("b{}", n / 2);
            let amount_128 = i128::from(amount);
            events.push((1, match kind {
                0 => { stakes += amount_128; bet(&id, amount) }
                1 => { payouts += amount_128; settle(&id, amount) }
                _ => { deposits += amount_128; deposit(amount) }
            }));
        }
        let f = fold(events);
        let clamp = |v: i128| i64::try_from(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX))).unwrap();
        prop_assert_eq!((f.stake_total, f.payout_total, f.deposit_total), (clamp(stakes), clamp(payouts), clamp(deposits)));
        prop_assert_eq!(f.net_loss, clamp(i128::from(f.stake_total) - i128::from(f.payout_total)));
        prop_assert_eq!((f.stake_24h, f.stake_1h, f.session_stake), (f.stake_total, f.stake_total, f.stake_total));
        prop_assert_eq!(f.deposit_amount_7d, f.deposit_total);
        prop_assert!(f.net_loss_24h == f.net_loss && f.session_net_loss == f.net_loss && f.net_loss_1h == f.net_loss);
    }
}

proptest! {
    /// The bets of the hour, the day and the week, and the launches of the
    /// week and the month, worked out the plain way, with times that sometimes
    /// step back and often fall on a window's edge (steps of half an hour).
    #[test]
    fn windows_over_bets_and_launches_are_those_of_their_times(
        steps in prop::collection::vec(((-6..48i64).prop_map(|s| s * 30), prop::option::of(1..1_000i64), 0..3usize), 1..160)
    ) {
        let categories = ["slots", "live", "table"];
        let (mut minutes, mut latest, mut bets, mut launches, mut events) = (0, i64::MIN, Vec::new(), Vec::new(), Vec::new());
        for (step, stake, category) in steps {
            minutes += step;
            latest = latest.max(minutes);
            match stake {
                Some(stake) => {
                    bets.push((minutes, stake));
                    events.push((minutes, bet("b", stake)));
                }
                None => {
                    launches.push((minutes, categories[category]));
                    events.push((minutes, launch(categories[category])));
                }
            }
        }
        let f = fold(events);
        let window = |length: i64| {
            let kept: Vec<i64> = bets.iter().filter(|b| b.0 > latest - length).map(|b| b.1).collect();
            (kept.iter().sum::<i64>(), kept.len() as i64)
        };
        prop_assert_eq!((f.stake_1h, f.bets_1h), window(60));
        prop_assert_eq!((f.stake_24h, f.bets_24h), window(D));
        let week: Vec<i64> = bets.iter().filter(|b| b.0 > latest - 7 * D).map(|b| b.0).collect();
        // The base time is noon UTC: minute m is m + 12 hours into its day, and night is the day's first 6 hours.
        let night = week.iter().filter(|m| (**m + 12 * 60).rem_euclid(D) < 6 * 60).count();
        let share = if week.is_empty() { 0.0 } else { night as f64 / week.len() as f64 };
        prop_assert!((f.night_bet_share_7d - share).abs() < 1e-12, "{} {}", f.night_bet_share_7d, share);

        let month: Vec<&(i64, &str)> = launches.iter().filter(|l| l.0 > latest - 30 * D).collect();
        let count = |name: &str| month.iter().filter(|l| l.1 == name).count();
        let mut names = categories;
        names.sort_unstable();
        let most = names.iter().map(|n| count(n)).max().unwrap_or(0);
        let favourite = names.iter().find(|n| most > 0 && count(n) == most).map(|n| (*n).to_owned());
        prop_assert_eq!(f.favourite_category, favourite);
        let week_names: std::collections::BTreeSet<&str> =
            month.iter().filter(|l| l.0 > latest - 7 * D).map(|l| l.1).collect();
        prop_assert_eq!(f.categories_7d, week_names.len() as i64);
    }
}
