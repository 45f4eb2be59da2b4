//! Settling attempts: the subscriber's answer decides where a delivery stands,
//! and a settled delivery lets the next one of its lane go.

use chrono::{DateTime, Utc};
use database::{Tx, query, values};
use uuid::Uuid;

use super::{
    Database,
    lanes::{self, WAITING},
    millis,
};
use crate::WebhookError;

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
        }
    }
}

impl Database {
    /// Records attempts' outcomes, in one transaction, and lets the next
    /// delivery of each settled one's player go.
    pub async fn settle(&self, outcomes: &[Outcome]) -> Result<(), WebhookError> {
        let rows: Vec<Settled<'_>> = outcomes.iter().map(Settled::of).collect();
        let mut tx = self.database.begin().await?;
        lanes::lock(&mut tx).await?;
        // Two statements for the whole batch: over the network, and on
        // SQLite's one writer, whose every statement is a round trip to its
        // thread that the dispatcher's requests wait behind.
        match &mut tx {
            Tx::Postgres(pg) => settle_postgres(pg, &rows).await?,
            Tx::Sqlite(_) => settle_sqlite(&mut tx, &rows).await?,
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The update recording outcomes, whose columns `rows` (a `VALUES` list or
/// a `SELECT`) gives.
fn record_sql(rows: &str) -> String {
    format!(
        "WITH v(seq, status, next, code, error, latency, delivered) AS ({rows}) \
         UPDATE webhook_deliveries SET status = v.status, next_attempt_at = v.next, leased_until = 0, \
         last_status = v.code, last_error = v.error, last_latency_ms = v.latency, delivered_at = v.delivered \
         FROM v WHERE webhook_deliveries.seq = v.seq AND webhook_deliveries.status = 'pending'"
    )
}

/// The update making due (at `now`) the next waiting (`waiting`) delivery of
/// each lane `lanes` gives (subscription, player).
fn promote_sql(lanes: &str, now: &str, waiting: &str) -> String {
    format!(
        "WITH l(subscription, player) AS ({lanes}) \
         UPDATE webhook_deliveries SET next_attempt_at = {now} WHERE next_attempt_at = {waiting} AND seq IN \
         (SELECT (SELECT e.seq FROM webhook_deliveries e WHERE e.subscription_id = l.subscription \
             AND e.player_id = l.player AND e.status = 'pending' ORDER BY e.seq LIMIT 1) FROM l)"
    )
}

/// Rows a SQLite statement settles: 7 parameters each, well under its limit.
const SQLITE_CHUNK: usize = 500;

/// Settles a batch on SQLite: the rows as `VALUES`.
async fn settle_sqlite(tx: &mut Tx, rows: &[Settled<'_>]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(SQLITE_CHUNK) {
        let sql = record_sql(&values(false, chunk.len(), 7));
        let mut statement = query(&sql);
        for row in chunk {
            statement = statement
                .bind(row.seq)
                .bind(row.status)
                .bind(row.next)
                .bind(row.code)
                .bind(row.error)
                .bind(row.latency)
                .bind(row.delivered);
        }
        statement.execute(&mut *tx).await?;
    }
    let settled: Vec<&Settled<'_>> = rows.iter().filter(|r| r.status != "pending").collect();
    for chunk in settled.chunks(SQLITE_CHUNK) {
        let sql = promote_sql(&values(false, chunk.len(), 2), "?", "?");
        let mut statement = query(&sql);
        for row in chunk {
            statement = statement.bind(row.subscription.as_str()).bind(row.player);
        }
        statement.bind(millis(Utc::now())).bind(WAITING).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Settles a batch on PostgreSQL: every column bound as an array and unnested.
async fn settle_postgres(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: &[Settled<'_>],
) -> Result<(), sqlx::Error> {
    let column = |f: &dyn Fn(&Settled<'_>) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let settled: Vec<&Settled<'_>> = rows.iter().filter(|r| r.status != "pending").collect();
    sqlx::query(&record_sql(
        "SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], \
         $7::bigint[])",
    ))
    .bind(column(&|r| r.seq))
    .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
    .bind(column(&|r| r.next))
    .bind(rows.iter().map(|r| r.code).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.error).collect::<Vec<_>>())
    .bind(column(&|r| r.latency))
    .bind(rows.iter().map(|r| r.delivered).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    sqlx::query(&promote_sql("SELECT * FROM UNNEST($1::text[], $2::text[])", "$3", "$4"))
        .bind(settled.iter().map(|r| r.subscription.clone()).collect::<Vec<_>>())
        .bind(settled.iter().map(|r| r.player).collect::<Vec<_>>())
        .bind(millis(Utc::now()))
        .bind(WAITING)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
