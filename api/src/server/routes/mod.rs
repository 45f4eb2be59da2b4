//! The HTTP routes and the middleware around them.

mod auth;
mod body;
mod cluster;
mod dapr;
mod events;
mod feature_history;
mod features;
mod health;
mod keys;
mod models;
mod params;
mod player_deliveries;
mod players;
mod projections;
mod recommendations;
mod webhooks;

use std::time::{Duration, Instant};

use axum::{
    Extension, Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower::ServiceBuilder;
use tower_http::{
    cors::{AllowHeaders, AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

pub use self::projections::Projections;
pub use events::{IngestResponse, IngestResult, StoredEvent, StreamPage};
pub use features::PlayerFeaturesView;

use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

pub use self::{
    keys::NewKey,
    webhooks::{NewWebhook, Replay, Replayed, WebhookEventType, WebhookPatch},
};
use crate::{
    server::AppState,
    server::console,
    server::deadline,
    server::openapi,
    server::prefilter,
    server::problem::{ApiError, PROBLEM_JSON},
    telemetry,
};

/// Every route, each with its part of the OpenAPI document.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::root())
        .routes(routes!(events::ingest))
        .routes(routes!(events::read_stream))
        .routes(routes!(players::erase))
        .routes(routes!(features::read))
        .routes(routes!(feature_history::read))
        .routes(routes!(recommendations::for_player))
        .routes(routes!(recommendations::feed))
        .routes(routes!(models::list))
        .routes(routes!(models::train))
        .routes(routes!(models::job))
        .routes(routes!(models::get))
        .routes(routes!(models::activate))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(player_deliveries::list))
        .routes(routes!(webhooks::retry))
        .routes(routes!(webhooks::replay))
        .routes(routes!(webhooks::test))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
        .routes(routes!(projections::list))
        .routes(routes!(cluster::get))
        .routes(routes!(projections::rebuild_features))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi::document))
        .routes(routes!(dapr::subscribe))
        .routes(routes!(console::redirect))
        .routes(routes!(console::page))
        .routes(routes!(console::asset))
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = documented().into_openapi();
    openapi::complete(&mut document);
    openapi::state_limits(&mut document, &crate::server::Limits::default());
    document
}

/// Builds the application's router; browsers may call it from `cors_origins`.
pub fn router(state: AppState, cors_origins: Vec<HeaderValue>) -> Router {
    let (routes, mut document) = documented().split_for_parts();
    openapi::complete(&mut document);
    openapi::state_limits(&mut document, &state.limits);
    let json = document.to_pretty_json().unwrap_or_default();
    routes
        .merge(SwaggerUi::new("/docs").config(SwaggerConfig::from("/openapi.json")))
        .layer(Extension(openapi::Served(json.into())))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::authorize))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .layer(tower::util::option_layer(cors(cors_origins)))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// CORS for the origins given (`*`: any), preflights answered before the API
/// key is asked for; no origins, no layer: browsers on other origins cannot
/// read the answers.
fn cors(origins: Vec<HeaderValue>) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") { AllowOrigin::any() } else { AllowOrigin::list(origins) };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([header::LOCATION, header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
            .max_age(Duration::from_secs(3600)),
    )
}

async fn no_route() -> ApiError {
    ApiError::Route(StatusCode::NOT_FOUND, "no route matches this path".to_owned())
}

async fn wrong_method() -> ApiError {
    ApiError::Route(StatusCode::METHOD_NOT_ALLOWED, "this route does not take this method".to_owned())
}

/// The longest plain-text rejection kept as a problem's detail.
const REJECTION_BYTES: usize = 4 * 1024;

/// What every request passes before its route, in one middleware (each
/// `from_fn` layer clones the boxed services inside it on every request): the
/// deadline, the prefilter, problems for every error, and the request metrics
/// (a request past its deadline among them).
async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let start = Instant::now();
    let handled = |request| async { problems_only(prefilter::prefilter(&state, request, next).await).await };
    let response = deadline::within(state.limits.request_timeout, request, handled).await;
    let route = route.as_ref().map_or("", MatchedPath::as_str);
    state.requests.record(&method, route, response.status(), start.elapsed());
    response
}

/// Rewrites any error answered in something other than problem+json (axum's
/// extractor rejections, a body over the limit) as a problem.
async fn problems_only(response: Response) -> Response {
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
