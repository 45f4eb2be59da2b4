//! Liveness, readiness and metrics.

use axum::{Json, extract::State, response::IntoResponse};
use serde::Serialize;

use crate::{server::AppState, server::problem::ApiError, telemetry};

/// What the health routes answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "getHealth",
    tag = "operations",
    responses((status = 200, description = "Up", body = Health, example = json!({"status": "ok"}))),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The event store answers, takes a write, and ingest's last append did not
/// fail for a passing cause (a full disk, a database gone) in the last seconds.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "getReadiness",
    tag = "operations",
    responses((status = 200, description = "Ready", body = Health, example = json!({"status": "ready"}))),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| ApiError::Unavailable(e.into()))?;
    if let Some(why) = state.writes.failing() {
        return Err(ApiError::Unavailable(format!("the last append failed: {why}").into()));
    }
    Ok(Json(Health { status: "ready" }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String,
               content_type = "text/plain; version=0.0.4")),
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    telemetry::prometheus::exposition(&state.metrics)
}
