//! A player's webhook deliveries across subscriptions: what became of each
//! recommendation the console shows.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use serde::{Deserialize, Serialize};
use webhooks::Delivery;

use super::params;
use crate::{server::AppState, server::problem::ApiError};

/// Query of a player's deliveries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlayerDeliveriesQuery {
    /// Only the deliveries of this recommendation.
    #[param(value_type = Option<uuid::Uuid>)]
    recommendation_id: Option<String>,
    /// At most this many (default 100).
    #[serde(default, deserialize_with = "params::count")]
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// A player's latest deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlayerDeliveries {
    /// Newest first, to every subscription.
    pub deliveries: Vec<Delivery>,
}

/// A player's latest webhook deliveries, to every subscription, newest first.
#[utoipa::path(
    get,
    path = "/v1/players/{player_id}/deliveries",
    operation_id = "listPlayerDeliveries",
    tag = "webhooks",
    params(params::PlayerPath, PlayerDeliveriesQuery),
    responses((status = 200, description = "The player's latest deliveries", body = PlayerDeliveries)),
)]
#[tracing::instrument(name = "player_deliveries", skip(state, query))]
pub async fn list(
    State(state): State<AppState>,
    Path(params::PlayerPath { player_id }): Path<params::PlayerPath>,
    query: Result<Query<PlayerDeliveriesQuery>, QueryRejection>,
) -> Result<Json<PlayerDeliveries>, ApiError> {
    let player = params::player_id(&player_id)?;
    let query = params::query(query)?;
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let recommendation =
        query.recommendation_id.as_deref().map(|id| params::id(id, "recommendation_id")).transpose()?;
    let event_id = recommendation.map(|id| id.to_string());
    let deliveries = state.webhooks.database.deliveries_of_player(player.as_str(), event_id.as_deref(), limit).await?;
    Ok(Json(PlayerDeliveries { deliveries }))
}
