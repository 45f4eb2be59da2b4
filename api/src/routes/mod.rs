//! The HTTP routes and the middleware around them.

mod auth;
mod dapr;
mod events;
mod features;
mod health;
mod keys;
mod models;
mod params;
mod projections;
mod recommendations;
mod webhooks;

use std::time::{Duration, Instant};

use axum::{
    BoxError, Router,
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

pub use self::projections::Projections;
pub use events::{IngestResponse, IngestResult, StoredEvent, StreamPage};
pub use features::PlayerFeaturesView;

use crate::{
    AppState,
    problem::{ApiError, PROBLEM_JSON},
    telemetry,
};

/// Builds the application's router.
pub fn router(state: AppState) -> Router {
    let timeout = state.limits.request_timeout;
    Router::new()
        .route("/v1/events", post(events::ingest))
        .route("/v1/players/{player_id}/events", get(events::read_stream))
        .route("/v1/players/{player_id}/features", get(features::read))
        .route("/v1/players/{player_id}/recommendations", get(recommendations::for_player))
        .route("/v1/recommendations", get(recommendations::feed))
        .route("/v1/models", get(models::list))
        .route("/v1/models/train", post(models::train))
        .route("/v1/models/jobs/{job_id}", get(models::job))
        .route("/v1/models/{version}", get(models::get))
        .route("/v1/models/{version}/activate", post(models::activate))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/{webhook_id}", get(webhooks::get).patch(webhooks::update).delete(webhooks::delete))
        .route("/v1/webhooks/{webhook_id}/rotate-secret", post(webhooks::rotate_secret))
        .route("/v1/webhooks/{webhook_id}/deliveries", get(webhooks::deliveries))
        .route("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", post(webhooks::retry))
        .route("/v1/webhooks/{webhook_id}/replay", post(webhooks::replay))
        .route("/v1/webhooks/{webhook_id}/test", post(webhooks::test))
        .route("/v1/keys", post(keys::create).get(keys::list))
        .route("/v1/keys/{key_id}", axum::routing::delete(keys::revoke))
        .route("/v1/projections", get(projections::list))
        .route("/v1/projections/features/rebuild", post(projections::rebuild_features))
        .route("/dapr/subscribe", get(dapr::subscribe))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::authorize))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(HandleErrorLayer::new(move |error: BoxError| async move { timed_out(error, timeout) }))
                .timeout(timeout),
        )
        .with_state(state)
}

async fn no_route() -> ApiError {
    ApiError::Route(StatusCode::NOT_FOUND, "no route matches this path".to_owned())
}

async fn wrong_method() -> ApiError {
    ApiError::Route(StatusCode::METHOD_NOT_ALLOWED, "this route does not take this method".to_owned())
}

fn timed_out(error: BoxError, timeout: Duration) -> Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::Timeout(timeout).into_response()
    } else {
        tracing::error!(%error, "middleware failed");
        ApiError::Route(StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_owned()).into_response()
    }
}

/// The longest plain-text rejection kept as a problem's detail.
const REJECTION_BYTES: usize = 4 * 1024;

/// Rewrites any error answered in something other than problem+json (axum's
/// extractor rejections, a body over the limit) as a problem.
async fn problems_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), REJECTION_BYTES).await.unwrap_or_default();
    let detail = match String::from_utf8_lossy(&text).trim() {
        "" => status.canonical_reason().unwrap_or("rejected").to_owned(),
        text => text.to_owned(),
    };
    ApiError::Rejected(status, detail).into_response()
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("nudge_http_requests_total", &labels).increment(1);
    metrics::histogram!("nudge_http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}
