//! Dapr's programmatic subscription (`GET /dapr/subscribe`).

use axum::{Json, extract::State};

use crate::{server::AppState, server::dapr::Subscription};

/// The topic nudge subscribes to, routed to the ingest endpoint; an empty list
/// when no topic is configured.
#[utoipa::path(
    get,
    path = "/dapr/subscribe",
    operation_id = "getDaprSubscriptions",
    tag = "events",
    responses((status = 200, description = "Dapr's programmatic subscription", body = Vec<Subscription>)),
)]
#[tracing::instrument(name = "dapr_subscribe", skip_all)]
pub async fn subscribe(State(state): State<AppState>) -> Json<Vec<Subscription>> {
    let subscriptions = state.dapr.subscription.iter().map(|t| Subscription {
        pubsubname: t.pubsub.clone(),
        topic: t.topic.clone(),
        route: "/v1/events",
    });
    Json(subscriptions.collect())
}
