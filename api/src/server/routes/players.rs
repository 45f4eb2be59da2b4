//! A player's erasure (`DELETE /v1/players/{id}`, admin).

use axum::{
    Extension, Json,
    extract::{Path, State},
};

use super::params;
use crate::{
    server::AppState,
    server::problem::ApiError,
    services::erasure::{Eraser, Erasure, ErasureError},
    services::keys::ApiKey,
};

impl From<ErasureError> for ApiError {
    fn from(error: ErasureError) -> Self {
        match error {
            ErasureError::Store(e) => e.into(),
            ErasureError::Projection(e) => e.into(),
            ErasureError::Webhooks(e) => e.into(),
            ErasureError::Database(e) => Self::Unavailable(e.into()),
        }
    }
}

/// Erases the player and answers the record of it. Idempotent: a player with
/// nothing stored (or erased already) is erased all the same, with
/// `events_deleted` 0. The erasure runs to its end even when the client goes.
#[utoipa::path(
    delete,
    path = "/v1/players/{player_id}",
    operation_id = "erasePlayer",
    tag = "players",
    params(params::PlayerPath),
    responses((status = 200, description = "Erased: the record of it (no personal data)", body = Erasure)),
)]
#[tracing::instrument(name = "erase_player", skip_all, fields(erasure_id = tracing::field::Empty, events_deleted = tracing::field::Empty))]
pub async fn erase(
    State(state): State<AppState>,
    Path(params::PlayerPath { player_id }): Path<params::PlayerPath>,
    key: Option<Extension<ApiKey>>,
) -> Result<Json<Erasure>, ApiError> {
    let player = params::player_id(&player_id)?;
    let eraser = Eraser {
        store: state.store.clone(),
        projection: state.projection.clone(),
        webhooks: state.webhooks.database.clone(),
        database: state.projection.read_model().database().clone(),
    };
    let api_key_id = key.map(|Extension(key)| key.id);
    let erasure = tokio::spawn(async move { eraser.erase(&player, api_key_id).await })
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    let span = tracing::Span::current();
    span.record("erasure_id", tracing::field::display(erasure.id));
    span.record("events_deleted", erasure.events_deleted);
    tracing::info!("player erased");
    Ok(Json(erasure))
}
