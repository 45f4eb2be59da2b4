//! Webhook subscriptions and their deliveries.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use webhooks::{
    Delivery, DeliveryQuery, DeliveryStatus, Event, NewSubscription, SigningSecret, Subscription, SubscriptionPatch,
    TEST_EVENT_TYPE, WebhookError, masked_url, rotate,
};

pub use self::requests::{NewWebhook, Replay, WebhookEventType, WebhookPatch};
use self::requests::{description, kinds, types, url};
use super::{body, params};
use crate::{server::AppState, server::problem::ApiError, telemetry};

mod requests;

/// A subscription, with its secret: only when created and on rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithSecret {
    /// The subscription.
    #[serde(flatten)]
    pub subscription: Subscription,
    /// The signing secret, `whsec_` + base64.
    pub secret: String,
}

/// A page of subscriptions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<Subscription>,
    /// The `after` of the next page; `null` when this one is the last.
    pub next: Option<Uuid>,
}

/// A page of deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    /// Oldest first.
    pub deliveries: Vec<Delivery>,
    /// The `after` of the next page; `null` when this one is the last.
    pub next: Option<u64>,
}

/// Query of the deliveries list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesParams {
    /// Only deliveries in this status.
    #[param(value_type = Option<DeliveryStatus>)]
    status: Option<String>,
    /// Only deliveries after this sequence number.
    #[serde(default, deserialize_with = "params::int64")]
    after: Option<u64>,
    /// At most this many (default 100).
    #[serde(default, deserialize_with = "params::count")]
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// The answer to a replay.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// Deliveries queued.
    pub queued: usize,
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::Database(e) => Self::Unavailable(e.into()),
            e => Self::Internal(e.into()),
        }
    }
}

async fn subscription(state: &AppState, raw: &str) -> Result<Subscription, ApiError> {
    let id = params::id(raw, "webhook_id")?;
    state.webhooks.database.subscription(id).await?.ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))
}

/// Creates a subscription; answers it with its signing secret.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "createWebhook",
    tag = "webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "The subscription, with its signing secret (shown this once)", body = WithSecret,
         headers(("location" = String, description = "The subscription's URL"))),
    ),
)]
#[tracing::instrument(name = "create_webhook", skip_all)]
pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<impl IntoResponse, ApiError> {
    let body: NewWebhook = body::json(&body)?;
    let new = NewSubscription {
        url: url(&state, &body.url).await?,
        types: types(body.types)?,
        kinds: body.kinds.map(kinds).transpose()?,
        mode: body.mode,
        description: description(body.description)?,
        handshake: body.handshake,
    };
    let secret = SigningSecret::generate().map_err(|e| ApiError::Internal(e.into()))?;
    let subscription = new.create(secret.clone(), Utc::now());
    state.webhooks.database.insert_subscription(&subscription).await?;
    state.webhooks.dispatcher.wake();
    tracing::info!(webhook = %subscription.id, url = %masked_url(&subscription.url), "webhook subscription created");
    let location = format!("/v1/webhooks/{}", subscription.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(WithSecret { subscription, secret: secret.to_string() }),
    ))
}

/// A page of subscriptions, oldest first.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    params(params::IdPage),
    responses((status = 200, description = "A page of subscriptions", body = WebhookList)),
)]
#[tracing::instrument(name = "list_webhooks", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<params::IdPage>, QueryRejection>,
) -> Result<Json<WebhookList>, ApiError> {
    let query = params::query(query)?;
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let webhooks = state.webhooks.database.subscription_page(query.after, limit).await?;
    let next = webhooks.last().filter(|_| webhooks.len() == limit).map(|s| s.id);
    Ok(Json(WebhookList { webhooks, next }))
}

/// One subscription.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}",
    operation_id = "getWebhook",
    tag = "webhooks",
    params(params::WebhookPath),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 404, description = "No such subscription"),
    ),
)]
#[tracing::instrument(name = "get_webhook", skip(state))]
pub async fn get(
    State(state): State<AppState>,
    Path(params::WebhookPath { webhook_id }): Path<params::WebhookPath>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(subscription(&state, &webhook_id).await?))
}

/// Changes the fields given: url, types, kinds, mode, description, enabled, handshake.
#[utoipa::path(
    patch,
    path = "/v1/webhooks/{webhook_id}",
    operation_id = "updateWebhook",
    tag = "webhooks",
    params(params::WebhookPath),
    request_body = WebhookPatch,
    responses(
        (status = 200, description = "The subscription as changed", body = Subscription),
        (status = 404, description = "No such subscription"),
    ),
)]
#[tracing::instrument(name = "update_webhook", skip(state, body))]
pub async fn update(
    State(state): State<AppState>,
    Path(params::WebhookPath { webhook_id }): Path<params::WebhookPath>,
    body: Bytes,
) -> Result<Json<Subscription>, ApiError> {
    let mut current = subscription(&state, &webhook_id).await?;
    let body: WebhookPatch = body::json(&body)?;
    let url = match body.url {
        Some(raw) => Some(url(&state, &raw).await?),
        None => None,
    };
    let patch = SubscriptionPatch {
        url,
        types: body.types.map(types).transpose()?,
        kinds: body.kinds.map(|kinds_or_all| kinds_or_all.map(kinds).transpose()).transpose()?,
        mode: body.mode,
        description: body.description.map(description).transpose()?,
        enabled: body.enabled,
        handshake: body.handshake,
    };
    let fresh_handshake = patch.apply(&mut current, Utc::now());
    state.webhooks.database.update_subscription(&current, fresh_handshake).await?;
    state.webhooks.dispatcher.wake();
    Ok(Json(current))
}

/// Deletes a subscription and its deliveries.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{webhook_id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    params(params::WebhookPath),
    responses(
        (status = 204, description = "Deleted, with its deliveries"),
        (status = 404, description = "No such subscription"),
    ),
)]
#[tracing::instrument(name = "delete_webhook", skip(state))]
pub async fn delete(
    State(state): State<AppState>,
    Path(params::WebhookPath { webhook_id }): Path<params::WebhookPath>,
) -> Result<StatusCode, ApiError> {
    let id = params::id(&webhook_id, "webhook_id")?;
    if !state.webhooks.database.delete_subscription(id).await? {
        return Err(ApiError::NotFound(format!("no webhook {id}")));
    }
    state.webhooks.dispatcher.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the subscription a new secret; the old one signs alongside for 24 h.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/rotate-secret",
    operation_id = "rotateWebhookSecret",
    tag = "webhooks",
    params(params::WebhookPath),
    responses(
        (status = 200, description = "The subscription with its new secret (shown this once)", body = WithSecret),
        (status = 404, description = "No such subscription"),
    ),
)]
#[tracing::instrument(name = "rotate_webhook_secret", skip(state))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(params::WebhookPath { webhook_id }): Path<params::WebhookPath>,
) -> Result<Json<WithSecret>, ApiError> {
    let mut subscription = subscription(&state, &webhook_id).await?;
    let secret = SigningSecret::generate().map_err(|e| ApiError::Internal(e.into()))?;
    rotate(&mut subscription, secret.clone(), Utc::now());
    state.webhooks.database.update_subscription(&subscription, false).await?;
    state.webhooks.dispatcher.wake();
    Ok(Json(WithSecret { subscription, secret: secret.to_string() }))
}

/// A subscription's deliveries, oldest first, maybe in one status.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{webhook_id}/deliveries",
    operation_id = "listDeliveries",
    tag = "webhooks",
    params(params::WebhookPath, DeliveriesParams),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 404, description = "No such subscription"),
    ),
)]
#[tracing::instrument(name = "list_deliveries", skip(state, query))]
pub async fn deliveries(
    State(state): State<AppState>,
    Path(params::WebhookPath { webhook_id }): Path<params::WebhookPath>,
    query: Result<Query<DeliveriesParams>, QueryRejection>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let query = params::query(query)?;
    let subscription = subscription(&state, &webhook_id).await?;
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| ApiError::InvalidParameter {
            name: "status",
            detail: "status must be pending, delivered or dead".to_owned(),
        })?),
    };
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let read = DeliveryQuery { subscription: subscription.id, status, after: query.after, limit };
    let deliveries = state.webhooks.database.deliveries(&read).await?;
    let next = deliveries.last().filter(|_| deliveries.len() == limit).map(|d| d.sequence);
    Ok(Json(DeliveryPage { deliveries, next }))
}

/// Makes a delivery due now with a fresh retry window: a dead-lettered one too.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    operation_id = "retryDelivery",
    tag = "webhooks",
    params(params::WebhookPath, ("delivery_id" = Uuid, Path, description = "The delivery")),
    responses(
        (status = 202, description = "Due again now", body = Delivery),
        (status = 404, description = "No such subscription or delivery"),
        (status = 409, description = "The delivery was delivered already"),
    ),
)]
#[tracing::instrument(name = "retry_delivery", skip(state))]
pub async fn retry(
    State(state): State<AppState>,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let subscription = subscription(&state, &webhook_id).await?;
    let delivery = params::id(&delivery_id, "delivery_id")?;
    let database = &state.webhooks.database;
    match database.retry(subscription.id, delivery, Utc::now()).await? {
        Some(retried) => {
            state.webhooks.dispatcher.wake();
            Ok((StatusCode::ACCEPTED, Json(retried)))
        }
        None => match database.delivery(subscription.id, delivery).await? {
            Some(_) => Err(ApiError::Conflict(format!("delivery {delivery} was delivered already"))),
            None => Err(ApiError::NotFound(format!("webhook {} has no delivery {delivery}", subscription.id))),
        },
    }
}

/// Queues again every recommendation the subscription wants made since `since`.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/replay",
    operation_id = "replayWebhook",
    tag = "webhooks",
    params(params::WebhookPath),
    request_body = Replay,
    responses(
        (status = 202, description = "Queued again", body = Replayed),
        (status = 404, description = "No such subscription"),
    ),
)]
#[tracing::instrument(name = "replay_webhook", skip(state, body))]
pub async fn replay(
    State(state): State<AppState>,
    Path(params::WebhookPath { webhook_id }): Path<params::WebhookPath>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let subscription = subscription(&state, &webhook_id).await?;
    let Replay { since } = body::json(&body)?;
    let queued = state.webhooks.database.replay(&subscription, since, Utc::now()).await?;
    state.webhooks.dispatcher.wake();
    Ok((StatusCode::ACCEPTED, Json(Replayed { queued })))
}

/// Sends the subscription a `nudge.webhook.test` event, in the request's trace.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{webhook_id}/test",
    operation_id = "sendTestEvent",
    tag = "webhooks",
    params(params::WebhookPath),
    responses(
        (status = 202, description = "A `nudge.webhook.test` delivery, queued", body = Delivery),
        (status = 404, description = "No such subscription"),
    ),
)]
#[tracing::instrument(name = "test_webhook", skip(state, headers))]
pub async fn test(
    State(state): State<AppState>,
    Path(params::WebhookPath { webhook_id }): Path<params::WebhookPath>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let subscription = subscription(&state, &webhook_id).await?;
    let now = Utc::now();
    let event = Event {
        id: Uuid::now_v7().to_string(),
        event_type: TEST_EVENT_TYPE.to_owned(),
        subject: subscription.id.to_string(),
        time: now,
        data: json!({ "webhook_id": subscription.id, "message": "a test event from nudge" }),
        traceparent: telemetry::traceparent(&headers),
    };
    let delivery = state.webhooks.database.enqueue(subscription.id, &event, now).await?;
    state.webhooks.dispatcher.wake();
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
