//! Projection status (`GET /v1/projections`) and rebuilds.

use axum::{Json, extract::State, http::StatusCode};
use projections::ProjectionStatus;
use serde::Serialize;

use crate::{server::AppState, server::problem::ApiError};

/// Every projection and where it is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Projections {
    /// One entry per projection.
    pub projections: Vec<ProjectionStatus>,
}

/// Lists the projections with their checkpoint, lag and state.
#[utoipa::path(
    get,
    path = "/v1/projections",
    operation_id = "listProjections",
    tag = "projections",
    responses((status = 200, description = "Every projection", body = Projections)),
)]
#[tracing::instrument(name = "projections", skip_all)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Projections>, ApiError> {
    Ok(Json(Projections { projections: vec![state.projection.status().await?] }))
}

/// Starts rebuilding the feature read model from position 0; the current rows stay
/// served, and kept up to date, until the rebuilt ones reach them.
#[utoipa::path(
    post,
    path = "/v1/projections/features/rebuild",
    operation_id = "rebuildFeatures",
    tag = "projections",
    responses(
        (status = 202, description = "The rebuild started", body = ProjectionStatus),
        (status = 409, description = "A rebuild is already running"),
    ),
)]
#[tracing::instrument(name = "rebuild_features", skip_all)]
pub async fn rebuild_features(State(state): State<AppState>) -> Result<(StatusCode, Json<ProjectionStatus>), ApiError> {
    if !state.projection.rebuild().await? {
        return Err(ApiError::Conflict("a rebuild of the features projection is already running".to_owned()));
    }
    Ok((StatusCode::ACCEPTED, Json(state.projection.status().await?)))
}
