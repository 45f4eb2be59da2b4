//! A few of a player's features over time, from one replay of their stream:
//! what the console charts.

use std::collections::BTreeMap;

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use chrono::{DateTime, Utc};
use domain::{Features, PlayerFeatures};
use serde::{Deserialize, Serialize};

use super::{features::each_event, params};
use crate::{server::AppState, server::problem::ApiError};

/// The features charted when the request names none.
const DEFAULT_NAMES: [&str; 4] = ["net_loss", "stake_24h", "deposit_amount_24h", "session_seconds"];

/// Most points one answer holds.
const MAX_POINTS: usize = 500;

/// Comma-separated names of the fold's features, as the document states them.
pub struct FeatureNames;

impl utoipa::PartialSchema for FeatureNames {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let name = format!("({})", Features::NAMES.join("|"));
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some(format!("^({name}(,{name})*)?$")))
            .into()
    }
}

impl utoipa::ToSchema for FeatureNames {}

/// Query of a feature history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Comma-separated feature names (none, or empty: `net_loss,stake_24h,deposit_amount_24h,session_seconds`).
    #[param(value_type = Option<FeatureNames>, inline)]
    names: Option<String>,
    /// At most this many points (default 100, at most 500), spread evenly over the stream, the last event's among them.
    #[serde(default, deserialize_with = "params::count")]
    #[param(minimum = 2, maximum = 500)]
    points: Option<usize>,
}

/// The chosen features after each of a sample of the player's events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeatureHistory {
    /// Whose.
    pub player_id: String,
    /// Events folded.
    pub events: u64,
    /// Oldest first; always the last event's.
    pub points: Vec<FeaturePoint>,
}

/// The features after one event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeaturePoint {
    /// The event's time.
    pub at: DateTime<Utc>,
    /// The event's stream revision.
    pub revision: u64,
    /// The chosen features' values.
    #[schema(value_type = Object)]
    pub features: BTreeMap<String, serde_json::Value>,
}

/// A few of the player's features after a sample of their events, oldest first.
#[utoipa::path(
    get,
    path = "/v1/players/{player_id}/features/history",
    operation_id = "getPlayerFeatureHistory",
    tag = "players",
    params(params::PlayerPath, HistoryQuery),
    responses(
        (status = 200, description = "The features over time", body = FeatureHistory),
        (status = 404, description = "The player has no stream"),
    ),
)]
#[tracing::instrument(name = "feature_history", skip(state, query))]
pub async fn read(
    State(state): State<AppState>,
    Path(params::PlayerPath { player_id }): Path<params::PlayerPath>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<FeatureHistory>, ApiError> {
    let player = params::player_id(&player_id)?;
    let query = params::query(query)?;
    let names = names(query.names.as_deref())?;
    let wanted = match query.points {
        None => 100,
        Some(n) if (2..=MAX_POINTS).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::InvalidParameter {
                name: "points",
                detail: format!("points must be between 2 and {MAX_POINTS}, not {n}"),
            });
        }
    };
    let mut fold = PlayerFeatures::default();
    // Every `stride`th event is sampled; past twice the points wanted, every
    // other sample goes and the stride doubles: memory stays bounded.
    let (mut points, mut stride, mut events) = (Vec::new(), 1u64, 0u64);
    let mut last = None;
    each_event(&state, &player, |recorded, event| {
        fold.apply(event);
        if events % stride == 0 {
            points.push(FeaturePoint { at: event.time, revision: recorded.revision, features: chosen(&fold, &names) });
            if points.len() >= 2 * wanted {
                halve(&mut points);
                stride *= 2;
            }
        }
        events += 1;
        last = Some((event.time, recorded.revision));
    })
    .await?;
    while points.len() >= wanted {
        halve(&mut points);
    }
    if let Some((at, revision)) = last
        && points.last().is_none_or(|p| p.revision != revision)
    {
        points.push(FeaturePoint { at, revision, features: chosen(&fold, &names) });
    }
    Ok(Json(FeatureHistory { player_id: player.to_string(), events, points }))
}

/// Keeps every other point, the first among them.
fn halve(points: &mut Vec<FeaturePoint>) {
    *points = std::mem::take(points).into_iter().step_by(2).collect();
}

/// The names asked for, each a feature's: exactly the documented pattern,
/// so a stray space or an empty name is refused, not guessed at.
fn names(raw: Option<&str>) -> Result<Vec<String>, ApiError> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Ok(DEFAULT_NAMES.map(str::to_owned).to_vec());
    }
    raw.split(',')
        .map(|name| {
            if Features::NAMES.contains(&name) {
                Ok(name.to_owned())
            } else {
                Err(ApiError::InvalidParameter {
                    name: "names",
                    detail: format!("{name:?} is not a feature's name; names are comma-separated, without spaces"),
                })
            }
        })
        .collect()
}

fn chosen(fold: &PlayerFeatures, names: &[String]) -> BTreeMap<String, serde_json::Value> {
    let serde_json::Value::Object(all) = serde_json::to_value(fold.features()).unwrap_or_default() else {
        return BTreeMap::new();
    };
    all.into_iter().filter(|(name, _)| names.contains(name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_or_empty_names_chart_the_defaults() {
        for raw in [None, Some("")] {
            let chosen = names(raw).map_err(|e| e.to_string());
            assert_eq!(chosen, Ok(DEFAULT_NAMES.map(str::to_owned).to_vec()));
        }
    }

    #[test]
    fn named_features_are_kept_in_order() {
        let chosen = names(Some("stake_24h,net_loss")).map_err(|e| e.to_string());
        assert_eq!(chosen, Ok(vec!["stake_24h".to_owned(), "net_loss".to_owned()]));
    }

    #[test]
    fn names_outside_the_documented_pattern_are_refused() {
        for raw in ["\n", " ", ",", "net_loss,", ",net_loss", "net_loss, stake_24h", " net_loss", "luck"] {
            assert!(names(Some(raw)).is_err(), "{raw:?} was accepted");
        }
    }
}
