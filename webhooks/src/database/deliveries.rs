//! Delivery rows: routed from the outbox, claimed by the dispatcher, settled
//! by the subscriber's answer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{InterventionKind, TraceParent};
use serde::Serialize;
use uuid::Uuid;

use store::Pools;

use super::{Database, millis, time};
use crate::{EVENT_TYPE, Event, Subscription, WebhookError};

/// Rows per multi-row insert: 13 parameters each, under both databases' limits.
const INSERT_CHUNK: usize = 400;

/// The `next_attempt_at` of a delivery waiting behind an earlier pending one of
/// the same player: never due until that one is settled and promotes it. So
/// every due delivery is the head of its player's lane, and a claim is a plain
/// walk of the due index.
const WAITING: i64 = i64::MAX;

/// Makes due the deliveries inserted after `$2` (at `$1`) that head their
/// lane: no earlier pending delivery of the same player and subscription.
const PROMOTE_NEW: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1 \
     WHERE seq > $2 AND status = 'pending' AND next_attempt_at = $3 \
     AND seq = (SELECT e.seq FROM webhook_deliveries e WHERE e.subscription_id = webhook_deliveries.subscription_id \
         AND e.player_id = webhook_deliveries.player_id AND e.status = 'pending' ORDER BY e.seq LIMIT 1)";

/// Makes due (at `$1`) the next delivery of player `$3` to subscription `$2`
/// if it waits.
const PROMOTE_NEXT: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1 \
     WHERE next_attempt_at = $4 AND seq = (SELECT e.seq FROM webhook_deliveries e \
         WHERE e.subscription_id = $2 AND e.player_id = $3 AND e.status = 'pending' ORDER BY e.seq LIMIT 1)";

/// The PostgreSQL advisory lock that serialises the transactions that look at
/// a lane's head and change it: routing (also one router at a time across
/// processes, so a player's deliveries keep their order), other inserts, and
/// settling. Without it an insert could see the head pending and wait while
/// the settlement, not seeing the insert, promoted nothing.
pub(super) const LANES_LOCK: &str = "SELECT pg_advisory_xact_lock(7315553)";

/// Inserts deliveries in a transaction `$tx` of database `$db`, waiting, then
/// makes due those that head their lane.
macro_rules! insert_deliveries {
    ($db:expr, $tx:expr, $deliveries:expr, $now:expr) => {{
        if $db.is_postgres() {
            sqlx::query(LANES_LOCK).execute(&mut *$tx).await?;
        }
        let before: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM webhook_deliveries").fetch_one(&mut *$tx).await?;
        for chunk in $deliveries.chunks(INSERT_CHUNK) {
            let sql = insert_sql($db, chunk.len());
            insert_query(&sql, chunk, $now).execute(&mut *$tx).await?;
        }
        sqlx::query(PROMOTE_NEW).bind(millis($now)).bind(before).bind(WAITING).execute(&mut *$tx).await?;
    }};
}

const INSERT_COLUMNS: &str = "id, subscription_id, player_id, event_type, event_id, event_time, data, created_at, \
     status, attempts, retry_from, next_attempt_at, traceparent";

const COLUMNS: &str = "seq, id, subscription_id, player_id, event_type, event_id, event_time, data, created_at, \
     status, attempts, retry_from, next_attempt_at, last_attempt_at, last_status, last_error, last_latency_ms, delivered_at, \
     traceparent";

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
            next_attempt_at: (status == Status::Pending && row.next_attempt_at != WAITING)
                .then(|| time(row.next_attempt_at)),
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

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The delivery.
    pub seq: i64,
    /// Its subscription.
    pub subscription: Uuid,
    /// Its player, whose next delivery it may let go.
    pub player_id: String,
    /// Where it stands now.
    pub settlement: Settlement,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub latency_ms: u64,
    /// When the attempt ended.
    pub at: DateTime<Utc>,
}

/// Where an attempt leaves a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Taken.
    Delivered,
    /// To be tried again then.
    RetryAt(DateTime<Utc>),
    /// Given up on.
    Dead,
}

/// An outcome as the columns it writes.
struct Settled<'a> {
    seq: i64,
    subscription: String,
    player: &'a str,
    status: &'static str,
    next: i64,
    code: Option<i32>,
    error: Option<&'a str>,
    latency: i64,
    delivered: Option<i64>,
    at: i64,
}

impl<'a> Settled<'a> {
    fn of(outcome: &'a Outcome) -> Self {
        let at = millis(outcome.at);
        let (status, next, delivered) = match outcome.settlement {
            Settlement::Delivered => ("delivered", at, Some(at)),
            Settlement::RetryAt(next) => ("pending", millis(next), None),
            Settlement::Dead => ("dead", at, None),
        };
        Settled {
            seq: outcome.seq,
            subscription: outcome.subscription.to_string(),
            player: &outcome.player_id,
            status,
            next,
            code: outcome.status.map(i32::from),
            error: outcome.error.as_deref(),
            latency: outcome.latency_ms as i64,
            delivered,
            at,
        }
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

/// A new delivery row; `data` is the event's data as JSON text.
struct NewDelivery<'a> {
    subscription: Uuid,
    event_id: &'a str,
    subject: &'a str,
    event_type: &'a str,
    time: DateTime<Utc>,
    data: &'a str,
    traceparent: Option<&'a str>,
}

/// A stored recommendation as the outbox and a replay read it: (position, id,
/// player, kind, created_at, body, traceparent). The body is the event's data as it is.
type StoredRecommendation = (i64, String, String, String, DateTime<Utc>, String, Option<String>);

const RECOMMENDATION_COLUMNS: &str = "r.position, r.id, r.player_id, r.kind, r.created_at, r.body, r.traceparent";

/// One delivery of each recommendation to each subscription that wants it.
fn deliveries_of<'a>(
    rows: &'a [StoredRecommendation],
    subscriptions: &'a [&'a Subscription],
) -> Result<Vec<NewDelivery<'a>>, WebhookError> {
    let mut deliveries = Vec::with_capacity(rows.len() * subscriptions.len());
    for (position, id, player, kind, created_at, body, traceparent) in rows {
        let kind = InterventionKind::parse(kind)
            .ok_or_else(|| WebhookError::stored("recommendation", format!("at {position}: kind {kind}")))?;
        for subscription in subscriptions.iter().filter(|s| s.wants(EVENT_TYPE, Some(kind))) {
            deliveries.push(NewDelivery {
                subscription: subscription.id,
                event_id: id,
                subject: player,
                event_type: EVENT_TYPE,
                time: *created_at,
                data: body,
                traceparent: traceparent.as_deref(),
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
        let select = format!(
            "SELECT {RECOMMENDATION_COLUMNS} FROM webhook_outbox o JOIN recommendations r ON r.position = o.position \
             ORDER BY o.position LIMIT $1"
        );
        store::with_pools!(&self.0, writer, _reader => {
            let mut tx = writer.begin().await?;
            if self.is_postgres() {
                sqlx::query(LANES_LOCK).execute(&mut *tx).await?;
            }
            let rows: Vec<StoredRecommendation> =
                sqlx::query_as(&select).bind(limit as i64).fetch_all(&mut *tx).await?;
            let Some(last) = rows.last().map(|r| r.0) else { return Ok(0) };
            let subscriptions = self.subscriptions().await?;
            let enabled: Vec<&Subscription> = subscriptions.iter().filter(|s| s.enabled).collect();
            let deliveries = deliveries_of(&rows, &enabled)?;
            insert_deliveries!(self, tx, deliveries, now);
            sqlx::query("DELETE FROM webhook_outbox WHERE position <= $1").bind(last).execute(&mut *tx).await?;
            tx.commit().await?;
            metrics::counter!("nudge_webhook_routed_total").increment(deliveries.len() as u64);
            Ok(rows.len())
        })
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
        store::with_pools!(&self.0, writer, _reader => {
            let mut tx = writer.begin().await?;
            insert_deliveries!(self, tx, delivery, now);
            tx.commit().await?;
        });
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND event_id = $2 ORDER BY seq DESC LIMIT 1"
        );
        let row: Row = store::with_pools!(&self.0, writer, _reader => {
            sqlx::query_as(&sql).bind(subscription.to_string()).bind(&event.id).fetch_one(writer).await?
        });
        Delivery::try_from(row)
    }

    /// Queues again every recommendation the subscription wants made at or after
    /// `since`, in order; answers how many.
    pub async fn replay(
        &self,
        subscription: &Subscription,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, WebhookError> {
        let select = format!(
            "SELECT {RECOMMENDATION_COLUMNS} FROM recommendations r WHERE r.created_at >= $1 AND r.position > $2 \
             ORDER BY r.position LIMIT 1000"
        );
        let mut queued = 0;
        let mut after = -1i64;
        loop {
            // Each page is read and queued in one transaction under the lanes
            // lock (SQLite's one writer, PostgreSQL's advisory lock), which an
            // erasure takes too: a recommendation read here cannot be erased
            // before its deliveries are queued, and then they are erased with it.
            let page = store::with_pools!(&self.0, writer, _reader => {
                let mut tx = writer.begin().await?;
                if self.is_postgres() {
                    sqlx::query(LANES_LOCK).execute(&mut *tx).await?;
                }
                let rows: Vec<StoredRecommendation> =
                    sqlx::query_as(&select).bind(since).bind(after).fetch_all(&mut *tx).await?;
                let only = [subscription];
                let deliveries = deliveries_of(&rows, &only)?;
                insert_deliveries!(self, tx, deliveries, now);
                tx.commit().await?;
                rows.last().map(|r| (r.0, deliveries.len()))
            });
            let Some((last, count)) = page else { return Ok(queued) };
            after = last;
            queued += count;
        }
    }

    /// Claims up to `limit` due deliveries of one subscription, each the oldest
    /// pending one of its player, counting the attempt and leasing it until
    /// `lease_until` (when a crashed attempt becomes due again).
    pub async fn claim(
        &self,
        subscription: Uuid,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Claimed>, WebhookError> {
        let sql = format!(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1, last_attempt_at = $2 \
             WHERE seq IN (SELECT seq FROM webhook_deliveries \
                 WHERE subscription_id = $3 AND status = 'pending' AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at, seq LIMIT $4) \
             AND status = 'pending' AND next_attempt_at <= $2 RETURNING {COLUMNS}"
        );
        let rows: Vec<Row> = store::with_pools!(&self.0, writer, _reader => {
            sqlx::query_as(&sql)
                .bind(millis(lease_until))
                .bind(millis(now))
                .bind(subscription.to_string())
                .bind(limit as i64)
                .fetch_all(writer)
                .await?
        });
        let mut claimed = rows.into_iter().map(Claimed::try_from).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|c| c.seq);
        Ok(claimed)
    }

    /// Records attempts' outcomes, in one transaction, and lets the next
    /// delivery of each settled one's player go.
    pub async fn settle(&self, outcomes: &[Outcome]) -> Result<(), WebhookError> {
        let rows: Vec<Settled<'_>> = outcomes.iter().map(Settled::of).collect();
        match self.pools() {
            // In process: a statement per row costs little.
            Pools::Sqlite { writer, .. } => {
                let sql = "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, last_status = $3, \
                     last_error = $4, last_latency_ms = $5, delivered_at = $6 WHERE seq = $7 AND status = 'pending'";
                let mut tx = writer.begin().await?;
                for row in &rows {
                    sqlx::query(sql)
                        .bind(row.status)
                        .bind(row.next)
                        .bind(row.code)
                        .bind(row.error)
                        .bind(row.latency)
                        .bind(row.delivered)
                        .bind(row.seq)
                        .execute(&mut *tx)
                        .await?;
                    if row.status != "pending" {
                        sqlx::query(PROMOTE_NEXT)
                            .bind(row.at)
                            .bind(&row.subscription)
                            .bind(row.player)
                            .bind(WAITING)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
            }
            // Over the network: two statements for the whole batch.
            Pools::Postgres(pool) => {
                let column = |f: &dyn Fn(&Settled<'_>) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
                let settled: Vec<&Settled<'_>> = rows.iter().filter(|r| r.status != "pending").collect();
                let mut tx = pool.begin().await?;
                sqlx::query(LANES_LOCK).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE webhook_deliveries d SET status = v.status, next_attempt_at = v.next, \
                     last_status = v.code, last_error = v.error, last_latency_ms = v.latency, delivered_at = v.delivered \
                     FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::bigint[]) \
                         AS v(seq, status, next, code, error, latency, delivered) \
                     WHERE d.seq = v.seq AND d.status = 'pending'",
                )
                .bind(column(&|r| r.seq))
                .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
                .bind(column(&|r| r.next))
                .bind(rows.iter().map(|r| r.code).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.error).collect::<Vec<_>>())
                .bind(column(&|r| r.latency))
                .bind(rows.iter().map(|r| r.delivered).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE next_attempt_at = $2 AND seq IN \
                     (SELECT (SELECT e.seq FROM webhook_deliveries e WHERE e.subscription_id = l.subscription \
                         AND e.player_id = l.player AND e.status = 'pending' ORDER BY e.seq LIMIT 1) \
                      FROM UNNEST($3::text[], $4::text[]) AS l(subscription, player))",
                )
                .bind(millis(Utc::now()))
                .bind(WAITING)
                .bind(settled.iter().map(|r| r.subscription.clone()).collect::<Vec<_>>())
                .bind(settled.iter().map(|r| r.player).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// A subscription's deliveries, oldest first.
    pub async fn deliveries(&self, query: &DeliveryQuery) -> Result<Vec<Delivery>, WebhookError> {
        let mut sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND seq > $2");
        if query.status.is_some() {
            sql.push_str(" AND status = $4");
        }
        sql.push_str(" ORDER BY seq LIMIT $3");
        let rows: Vec<Row> = store::with_pools!(&self.0, _writer, reader => {
            let mut statement = sqlx::query_as(&sql)
                .bind(query.subscription.to_string())
                .bind(query.after.unwrap_or(0) as i64)
                .bind(query.limit as i64);
            if let Some(status) = query.status {
                statement = statement.bind(status.as_str());
            }
            statement.fetch_all(reader).await?
        });
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
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, retry_from = $1, next_attempt_at = $1 \
             WHERE subscription_id = $2 AND id = $3 AND status <> 'delivered' RETURNING {COLUMNS}"
        );
        let row: Option<Row> = store::with_pools!(&self.0, writer, _reader => {
            sqlx::query_as(&sql).bind(millis(now)).bind(subscription.to_string()).bind(delivery.to_string()).fetch_optional(writer).await?
        });
        row.map(Delivery::try_from).transpose()
    }

    /// One delivery of a subscription.
    pub async fn delivery(&self, subscription: Uuid, delivery: Uuid) -> Result<Option<Delivery>, WebhookError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE subscription_id = $1 AND id = $2");
        let row: Option<Row> = store::with_pools!(&self.0, _writer, reader => {
            sqlx::query_as(&sql).bind(subscription.to_string()).bind(delivery.to_string()).fetch_optional(reader).await?
        });
        row.map(Delivery::try_from).transpose()
    }

    /// Per subscription: pending deliveries and when the oldest was created.
    pub async fn backlog(&self) -> Result<HashMap<Uuid, (u64, DateTime<Utc>)>, WebhookError> {
        let sql = "SELECT subscription_id, COUNT(*), MIN(created_at) FROM webhook_deliveries \
             WHERE status = 'pending' GROUP BY subscription_id";
        let rows: Vec<(String, i64, i64)> =
            store::with_pools!(&self.0, _writer, reader => sqlx::query_as(sql).fetch_all(reader).await?);
        Ok(rows
            .into_iter()
            .filter_map(|(id, count, oldest)| Some((id.parse().ok()?, (count.max(0) as u64, time(oldest)))))
            .collect())
    }

    /// Recommendations still in the outbox.
    pub async fn outbox_len(&self) -> Result<u64, WebhookError> {
        let sql = "SELECT COUNT(*) FROM webhook_outbox";
        let count: i64 =
            store::with_pools!(&self.0, _writer, reader => sqlx::query_scalar(sql).fetch_one(reader).await?);
        Ok(count.max(0) as u64)
    }
}

/// The statement inserting `rows` deliveries. SQLite looks a `$n` parameter's
/// name up in a list, so thousands of them cost quadratic time: it gets `?`.
fn insert_sql(database: &Database, rows: usize) -> String {
    let mark = |n: usize| if database.is_postgres() { format!("${n}") } else { "?".to_owned() };
    let rows: Vec<String> =
        (0..rows).map(|r| format!("({})", (1..=13).map(|c| mark(r * 13 + c)).collect::<Vec<_>>().join(", "))).collect();
    format!("INSERT INTO webhook_deliveries ({INSERT_COLUMNS}) VALUES {}", rows.join(", "))
}

/// One multi-row insert of new, due deliveries.
fn insert_query<'q, DB: sqlx::Database>(
    sql: &'q str,
    deliveries: &'q [NewDelivery<'q>],
    now: DateTime<Utc>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::query(sql);
    let now = millis(now);
    for delivery in deliveries {
        query = query
            .bind(Uuid::now_v7().to_string())
            .bind(delivery.subscription.to_string())
            .bind(delivery.subject)
            .bind(delivery.event_type)
            .bind(delivery.event_id)
            .bind(millis(delivery.time))
            .bind(delivery.data)
            .bind(now)
            .bind("pending")
            .bind(0i32)
            .bind(now)
            .bind(WAITING)
            .bind(delivery.traceparent);
    }
    query
}
