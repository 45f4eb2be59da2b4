//! A recommendation: what the policy decided for a player after one of their
//! events, with everything needed to explain it, and the player's answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{InterventionKind, InterventionResponse, Rule, TraceParent};

/// The namespace of recommendation ids.
const RECOMMENDATION_NAMESPACE: Uuid = Uuid::from_u128(0x6e75_6467_652d_5265_636f_6d6d_656e_0001);

/// A recommendation as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendation {
    /// Deterministic: the same player, triggering event and model version give the same id.
    pub id: Uuid,
    /// Whose.
    pub player_id: String,
    /// What.
    pub kind: InterventionKind,
    /// The triggering event's time.
    pub created_at: DateTime<Utc>,
    /// The event after which it was decided.
    pub triggered_by: TriggeredBy,
    /// The model's risks when it decided; none without a model.
    pub scores: Option<Scores>,
    /// The model version that scored; none without a model.
    pub model_version: Option<String>,
    /// The rule that fired.
    pub rule: Rule,
    /// The features that weighed most.
    pub reasons: Vec<Reason>,
    /// The game suggested, for a game recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub game_id: Option<String>,
    /// `pending` until the player answers.
    pub status: Status,
}

/// The event a recommendation follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriggeredBy {
    /// Its CloudEvent `id`.
    pub id: String,
    /// Its CloudEvent `source`.
    pub source: String,
    /// Its global position.
    pub position: u64,
    /// Its trace context: the recommendation and its deliveries join that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")]
    pub traceparent: Option<TraceParent>,
}

/// The model's risks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scores {
    /// P(self-exclusion within 7 days).
    pub harm: f64,
    /// P(stopping play within 7 days: a week with no session begins by then).
    pub churn: f64,
}

/// A feature that weighed in a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    /// The feature's name.
    pub feature: String,
    /// Its value.
    pub value: f64,
    /// How far it moved the score (on the logit for a logistic regression, in
    /// probability for a tree; 0 for a hard rule).
    pub contribution: f64,
}

/// Where a recommendation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RecommendationStatus)]
pub enum Status {
    /// Not answered yet.
    Pending,
    /// Taken up.
    Accepted,
    /// Closed.
    Dismissed,
    /// Not answered in the end.
    Ignored,
}

impl Status {
    /// The status as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Dismissed => "dismissed",
            Self::Ignored => "ignored",
        }
    }

    /// Reads a status as written.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Dismissed, Self::Ignored].into_iter().find(|x| x.as_str() == s)
    }
}

impl From<InterventionResponse> for Status {
    fn from(response: InterventionResponse) -> Self {
        match response {
            InterventionResponse::Accepted => Self::Accepted,
            InterventionResponse::Dismissed => Self::Dismissed,
            InterventionResponse::Ignored => Self::Ignored,
        }
    }
}

/// The id of the recommendation for `player_id` after the event at `position`,
/// decided with `model_version` (none: the hard rules alone).
pub fn recommendation_id(player_id: &str, position: u64, model_version: Option<&str>) -> Uuid {
    let name = format!("{}:{player_id}:{position}:{}", player_id.len(), model_version.unwrap_or("-"));
    Uuid::new_v5(&RECOMMENDATION_NAMESPACE, name.as_bytes())
}
