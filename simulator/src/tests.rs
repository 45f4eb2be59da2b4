use std::collections::HashMap;

use chrono::TimeZone;
use domain::{EventData, PlayerFeatures};

use super::*;

fn population() -> Population {
    Population::new(300, 3, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap())
}

#[test]
fn the_same_seed_gives_the_same_events_in_time_order() {
    let (a, b) = (population().day(1), population().day(1));
    assert_eq!(a, b);
    assert!(!a.is_empty());
    assert!(a.windows(2).all(|w| w[0].time <= w[1].time));
    assert_ne!(a, Population::new(300, 4, population().start).day(1));
}

#[test]
fn every_player_registers_on_the_first_day_and_events_validate() {
    let day = population().day(0);
    let registered = day.iter().filter(|e| matches!(e.data, EventData::Registered { .. })).count();
    assert_eq!(registered, 300);
    for event in &day {
        assert_eq!(PlayerEvent::from_json(&event.to_json()).as_ref(), Ok(event));
    }
}

#[test]
fn days_follow_each_other_and_excluded_players_stop() {
    let population = population();
    let truth: HashMap<String, Truth> = population.truth().into_iter().map(|t| (t.player_id.clone(), t)).collect();
    let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut excluded: HashMap<String, i64> = HashMap::new();
    for day in 0..30 {
        for event in population.day(day) {
            let player = event.player_id.as_str().to_owned();
            assert!(last.get(&player).is_none_or(|t| *t <= event.time), "{player} went back in time");
            assert!(!excluded.contains_key(&player), "{player} played after excluding themselves");
            last.insert(player.clone(), event.time);
            if matches!(event.data, EventData::SelfExcluded { .. }) {
                assert!(truth[&player].archetype.at_risk(), "{player}");
                assert_eq!(truth[&player].self_exclusion_day, Some(i64::from(day)));
                excluded.insert(player, i64::from(day));
            }
        }
    }
    let expected = truth.values().filter(|t| t.self_exclusion_day.is_some()).count();
    assert_eq!(excluded.len(), expected);
    assert!(expected > 5, "{expected} players excluded themselves");
}

#[test]
fn at_risk_players_show_harm_before_they_exclude_themselves() {
    let population = population().with_mix("regular=1,at_risk=1".parse().unwrap());
    let truth: HashMap<String, Truth> = population.truth().into_iter().map(|t| (t.player_id.clone(), t)).collect();
    let mut folds: HashMap<String, PlayerFeatures> = HashMap::new();
    // The longest session each player played in the week before excluding
    // themselves (at-risk) or in the last week (regular).
    let mut longest: HashMap<String, i64> = HashMap::new();
    for day in 0..30 {
        for event in population.day(day) {
            let player = event.player_id.as_str().to_owned();
            let fold = folds.entry(player.clone()).or_default();
            fold.apply(&event);
            let week_before = match truth[&player].self_exclusion_day {
                Some(excluded) => (excluded - 7..=excluded).contains(&i64::from(day)),
                None => day >= 23,
            };
            if week_before && matches!(event.data, EventData::SessionEnded) {
                let seconds = fold.features().session_seconds;
                longest.entry(player).and_modify(|s| *s = (*s).max(seconds)).or_insert(seconds);
            }
        }
    }
    let mean = |archetype: Archetype, excluded: bool| {
        let picked: Vec<i64> = longest
            .iter()
            .filter(|(p, _)| truth[*p].archetype == archetype && truth[*p].self_exclusion_day.is_some() == excluded)
            .map(|(_, s)| *s)
            .collect();
        picked.iter().sum::<i64>() as f64 / picked.len().max(1) as f64
    };
    let (harmed, regular) = (mean(Archetype::AtRisk, true), mean(Archetype::Regular, false));
    assert!(harmed > 2.0 * regular, "longest sessions: at risk {harmed} s, regular {regular} s");
}

#[test]
fn the_truth_file_has_a_line_per_player() {
    let mut out = Vec::new();
    population().write_truth(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 301);
    assert!(text.starts_with("player_id,archetype,pathway,"));
    for pathway in ["escalation", "payment_chasing", "bingeing", "at_risk"] {
        assert!(text.lines().any(|l| l.contains(&format!(",{pathway},{pathway},"))), "{pathway}");
    }
    assert!(text.lines().any(|l| l.contains(",night_shift,,")));
}

#[test]
fn each_pathway_shows_its_own_signs_and_the_confounders_stay_steady() {
    let population = population().with_mix(
        "regular=1,escalation=1,payment_chasing=1,bingeing=1,bonus_hunter=1,heavy_regular=1".parse().unwrap(),
    );
    let truth: HashMap<String, Truth> = population.truth().into_iter().map(|t| (t.player_id.clone(), t)).collect();
    let mut folds: HashMap<String, PlayerFeatures> = HashMap::new();
    // Per player, the most of each sign seen at a session end: session seconds,
    // sessions in 24 h, failed deposits in 24 h, deposits after a loss in 24 h.
    let mut most: HashMap<String, [i64; 4]> = HashMap::new();
    for day in 0..30 {
        for event in population.day(day) {
            let player = event.player_id.as_str().to_owned();
            let fold = folds.entry(player.clone()).or_default();
            fold.apply(&event);
            if matches!(event.data, EventData::SessionEnded) {
                let f = fold.features();
                let seen = [f.session_seconds, f.sessions_24h, f.failed_deposits_24h, f.deposits_after_loss_24h];
                let m = most.entry(player).or_default();
                m.iter_mut().zip(seen).for_each(|(m, s)| *m = (*m).max(s));
            }
        }
    }
    let mean = |archetype: Archetype, sign: usize| {
        let picked: Vec<i64> =
            most.iter().filter(|(p, _)| truth[*p].archetype == archetype).map(|(_, m)| m[sign]).collect();
        picked.iter().sum::<i64>() as f64 / picked.len().max(1) as f64
    };
    use Archetype::*;
    let heavy = most.iter().filter(|(p, _)| truth[*p].archetype == HeavyRegular);
    assert!(
        heavy.clone().count() > 10 && heavy.clone().all(|(_, m)| m[0] < 3 * 3_600),
        "heavy regulars stay under 3 h"
    );
    assert!(mean(Escalation, 0) > 1.3 * mean(Bingeing, 0), "escalation plays longest");
    assert!(mean(Bingeing, 0) < 3.0 * 3_600.0, "bingeing stays under three hours");
    assert!(mean(Bingeing, 1) > 1.3 * mean(HeavyRegular, 1), "sessions a day");
    assert!(mean(PaymentChasing, 2) > 2.0 * mean(BonusHunter, 2), "declined deposits");
    assert!(mean(PaymentChasing, 3) > 2.0 * mean(Regular, 3), "deposits after a loss");
    assert!(mean(HeavyRegular, 0) > 2.0 * mean(Regular, 0), "heavy regulars play long");
}

#[test]
fn churners_fade_visibly_for_a_week_before_their_last_session() {
    let population = population().with_mix("churner=1".parse().unwrap());
    let truth: HashMap<String, Truth> = population.truth().into_iter().map(|t| (t.player_id.clone(), t)).collect();
    // Per player, per session: the day, minutes, bets, mean stake; and the days of deposits and withdrawals.
    let mut sessions: HashMap<String, Vec<(i64, f64, f64, f64)>> = HashMap::new();
    let mut open: HashMap<String, (DateTime<Utc>, f64, f64)> = HashMap::new();
    let (mut deposits, mut withdrawals) = (HashMap::<String, Vec<i64>>::new(), HashMap::<String, Vec<i64>>::new());
    for day in 0..30 {
        for event in population.day(day) {
            let player = event.player_id.as_str().to_owned();
            match event.data {
                EventData::SessionStarted { .. } => {
                    open.insert(player, (event.time, 0.0, 0.0));
                }
                EventData::BetPlaced { stake, .. } => {
                    if let Some(session) = open.get_mut(&player) {
                        (session.1, session.2) = (session.1 + 1.0, session.2 + stake.amount as f64);
                    }
                }
                EventData::SessionEnded => {
                    if let Some((started, bets, stake)) = open.remove(&player) {
                        let minutes = (event.time - started).num_seconds() as f64 / 60.0;
                        sessions.entry(player).or_default().push((day.into(), minutes, bets, stake / bets.max(1.0)));
                    }
                }
                EventData::DepositSucceeded { .. } => deposits.entry(player).or_default().push(day.into()),
                EventData::WithdrawalRequested { .. } => withdrawals.entry(player).or_default().push(day.into()),
                _ => {}
            }
        }
    }
    // Summed over the churners: sessions before the fade, and in the last week up to the last session.
    let (mut before, mut last_week) = ([0.0; 5], [0.0; 5]);
    let (mut churners, mut long_fades, mut cashed_out) = (0, 0, 0);
    for (player, played) in &sessions {
        let Some(from) = truth[player].fade_from_day else { continue };
        let Some(last) = played.last().map(|s| s.0) else { continue };
        churners += 1;
        long_fades += usize::from(last as f64 - from >= 7.0);
        cashed_out += usize::from(withdrawals.get(player).is_some_and(|w| w.iter().any(|d| *d >= last - 2)));
        let deposited = deposits.get(player).map_or(&[][..], Vec::as_slice);
        for (sum, days) in [(&mut before, (0, from as i64)), (&mut last_week, (last - 6, last + 1))] {
            for session in played.iter().filter(|s| (days.0..days.1).contains(&s.0)) {
                sum.iter_mut().zip([1.0, session.1, session.2, session.3]).for_each(|(s, v)| *s += v);
            }
            sum[4] += deposited.iter().filter(|d| (days.0..days.1).contains(*d)).count() as f64;
        }
    }
    let per_session = |sum: [f64; 5], i: usize| sum[i] / sum[0].max(1.0);
    assert!(churners > 250, "{churners} churners");
    assert!(long_fades as f64 > 0.8 * churners as f64, "{long_fades} of {churners} faded for a week or more");
    assert!(cashed_out as f64 > 0.3 * churners as f64, "{cashed_out} of {churners} cashed out at the end");
    for (sign, i, under) in [("minutes", 1, 0.7), ("bets", 2, 0.6), ("stake", 3, 0.8), ("deposits", 4, 0.5)] {
        let (was, now) = (per_session(before, i), per_session(last_week, i));
        assert!(now < under * was, "{sign} per session: {now:.2} in the last week against {was:.2} before");
    }
}
