//! Who may call what: the scope each route group needs, checked against the
//! `Authorization: Bearer` key, or Dapr's app API token on Dapr's routes.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, Method, header},
    middleware::Next,
    response::Response,
};

use crate::{
    server::AppState, server::dapr, server::headers::single, server::openapi, server::problem::ApiError,
    services::keys::Scope,
};

/// The scope a route needs; `None` for the open ones.
fn needed(method: &Method, route: &str) -> Option<Scope> {
    const ADMIN: [&str; 5] = ["/v1/webhooks", "/v1/models", "/v1/projections", "/v1/keys", "/v1/cluster"];
    match route {
        _ if openapi::is_open(route) => None,
        "/v1/events" if method == Method::POST => Some(Scope::EventsWrite),
        "/v1/players/{player_id}" if method == Method::DELETE => Some(Scope::Admin),
        "/dapr/subscribe" => Some(Scope::EventsWrite),
        _ if ADMIN.iter().any(|prefix| route.starts_with(prefix)) => Some(Scope::Admin),
        _ => Some(Scope::Read),
    }
}

/// Lets the request through, with its key as an extension, if the key has the
/// route's scope, if it is Dapr's with the app API token on a route that needs
/// no more than `events:write`, or if nudge is open: bound to loopback with no
/// key in force.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let Some(scope) = needed(request.method(), route.as_ref().map_or("", MatchedPath::as_str)) else {
        return Ok(next.run(request).await);
    };
    let bearer = single(request.headers(), &header::AUTHORIZATION)?
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let dapr_token = single(request.headers(), &HeaderName::from_static(dapr::TOKEN_HEADER))?.map(|v| v.as_bytes());
    let keys = &state.keys;
    let failed = |e: crate::services::keys::KeyError| ApiError::Unavailable(e.into());
    match bearer {
        None if scope == Scope::EventsWrite && dapr_token.is_some_and(|t| state.dapr.admits(t)) => {
            request.extensions_mut().insert(dapr::Caller);
            Ok(next.run(request).await)
        }
        None if state.loopback_only && !keys.any().await.map_err(failed)? => Ok(next.run(request).await),
        None if dapr_token.is_some() && scope != Scope::EventsWrite => Err(ApiError::Unauthorized(format!(
            "this route does not take the {}: send an API key (Authorization: Bearer <key>)",
            dapr::TOKEN_HEADER
        ))),
        None if dapr_token.is_some() => {
            Err(ApiError::Unauthorized("the dapr-api-token is not the one given with --dapr-app-token".to_owned()))
        }
        None => Err(ApiError::Unauthorized("send an API key: Authorization: Bearer <key>".to_owned())),
        Some(secret) => match keys.authenticate(secret).await.map_err(failed)? {
            None => Err(ApiError::Unauthorized("the API key is unknown or revoked".to_owned())),
            Some(key) if !key.allows(scope) => {
                Err(ApiError::Forbidden(format!("the key `{}` lacks the scope {}", key.name, scope.as_str())))
            }
            Some(key) => {
                // A read another instance forwarded was counted there.
                let from_peer = state.owner_reads.from_peer(request.headers(), request.uri());
                if let Some(limiter) = &state.rate_limiter
                    && !from_peer
                    && let Err(wait) = limiter.check(key.id, Instant::now())
                {
                    metrics::counter!("nudge_http_rate_limited_total", "key" => key.name).increment(1);
                    return Err(ApiError::TooManyRequests(wait));
                }
                // Handlers that record who asked (an erasure) read it from here.
                request.extensions_mut().insert(key);
                Ok(next.run(request).await)
            }
        },
    }
}
