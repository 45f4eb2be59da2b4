//! Recommendations: one player's, and the feed of all, oldest first.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use domain::{InterventionKind, Recommendation};
use projections::RecommendationQuery;
use serde::{Deserialize, Serialize};

use super::params;
use crate::{server::AppState, server::problem::ApiError};

/// Query of a recommendation list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only those after this cursor (a `next` from an earlier page).
    #[serde(default, deserialize_with = "params::int64")]
    after: Option<u64>,
    /// Only of this kind.
    #[param(value_type = Option<InterventionKind>)]
    kind: Option<String>,
    /// At most this many (default 100).
    #[serde(default, deserialize_with = "params::count")]
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// `asc` (default): oldest first, paged with `after`; `desc`: newest first, paged with `before`.
    #[param(value_type = Option<String>, pattern = "^(asc|desc)$")]
    order: Option<String>,
    /// Only those triggered before this position (with `order=desc`, a `next` from an earlier page).
    #[serde(default, deserialize_with = "params::int64")]
    before: Option<u64>,
}

/// A page of recommendations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecommendationPage {
    /// Oldest first (newest first with `order=desc`).
    pub recommendations: Vec<Recommendation>,
    /// The `after` of the next page: the last position here; at the end, the `after` sent (or `null`),
    /// so that a client follows the feed by asking again with it. With `order=desc`, the `before`
    /// of the next (older) page; `null` when this one is the last.
    pub next: Option<u64>,
}

/// One player's recommendations, oldest first.
#[utoipa::path(
    get,
    path = "/v1/players/{player_id}/recommendations",
    operation_id = "listPlayerRecommendations",
    tag = "recommendations",
    params(params::PlayerPath, ListQuery),
    responses((status = 200, description = "A page of the player's recommendations", body = RecommendationPage)),
)]
#[tracing::instrument(name = "player_recommendations", skip(state, query))]
pub async fn for_player(
    State(state): State<AppState>,
    Path(params::PlayerPath { player_id }): Path<params::PlayerPath>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RecommendationPage>, ApiError> {
    let player = params::player_id(&player_id)?;
    page(&state, Some(player.as_str()), query).await
}

/// Every recommendation, oldest first (newest first with `order=desc`), maybe of one kind.
#[utoipa::path(
    get,
    path = "/v1/recommendations",
    operation_id = "listRecommendations",
    tag = "recommendations",
    params(ListQuery),
    responses((status = 200, description = "A page of the feed", body = RecommendationPage)),
)]
#[tracing::instrument(name = "recommendations", skip_all)]
pub async fn feed(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RecommendationPage>, ApiError> {
    page(&state, None, query).await
}

async fn page(
    state: &AppState,
    player_id: Option<&str>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RecommendationPage>, ApiError> {
    let query = params::query(query)?;
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let kind = match query.kind.as_deref() {
        None => None,
        Some(kind) => Some(InterventionKind::parse(kind).ok_or_else(|| ApiError::InvalidParameter {
            name: "kind",
            detail: format!("kind must be one of {}", InterventionKind::ALL.map(InterventionKind::as_str).join(", ")),
        })?),
    };
    let read = RecommendationQuery { player_id, kind, after: query.after, limit };
    let read_model = state.projection.read_model();
    let newest_first = match query.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(ApiError::InvalidParameter { name: "order", detail: "order must be asc or desc".to_owned() });
        }
    };
    let recommendations = read_model.recommendations_between(&read, query.before, newest_first).await?;
    let next = if newest_first {
        recommendations.last().filter(|_| recommendations.len() == limit).map(|r| r.triggered_by.position)
    } else {
        recommendations.last().map(|r| r.triggered_by.position).or(query.after)
    };
    Ok(Json(RecommendationPage { recommendations, next }))
}
