//! Routing: recommendations from the outbox (or a replay) become one delivery
//! per subscription that wants them; a test event becomes one delivery.

use chrono::{DateTime, Utc};
use database::query;
use domain::InterventionKind;
use uuid::Uuid;

use super::{
    Database,
    deliveries::Delivery,
    lanes::{self, NewDelivery},
};
use crate::{EVENT_TYPE, Event, Queued, Subscription, WebhookError};

/// Recommendations a replay reads and queues per transaction.
const REPLAY_PAGE: usize = 1_000;

/// One delivery of each recommendation to each subscription that wants it.
fn deliveries_of<'a>(
    rows: &'a [Queued],
    subscriptions: &'a [&'a Subscription],
) -> Result<Vec<NewDelivery<'a>>, WebhookError> {
    let mut deliveries = Vec::with_capacity(rows.len() * subscriptions.len());
    for row in rows {
        let kind = InterventionKind::parse(&row.kind)
            .ok_or_else(|| WebhookError::stored("recommendation", format!("at {}: kind {}", row.position, row.kind)))?;
        for subscription in subscriptions.iter().filter(|s| s.wants(EVENT_TYPE, Some(kind))) {
            deliveries.push(NewDelivery {
                subscription: subscription.id,
                event_id: &row.id,
                subject: &row.player_id,
                event_type: EVENT_TYPE,
                time: row.created_at,
                data: &row.body,
                traceparent: row.traceparent.as_deref(),
            });
        }
    }
    Ok(deliveries)
}

impl Database {
    /// Moves up to `limit` recommendations from the outbox to a delivery per
    /// subscription that wants them, in one transaction; answers how many left
    /// the outbox.
    pub async fn route(&self, limit: usize, now: DateTime<Utc>) -> Result<usize, WebhookError> {
        let mut tx = self.database.begin().await?;
        lanes::lock(&mut tx).await?;
        // Takes out exactly the rows it routes, in one statement. Instances
        // commit their partitions' recommendations out of position order, so a
        // row may commit below the last one read: a second statement deleting
        // "up to the last one read" would drop it unrouted.
        let mut queued: Vec<(i64,)> = query(
            "DELETE FROM webhook_outbox WHERE position IN \
             (SELECT position FROM webhook_outbox ORDER BY position LIMIT $1) RETURNING position",
        )
        .bind(limit as i64)
        .fetch_all(&mut tx)
        .await?;
        if queued.is_empty() {
            return Ok(0);
        }
        queued.sort_unstable();
        let positions: Vec<u64> = queued.iter().map(|(p,)| u64::try_from(*p).unwrap_or_default()).collect();
        let rows = self.recommendations.at(&mut tx, &positions).await?;
        let subscriptions = self.subscriptions().await?;
        let enabled: Vec<&Subscription> = subscriptions.iter().filter(|s| s.enabled).collect();
        let deliveries = deliveries_of(&rows, &enabled)?;
        lanes::insert(&mut tx, &deliveries, now).await?;
        tx.commit().await?;
        metrics::counter!("nudge_webhook_routed_total").increment(deliveries.len() as u64);
        Ok(queued.len())
    }

    /// Queues one event for one subscription (a test event); answers the delivery.
    pub async fn enqueue(
        &self,
        subscription: Uuid,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Delivery, WebhookError> {
        let data = event.data.to_string();
        let traceparent = event.traceparent.map(|t| t.to_string());
        let delivery = [NewDelivery {
            subscription,
            event_id: &event.id,
            subject: &event.subject,
            event_type: &event.event_type,
            time: event.time,
            data: &data,
            traceparent: traceparent.as_deref(),
        }];
        let mut tx = self.database.begin().await?;
        lanes::lock(&mut tx).await?;
        lanes::insert(&mut tx, &delivery, now).await?;
        tx.commit().await?;
        self.delivery_of_event(subscription, &event.id).await
    }

    /// Queues again every recommendation the subscription wants made at or after
    /// `since`, in order; answers how many.
    pub async fn replay(
        &self,
        subscription: &Subscription,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, WebhookError> {
        let mut queued = 0;
        let mut after = None;
        loop {
            // Each page is read and queued in one transaction under the lanes
            // lock, which an erasure takes too: a recommendation read here
            // cannot be erased before its deliveries are queued, and then they
            // are erased with it.
            let mut tx = self.database.begin().await?;
            lanes::lock(&mut tx).await?;
            let rows = self.recommendations.since(&mut tx, since, after, REPLAY_PAGE).await?;
            let only = [subscription];
            let deliveries = deliveries_of(&rows, &only)?;
            lanes::insert(&mut tx, &deliveries, now).await?;
            tx.commit().await?;
            let Some(last) = rows.last() else { return Ok(queued) };
            after = Some(last.position);
            queued += deliveries.len();
        }
    }
}
