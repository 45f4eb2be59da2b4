//! A synthetic recommendation, for benchmarks and tests of what happens after a
//! decision (storing, routing, delivering) that need no decision made.

use chrono::Utc;
use domain::{InterventionKind, Recommendation, Rule, Status, TriggeredBy, recommendation_id};

/// A reality check of the long-session rule for `player_id`, made now and
/// triggered by the event at `position` of `source`.
pub fn recommendation(player_id: &str, position: u64, source: &str) -> Recommendation {
    Recommendation {
        id: recommendation_id(player_id, position, None),
        player_id: player_id.to_owned(),
        kind: InterventionKind::RealityCheck,
        created_at: Utc::now(),
        triggered_by: TriggeredBy {
            id: format!("e{position}"),
            source: source.to_owned(),
            position,
            traceparent: None,
        },
        scores: None,
        model_version: None,
        rule: Rule::LongSession,
        reasons: Vec::new(),
        game_id: None,
        status: Status::Pending,
    }
}
