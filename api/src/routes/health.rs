//! Liveness, readiness and metrics.

use axum::{Json, extract::State, http::header, response::IntoResponse};
use serde_json::{Value, json};

use crate::{AppState, problem::ApiError};

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The event store answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await.map_err(|e| ApiError::Unavailable(e.into()))?;
    Ok(Json(json!({ "status": "ready" })))
}

/// Prometheus metrics in the text exposition format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
