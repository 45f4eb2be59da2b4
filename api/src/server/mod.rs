//! The HTTP server: axum routes, the OpenAPI document, authentication, rate
//! limits and errors as problem+json. It knows HTTP; what it serves comes from
//! the services and the projections.

pub mod console;
pub mod dapr;
mod deadline;
mod headers;
mod ingest;
pub mod openapi;
pub mod owner_reads;
mod prefilter;
pub mod problem;
pub mod rate_limit;
pub mod readiness;
pub mod request_metrics;
pub mod routes;
pub mod serve;
mod strict_json;

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use metrics_exporter_prometheus::PrometheusHandle;
use projections::FeatureProjection;
use store::EventStore;

use crate::services::{keys, models::Models};
use rate_limit::RateLimiter;

/// How the HTTP server treats requests.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Request limits.
    pub limits: Limits,
    /// Origins browsers may call from (`*`: any); none turns CORS off.
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// The Dapr topic subscribed to and Dapr's app API token.
    pub dapr: dapr::Dapr,
    /// How long a connection may keep nudge waiting.
    pub timeouts: serve::Timeouts,
    /// Certificate authorities trusted for other instances' `https`
    /// addresses, beside the public ones (`--peer-ca`).
    pub peer_roots: Vec<reqwest::Certificate>,
}

/// Request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// Most events in one batch.
    pub max_batch: usize,
    /// Largest page a read may ask for.
    pub max_page: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Requests per second each API key may make; `None`: no limit.
    pub rate_per_key: Option<NonZeroU32>,
    /// The event times accepted around the server's clock.
    pub event_times: domain::EventTimeWindow,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 1024 * 1024,
            max_batch: 1_000,
            max_page: 1_000,
            request_timeout: Duration::from_secs(30),
            rate_per_key: NonZeroU32::new(1_000),
            event_times: domain::EventTimeWindow::default(),
        }
    }
}

/// What every handler can reach: one shared allocation, since every request
/// clones it for each middleware and handler that extracts it.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state of a server holding these services.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services a server's handlers use.
pub struct Services {
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// Request limits.
    pub limits: Limits,
    /// Renders the metrics.
    pub metrics: PrometheusHandle,
    /// The feature projection and its read model.
    pub projection: FeatureProjection,
    /// Model versions, the active one and training jobs.
    pub models: Models,
    /// Webhook subscriptions and the dispatcher.
    pub webhooks: Webhooks,
    /// API keys.
    pub keys: keys::Keys,
    /// Bound to a loopback address: without keys in force, requests need none.
    pub loopback_only: bool,
    /// Per-key request rates, when limited.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// Dapr pub/sub: the subscription and the app API token.
    pub dapr: dapr::Dapr,
    /// Whether ingest's appends are failing.
    pub writes: readiness::WriteHealth,
    /// The request counts and durations.
    pub requests: request_metrics::RequestMetrics,
    /// Forwards feature reads to the instance folding the player.
    pub owner_reads: owner_reads::OwnerReads,
}

/// Webhook subscriptions, their deliveries and the dispatcher delivering them.
#[derive(Clone)]
pub struct Webhooks {
    /// Where subscriptions and deliveries are kept.
    pub database: webhooks::Database,
    /// Woken when subscriptions or deliveries change.
    pub dispatcher: webhooks::Dispatcher,
    /// Which special-purpose addresses subscriptions may target.
    pub targets: webhooks::TargetPolicy,
}
