//! One player's state in the projection, and the step that folds an event in and
//! decides: the same step for the live projection and for a backtest's replay.

use std::{collections::VecDeque, sync::Arc};

use domain::{
    EventData, Features, PlayerEvent, PlayerFeatures, Policy, Reason, Recent, Recommendation, Rule, Scores, Situation,
    Status, TriggeredBy, recommendation_id,
};
use ml::{Scorer, Target};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Distinct games remembered per player, the latest launched.
const LAUNCHED: usize = 64;

/// What the projection keeps of a player: the feature fold, what the policy
/// recommended lately, and the games they launched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlayerState {
    /// The feature fold.
    pub fold: PlayerFeatures,
    /// When each kind was last recommended.
    pub recent: Recent,
    launched: VecDeque<String>,
}

/// What a batch decides with: the model active when it began, and the policy.
#[derive(Debug, Clone, Default)]
pub struct Decider {
    /// The active model; none when no model is active.
    pub scorer: Option<Arc<Scorer>>,
    /// The policy.
    pub policy: Policy,
}

/// A player's answer to a recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The recommendation answered.
    pub id: Uuid,
    /// Whose answer (only the player's own recommendations take it).
    pub player_id: String,
    /// The answer.
    pub status: Status,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// What one event led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A recommendation to make.
    Recommended(Box<Recommendation>),
    /// An answer to record.
    Answered(Answer),
}

impl PlayerState {
    /// Folds `event` (at global `position`) in and answers what it leads to.
    pub fn apply(&mut self, event: &PlayerEvent, position: u64, decider: &Decider) -> Option<Effect> {
        self.fold.apply(event);
        match &event.data {
            EventData::GameLaunched { game_id, .. } if !self.launched.contains(game_id) => {
                self.launched.push_back(game_id.clone());
                if self.launched.len() > LAUNCHED {
                    self.launched.pop_front();
                }
            }
            EventData::InterventionResponded { recommendation_id, response } => {
                return Some(Effect::Answered(Answer {
                    id: *recommendation_id,
                    player_id: event.player_id.as_str().to_owned(),
                    status: Status::from(*response),
                    at: event.time,
                }));
            }
            _ => {}
        }
        if !Policy::looks_at(&event.data, self.fold.open_session_seconds()) {
            return None;
        }
        self.decide(event, position, decider).map(|r| Effect::Recommended(Box::new(r)))
    }

    fn decide(&mut self, event: &PlayerEvent, position: u64, decider: &Decider) -> Option<Recommendation> {
        let features = self.fold.features();
        let scorer = decider.scorer.as_deref();
        let scoring = scorer.map(|scorer| scorer.score(&features));
        let game = match (&event.data, scorer) {
            (EventData::SessionStarted { .. }, Some(scorer)) => {
                scorer.game_for(&features, |game| self.launched.iter().any(|g| g == game))
            }
            _ => None,
        };
        let time = event.time.timestamp_millis();
        let situation = Situation {
            features: &features,
            event: &event.data,
            time,
            assessment: scoring.as_ref().map(|s| s.assessment),
            game,
            recent: &self.recent,
        };
        let decision = decider.policy.decide(&situation)?;
        let game_id = game.filter(|_| decision.rule == Rule::SessionStart).map(str::to_owned);
        self.recent.record(decision.kind, time);
        let reasons = match (scorer, &scoring) {
            (Some(scorer), Some(scoring)) if decision.rule.marker().is_none() => {
                let target = if matches!(decision.rule, Rule::ChurnRisk | Rule::SessionStart) {
                    Target::Churn
                } else {
                    Target::Harm
                };
                scorer.reasons(scoring, target)
            }
            _ => hard_rule_reasons(&features, decision.rule),
        };
        let player_id = event.player_id.as_str();
        let model_version = scorer.map(|s| s.version().to_owned());
        let id = recommendation_id(player_id, position, model_version.as_deref());
        let traceparent = event.trace_parent();
        if let Some(trace) = traceparent {
            // A mark in the event's trace: the telemetry set-up exports it there.
            tracing::info_span!("recommendation", %id, kind = decision.kind.as_str(), traceparent = %trace)
                .in_scope(|| {});
        }
        Some(Recommendation {
            id,
            player_id: player_id.to_owned(),
            kind: decision.kind,
            created_at: event.time,
            triggered_by: TriggeredBy { id: event.id.clone(), source: event.source.clone(), position, traceparent },
            scores: scoring.map(|s| Scores { harm: s.assessment.harm, churn: s.assessment.churn }),
            model_version,
            rule: decision.rule,
            reasons,
            game_id,
            status: Status::Pending,
        })
    }
}

/// The reason of a rule that needs no model: what a marker counts, or the session's length.
fn hard_rule_reasons(features: &Features, rule: Rule) -> Vec<Reason> {
    let (feature, value) = match rule.marker() {
        Some(marker) => (marker.feature(), marker.count(features)),
        None => ("session_seconds", features.session_seconds),
    };
    vec![Reason { feature: feature.to_owned(), value: value as f64, contribution: 0.0 }]
}
