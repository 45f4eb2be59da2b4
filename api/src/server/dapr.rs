//! Dapr pub/sub: the programmatic subscription nudge answers, the envelope Dapr
//! delivers events in, and the status answer Dapr expects back.

use std::fmt;

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use domain::{EventType, TRACEPARENT};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::server::problem::ApiError;

/// The header a Dapr sidecar sends its app API token in.
pub const TOKEN_HEADER: &str = "dapr-api-token";

/// Attributes Dapr adds for its own transport: not kept with the event.
const TRANSPORT_ATTRIBUTES: [&str; 3] = ["pubsubname", "topic", "traceid"];

/// Trace attributes an unwrapped event takes from Dapr's envelope when it has none.
const TRACE_ATTRIBUTES: [&str; 2] = [TRACEPARENT, "tracestate"];

/// How nudge meets Dapr: what it subscribes to and the token Dapr calls with.
#[derive(Debug, Clone, Default)]
pub struct Dapr {
    /// The topic nudge subscribes to; none subscribes to nothing.
    pub subscription: Option<Topic>,
    /// The app API token Dapr sends in `dapr-api-token`; none admits no Dapr call
    /// without a Bearer key.
    pub app_token: Option<AppToken>,
}

impl Dapr {
    /// Whether `token` is the configured app API token (compared in constant time).
    pub fn admits(&self, token: &[u8]) -> bool {
        self.app_token.as_ref().is_some_and(|expected| expected.matches(token))
    }
}

/// A pub/sub component and one of its topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The pub/sub component's name.
    pub pubsub: String,
    /// The topic.
    pub topic: String,
}

/// Dapr's app API token, kept as its SHA-256 so that comparing takes the same
/// time whatever is sent.
#[derive(Clone)]
pub struct AppToken([u8; 32]);

impl AppToken {
    /// Wraps the configured token.
    pub fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    fn matches(&self, token: &[u8]) -> bool {
        let sent: [u8; 32] = Sha256::digest(token).into();
        sent.iter().zip(self.0.iter()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
    }
}

impl fmt::Debug for AppToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppToken(***)")
    }
}

/// Marks a request the Dapr app token admitted: whatever befalls it, it is
/// answered as Dapr expects (a body too large to read is dropped, not retried).
#[derive(Debug, Clone, Copy)]
pub struct Caller;

/// One entry of the programmatic subscription (`GET /dapr/subscribe`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DaprSubscription)]
pub struct Subscription {
    /// The pub/sub component.
    pub pubsubname: String,
    /// The topic.
    pub topic: String,
    /// Where Dapr delivers: the ingest endpoint.
    pub route: &'static str,
}

/// Whether a structured-mode body is a Dapr delivery: Dapr adds `pubsubname`
/// and `topic` to every event it delivers.
pub fn is_envelope(value: &Value) -> bool {
    ["pubsubname", "topic"].iter().all(|name| value.get(name).is_some_and(Value::is_string))
}

/// The player CloudEvent a Dapr envelope holds: the envelope itself without
/// Dapr's transport attributes, or, when Dapr wrapped a CloudEvent published as
/// plain JSON (its `data`, as JSON or as JSON text), that event, taking the
/// envelope's trace context when it has none of its own.
pub fn open(envelope: Value) -> Value {
    let Value::Object(mut envelope) = envelope else { return envelope };
    if let Some(mut inner) = wrapped(&envelope) {
        for name in TRACE_ATTRIBUTES {
            if let (false, Some(value)) = (inner.contains_key(name), envelope.get(name)) {
                inner.insert(name.to_owned(), value.clone());
            }
        }
        return Value::Object(inner);
    }
    for name in TRANSPORT_ATTRIBUTES {
        envelope.remove(name);
    }
    Value::Object(envelope)
}

/// The CloudEvent inside an envelope that is not itself a player event.
fn wrapped(envelope: &Map<String, Value>) -> Option<Map<String, Value>> {
    let player_event = envelope.get("type").and_then(Value::as_str).is_some_and(|t| EventType::parse(t).is_some());
    let inner = match envelope.get("data") {
        _ if player_event => return None,
        Some(Value::Object(data)) => data.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(data)) => data,
            _ => return None,
        },
        _ => return None,
    };
    inner.contains_key("specversion").then_some(inner)
}

/// What Dapr makes of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = DaprStatus)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Taken: Dapr acknowledges the message.
    Success,
    /// Not taken for now: Dapr delivers it again.
    Retry,
    /// Never takeable: Dapr drops it (or dead-letters it).
    Drop,
}

impl Status {
    /// An ingest's outcome for Dapr: a refused event is dropped (sending it again
    /// cannot help); an outage or a fault is retried.
    pub fn of<T>(result: &Result<T, ApiError>) -> Self {
        match result {
            Ok(_) => Self::Success,
            Err(error) if error.status().is_client_error() => Self::Drop,
            Err(_) => Self::Retry,
        }
    }
}

/// The answer to a Dapr delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "SUCCESS"}))]
pub struct DaprAnswer {
    /// What Dapr is to do with the message.
    pub status: Status,
}

/// Answers an ingest as Dapr expects: `200 OK` with `{"status": ...}`.
pub fn answer<T>(result: Result<T, ApiError>) -> Response {
    let status = Status::of(&result);
    if let Err(error) = &result {
        tracing::warn!(%error, ?status, "a Dapr delivery was not taken");
    }
    (StatusCode::OK, Json(DaprAnswer { status })).into_response()
}

#[cfg(test)]
mod tests;
