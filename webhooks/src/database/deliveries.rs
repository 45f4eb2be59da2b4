//! Delivery rows: routed from the outbox, claimed by the dispatcher, settled
//! by the subscriber's answer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use database::query;
use domain::TraceParent;
use serde::Serialize;
use uuid::Uuid;

use super::{Database, lanes::WAITING, millis, time};
use crate::{Event, WebhookError};

const COLUMNS: &str = "seq, id, subscription_id, player_id, event_type, event_id, event_time, data, created_at, \
     status, attempts, retry_from, next_attempt_at, leased_until, last_attempt_at, last_status, last_error, \
     last_latency_ms, delivered_at, traceparent";

/// The condition of a delivery being due at `now` (a statement's parameter):
/// pending, its time come, and the lease of an attempt in flight ended.
pub(super) fn due(now: &str) -> String {
    format!("status = 'pending' AND next_attempt_at <= {now} AND leased_until <= {now}")
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DeliveryStatus)]
pub enum Status {
    /// Not delivered yet: due, in flight or waiting to be retried.
    Pending,
    /// The subscriber answered 2xx.
    Delivered,
    /// Given up on after the last attempt; kept, and can be retried.
    Dead,
}

impl Status {
    /// The status as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// Reads a status as written.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead].into_iter().find(|v| v.as_str() == s)
    }
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Its id.
    pub id: Uuid,
    /// Its place in the subscription's deliveries (the list's cursor).
    pub sequence: u64,
    /// The subscription.
    pub subscription_id: Uuid,
    /// The event's `id`.
    pub event_id: String,
    /// The event's `type`.
    pub event_type: String,
    /// The player (the event's `subject`).
    pub player_id: String,
    /// Where it stands.
    pub status: Status,
    /// Attempts made.
    pub attempts: u32,
    /// When it is tried next; `null` once settled, or while an earlier delivery
    /// of the same player is pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub last_latency_ms: Option<u64>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the subscriber took it.
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: String,
    subscription_id: String,
    player_id: String,
    event_type: String,
    event_id: String,
    event_time: i64,
    data: String,
    created_at: i64,
    status: String,
    attempts: i32,
    retry_from: i64,
    next_attempt_at: i64,
    leased_until: i64,
    last_attempt_at: Option<i64>,
    last_status: Option<i32>,
    last_error: Option<String>,
    last_latency_ms: Option<i64>,
    delivered_at: Option<i64>,
    traceparent: Option<String>,
}

impl TryFrom<Row> for Delivery {
    type Error = WebhookError;

    fn try_from(row: Row) -> Result<Self, WebhookError> {
        let bad = |detail: String| WebhookError::stored("delivery", format!("{}: {detail}", row.id));
        let status = Status::parse(&row.status).ok_or_else(|| bad(format!("status {}", row.status)))?;
        Ok(Delivery {
            id: row.id.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
            sequence: row.seq.max(0) as u64,
            subscription_id: row.subscription_id.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
            event_id: row.event_id,
            event_type: row.event_type,
            player_id: row.player_id,
            status,
            attempts: row.attempts.max(0) as u32,
            // In flight, it is tried again when its lease ends.
            next_attempt_at: (status == Status::Pending && row.next_attempt_at != WAITING)
                .then(|| time(row.next_attempt_at.max(row.leased_until))),
            last_attempt_at: row.last_attempt_at.map(time),
            last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: row.last_error,
            last_latency_ms: row.last_latency_ms.map(|ms| ms.max(0) as u64),
            created_at: time(row.created_at),
            delivered_at: row.delivered_at.map(time),
        })
    }
}

/// A delivery the dispatcher claimed: it is in flight until its lease ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// Its row.
    pub seq: i64,
    /// Its subscription.
    pub subscription: Uuid,
    /// Its id.
    pub id: Uuid,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// When its retry window opened.
    pub retry_from: DateTime<Utc>,
    /// The event.
    pub event: Event,
}

impl TryFrom<Row> for Claimed {
    type Error = WebhookError;

    fn try_from(row: Row) -> Result<Self, WebhookError> {
        let bad = |detail: String| WebhookError::stored("delivery", format!("{}: {detail}", row.id));
        Ok(Claimed {
            seq: row.seq,
            subscription: row.subscription_id.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
            id: row.id.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
            attempts: row.attempts.max(0) as u32,
            retry_from: time(row.retry_from),
            event: Event {
                id: row.event_id,
                event_type: row.event_type,
                subject: row.player_id,
                time: time(row.event_time),
                data: serde_json::from_str(&row.data).map_err(|e| bad(e.to_string()))?,
                traceparent: row.traceparent.as_deref().and_then(TraceParent::parse),
            },
        })
    }
}

/// Which deliveries to list.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryQuery {
    /// The subscription.
    pub subscription: Uuid,
    /// Only those in this status.
    pub status: Option<Status>,
    /// Only those after this sequence number (the cursor).
    pub after: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

impl Database {
    /// Claims up to `limit` due deliveries of one subscription, each the oldest
    /// pending one of its player, counting the attempt and leasing it until
    /// `lease_until` (when a crashed attempt becomes due again). The lease has
    /// a column of its own, in no index, so that the claim rewrites none.
    pub async fn claim(
        &self,
        subscription: Uuid,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Claimed>, WebhookError> {
        let due = due("$2");
        let sql = format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, leased_until = $1, last_attempt_at = $2 \
             WHERE seq IN (SELECT seq FROM webhook_deliveries WHERE subscription_id = $3 AND {due} \
                 ORDER BY next_attempt_at, seq LIMIT $4) \
             AND {due} RETURNING {COLUMNS}"
        );
        let rows: Vec<Row> = query(&sql)
            .bind(millis(lease_until))
            .bind(millis(now))
            .bind(subscription.to_string())
            .bind(limit as i64)
            .fetch_all(self.database.writer())
            .await?;
        let mut claimed = rows.into_iter().map(Claimed::try_from).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|c| c.seq);
        Ok(claimed)
    }

    /// A subscription's deliveries, oldest first.
    pub async fn deliveries(&self, filter: &DeliveryQuery) -> Result<Vec<Delivery>, WebhookError> {
        let mut sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND seq > $2");
        if filter.status.is_some() {
            sql.push_str(" AND status = $4");
        }
        sql.push_str(" ORDER BY seq LIMIT $3");
        let mut statement = query(&sql)
            .bind(filter.subscription.to_string())
            .bind(filter.after.unwrap_or(0) as i64)
            .bind(filter.limit as i64);
        if let Some(status) = filter.status {
            statement = statement.bind(status.as_str());
        }
        let rows: Vec<Row> = statement.fetch_all(self.database.reader()).await?;
        rows.into_iter().map(Delivery::try_from).collect()
    }

    /// A player's deliveries to every subscription, newest first, maybe of one
    /// event only (a recommendation's id is its event's).
    pub async fn deliveries_of_player(
        &self,
        player_id: &str,
        event_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, WebhookError> {
        let of_event = if event_id.is_some() { " AND event_id = $3" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE player_id = $1{of_event} ORDER BY seq DESC LIMIT $2"
        );
        let mut statement = query(&sql).bind(player_id).bind(limit as i64);
        if let Some(event_id) = event_id {
            statement = statement.bind(event_id);
        }
        let rows: Vec<Row> = statement.fetch_all(self.database.reader()).await?;
        rows.into_iter().map(Delivery::try_from).collect()
    }

    /// Makes a delivery due now with a fresh retry window (a dead one comes back);
    /// answers it, or `None` if the subscription has no such delivery.
    pub async fn retry(
        &self,
        subscription: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>, WebhookError> {
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, retry_from = $1, next_attempt_at = $1, \
             leased_until = 0 \
             WHERE subscription_id = $2 AND id = $3 AND status <> 'delivered' RETURNING {COLUMNS}"
        );
        let row: Option<Row> = query(&sql)
            .bind(millis(now))
            .bind(subscription.to_string())
            .bind(delivery.to_string())
            .fetch_optional(self.database.writer())
            .await?;
        row.map(Delivery::try_from).transpose()
    }

    /// One delivery of a subscription.
    pub async fn delivery(&self, subscription: Uuid, delivery: Uuid) -> Result<Option<Delivery>, WebhookError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND id = $2");
        let row: Option<Row> = query(&sql)
            .bind(subscription.to_string())
            .bind(delivery.to_string())
            .fetch_optional(self.database.reader())
            .await?;
        row.map(Delivery::try_from).transpose()
    }

    /// The latest delivery of an event to a subscription, read from the writer
    /// (it was just queued).
    pub(super) async fn delivery_of_event(&self, subscription: Uuid, event_id: &str) -> Result<Delivery, WebhookError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND event_id = $2 ORDER BY seq DESC LIMIT 1"
        );
        let row: Row =
            query(&sql).bind(subscription.to_string()).bind(event_id).fetch_one(self.database.writer()).await?;
        Delivery::try_from(row)
    }

    /// Per subscription: pending deliveries and when the oldest was created.
    pub async fn backlog(&self) -> Result<HashMap<Uuid, (u64, DateTime<Utc>)>, WebhookError> {
        let sql = "SELECT subscription_id, COUNT(*), MIN(created_at) FROM webhook_deliveries \
             WHERE status = 'pending' GROUP BY subscription_id";
        let rows: Vec<(String, i64, i64)> = query(sql).fetch_all(self.database.reader()).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, count, oldest)| Some((id.parse().ok()?, (count.max(0) as u64, time(oldest)))))
            .collect())
    }

    /// Recommendations still in the outbox.
    pub async fn outbox_len(&self) -> Result<u64, WebhookError> {
        let (count,): (i64,) = query("SELECT COUNT(*) FROM webhook_outbox").fetch_one(self.database.reader()).await?;
        Ok(count.max(0) as u64)
    }
}
