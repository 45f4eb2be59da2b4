use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::Channel;

const MINUTE: i64 = 60_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 22, 0, 0).single().unwrap()
}

fn features(session_seconds: i64, self_excluded: bool) -> Features {
    Features {
        in_session: true,
        session_seconds,
        last_seen: Some(now()),
        self_excluded_until: self_excluded.then(|| now() + Duration::days(90)),
        ..Features::default()
    }
}

fn assessment(harm: f64, churn: f64) -> Assessment {
    Assessment { harm, churn, harm_threshold: 0.4, churn_threshold: 0.5 }
}

fn decide(features: &Features, event: &EventData, assessment: Option<Assessment>, recent: &Recent) -> Option<Decision> {
    let situation =
        Situation { features, event, time: now().timestamp_millis(), assessment, game: Some("slots-3"), recent };
    Policy::default().decide(&situation)
}

fn started() -> EventData {
    EventData::SessionStarted { channel: Channel::Web }
}

fn decision(kind: InterventionKind, rule: Rule) -> Option<Decision> {
    Some(Decision { kind, rule })
}

#[test]
fn three_hours_of_play_get_a_reality_check_without_a_model() {
    let recent = Recent::default();
    let bet = EventData::SessionEnded;
    assert_eq!(
        decide(&features(LONG_SESSION_SECONDS, false), &bet, None, &recent),
        decision(InterventionKind::RealityCheck, Rule::LongSession)
    );
    assert_eq!(decide(&features(LONG_SESSION_SECONDS - 1, false), &bet, None, &recent), None);
    assert!(Policy::looks_at(&EventData::SessionEnded, None));
    assert!(!Policy::looks_at(&EventData::SelfExcluded { duration_days: 1 }, Some(LONG_SESSION_SECONDS - 1)));
    assert!(Policy::looks_at(&EventData::SelfExcluded { duration_days: 1 }, Some(LONG_SESSION_SECONDS)));
}

#[test]
fn without_a_model_only_the_hard_rules_decide() {
    let recent = Recent::default();
    assert_eq!(decide(&features(60, false), &started(), None, &recent), None);
}

#[test]
fn harm_gets_a_safer_gambling_kind_by_severity() {
    let recent = Recent::default();
    let f = features(60, false);
    let kind = |harm| decide(&f, &started(), Some(assessment(harm, 0.9)), &recent).map(|d| (d.kind, d.rule));
    assert_eq!(kind(0.4), Some((InterventionKind::RealityCheck, Rule::HarmRisk)));
    assert_eq!(kind(0.7), Some((InterventionKind::DepositLimitSuggestion, Rule::HarmRisk)));
    assert_eq!(kind(0.9), Some((InterventionKind::CoolOff, Rule::HarmRisk)));
}

#[test]
fn churn_gets_an_offer_and_a_session_start_a_game() {
    let recent = Recent::default();
    let f = features(60, false);
    assert_eq!(
        decide(&f, &EventData::SessionEnded, Some(assessment(0.1, 0.5)), &recent),
        decision(InterventionKind::RetentionOffer, Rule::ChurnRisk)
    );
    assert_eq!(
        decide(&f, &started(), Some(assessment(0.1, 0.1)), &recent),
        decision(InterventionKind::GameRecommendation, Rule::SessionStart)
    );
    assert_eq!(decide(&f, &EventData::SessionEnded, Some(assessment(0.1, 0.1)), &recent), None);
    let no_game = Situation {
        features: &f,
        event: &started(),
        time: now().timestamp_millis(),
        assessment: Some(assessment(0.1, 0.1)),
        game: None,
        recent: &recent,
    };
    assert_eq!(Policy::default().decide(&no_game), None);
}

#[test]
fn cooldowns_hold_until_they_end() {
    let f = features(LONG_SESSION_SECONDS + 600, false);
    let mut recent = Recent::default();
    recent.record(InterventionKind::RealityCheck, now().timestamp_millis() - 59 * MINUTE);
    assert_eq!(decide(&f, &EventData::SessionEnded, None, &recent), None);
    recent.record(InterventionKind::RealityCheck, now().timestamp_millis() - 60 * MINUTE);
    assert!(decide(&f, &EventData::SessionEnded, None, &recent).is_some());
    let short = Policy::new(Cooldowns::default().with(InterventionKind::RetentionOffer, 60));
    let mut offered = Recent::default();
    offered.record(InterventionKind::RetentionOffer, now().timestamp_millis() - 2 * MINUTE);
    let situation = Situation {
        features: &features(60, false),
        event: &EventData::SessionEnded,
        time: now().timestamp_millis(),
        assessment: Some(assessment(0.1, 0.9)),
        game: None,
        recent: &offered,
    };
    assert_eq!(short.decide(&situation), decision(InterventionKind::RetentionOffer, Rule::ChurnRisk));
    assert_eq!(Policy::default().decide(&situation), None);
}

fn any_event() -> impl Strategy<Value = EventData> {
    prop_oneof![Just(started()), Just(EventData::SessionEnded), Just(EventData::SelfExcluded { duration_days: 30 }),]
}

proptest! {
    /// Whatever the model says and whatever happened before, a self-excluded or
    /// at-risk player, or one in the marketing block, gets no marketing kind, and
    /// no kind comes inside its cooldown.
    #[test]
    fn guardrails_beat_the_model(
        harm in 0.0..1.0f64,
        churn in 0.0..1.0f64,
        harm_threshold in 0.0..1.0f64,
        churn_threshold in 0.0..1.0f64,
        with_model in any::<bool>(),
        self_excluded in any::<bool>(),
        session_seconds in 0i64..(5 * 3_600),
        event in any_event(),
        minutes_ago in prop::collection::vec(prop::option::of(0i64..(48 * 60)), 5),
    ) {
        let mut recent = Recent::default();
        for (kind, ago) in InterventionKind::ALL.into_iter().zip(&minutes_ago) {
            if let Some(ago) = ago {
                recent.record(kind, now().timestamp_millis() - ago * MINUTE);
            }
        }
        let assessment = Assessment { harm, churn, harm_threshold, churn_threshold };
        let f = features(session_seconds, self_excluded);
        let model = with_model.then_some(assessment);
        if let Some(decision) = decide(&f, &event, model, &recent) {
            let warned = recent.last_safer_gambling().is_some_and(|t| Policy::default().blocks_marketing(t, now().timestamp_millis()));
            if self_excluded || warned || (with_model && harm >= harm_threshold) {
                prop_assert!(!decision.kind.is_marketing(), "{decision:?}");
            }
            if let Some(last) = recent.last(decision.kind) {
                let cooldown = Cooldowns::default().of(decision.kind) * 1_000;
                prop_assert!(now().timestamp_millis() >= last + cooldown, "{decision:?} inside its cooldown");
            }
            if !with_model {
                prop_assert_eq!(decision.rule, Rule::LongSession);
            }
        }
    }
}

#[test]
fn a_safer_gambling_intervention_blocks_marketing_for_the_block_whatever_the_scores() {
    let f = features(60, false);
    let low_harm_high_churn = Some(assessment(0.1, 0.9));
    let mut recent = Recent::default();
    assert_eq!(
        decide(&f, &EventData::SessionEnded, low_harm_high_churn, &recent),
        decision(InterventionKind::RetentionOffer, Rule::ChurnRisk)
    );
    recent.record(InterventionKind::RealityCheck, now().timestamp_millis() - 29 * 24 * 60 * MINUTE);
    assert_eq!(decide(&f, &EventData::SessionEnded, low_harm_high_churn, &recent), None);
    assert_eq!(decide(&f, &started(), Some(assessment(0.1, 0.1)), &recent), None);
    recent.record(InterventionKind::RealityCheck, now().timestamp_millis() - 30 * 24 * 60 * MINUTE);
    assert_eq!(
        decide(&f, &EventData::SessionEnded, low_harm_high_churn, &recent),
        decision(InterventionKind::RetentionOffer, Rule::ChurnRisk)
    );
    let mut warned = Recent::default();
    warned.record(InterventionKind::CoolOff, now().timestamp_millis() - 2 * 24 * 60 * MINUTE);
    let situation = Situation {
        features: &f,
        event: &EventData::SessionEnded,
        time: now().timestamp_millis(),
        assessment: low_harm_high_churn,
        game: None,
        recent: &warned,
    };
    assert_eq!(Policy::default().decide(&situation), None);
    assert_eq!(
        Policy::default().with_marketing_block(1).decide(&situation),
        decision(InterventionKind::RetentionOffer, Rule::ChurnRisk)
    );
    let mut offered = Recent::default();
    offered.record(InterventionKind::RetentionOffer, now().timestamp_millis() - 25 * 60 * MINUTE);
    assert_eq!(offered.last_safer_gambling(), None);
}

#[test]
fn markers_act_with_or_without_a_model_unless_the_model_has_acted() {
    let recent = Recent::default();
    let declined = Features { failed_deposits_24h: 3, ..features(60, false) };
    let ended = EventData::SessionEnded;
    let marker = decision(InterventionKind::DepositLimitSuggestion, Rule::MarkerDeclinedDeposits);
    assert_eq!(decide(&declined, &ended, None, &recent), marker);
    assert_eq!(decide(&declined, &ended, Some(assessment(0.1, 0.9)), &recent), marker);
    assert_eq!(
        decide(&declined, &ended, Some(assessment(0.9, 0.1)), &recent),
        decision(InterventionKind::CoolOff, Rule::HarmRisk)
    );
    assert_eq!(decide(&Features { failed_deposits_24h: 2, ..declined.clone() }, &ended, None, &recent), None);
    let off = Policy::default().with_markers(Markers::default().with(Marker::DeclinedDeposits, 0));
    let situation = Situation {
        features: &declined,
        event: &ended,
        time: now().timestamp_millis(),
        assessment: None,
        game: None,
        recent: &recent,
    };
    assert_eq!(off.decide(&situation), None);
    let chasing = Features { deposits_after_loss_24h: 3, deposit_limit_raises_7d: 2, ..features(60, false) };
    assert_eq!(
        decide(&chasing, &ended, None, &recent),
        decision(InterventionKind::CoolOff, Rule::MarkerDepositsAfterLoss)
    );
    let raised = Features { deposit_limit_raises_7d: 2, ..features(60, false) };
    assert_eq!(
        decide(&raised, &ended, None, &recent),
        decision(InterventionKind::DepositLimitSuggestion, Rule::MarkerDepositLimitRaised)
    );
    for marker in Marker::ALL {
        assert_eq!(marker.rule().marker(), Some(marker));
        assert_eq!(serde_json::to_value(marker.rule()).unwrap(), marker.rule().as_str());
        assert!(marker.rule().as_str().starts_with("marker:"));
    }
    assert_eq!(Rule::HarmRisk.marker(), None);
}
