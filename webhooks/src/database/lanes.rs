//! Lanes: each player's deliveries to one subscription go one at a time, in
//! order. A delivery waiting behind an earlier pending one is never due until
//! that one settles and promotes it, so every due delivery heads its lane and a
//! claim is a plain walk of the due index (past those whose lease has not ended).

use chrono::{DateTime, Utc};
use database::{Tx, query, values};
use uuid::Uuid;

use super::millis;

/// The `next_attempt_at` of a delivery waiting behind an earlier pending one.
pub(super) const WAITING: i64 = i64::MAX;

/// Rows per multi-row insert: 13 parameters each, under both databases' limits.
const INSERT_CHUNK: usize = 400;

const INSERT_COLUMNS: &str = "id, subscription_id, player_id, event_type, event_id, event_time, data, created_at, \
     status, attempts, retry_from, next_attempt_at, traceparent";

/// Makes due the deliveries inserted after `$2` (at `$1`) that head their
/// lane: no earlier pending delivery of the same player and subscription.
const PROMOTE_NEW: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1 \
     WHERE seq > $2 AND status = 'pending' AND next_attempt_at = $3 \
     AND seq = (SELECT e.seq FROM webhook_deliveries e WHERE e.subscription_id = webhook_deliveries.subscription_id \
         AND e.player_id = webhook_deliveries.player_id AND e.status = 'pending' ORDER BY e.seq LIMIT 1)";

/// Serialises the transactions that look at a lane's head and change it:
/// routing (also one router at a time across processes, so a player's
/// deliveries keep their order), other inserts, settling and erasure. Without
/// it an insert could see the head pending and wait while the settlement, not
/// seeing the insert, promoted nothing. SQLite's one writer already does this;
/// PostgreSQL takes an advisory lock until the transaction ends.
pub(super) async fn lock(tx: &mut Tx) -> Result<(), sqlx::Error> {
    if tx.is_postgres() {
        query("SELECT pg_advisory_xact_lock(7315553)").execute(tx).await?;
    }
    Ok(())
}

/// A new delivery row; `data` is the event's data as JSON text.
pub(super) struct NewDelivery<'a> {
    pub(super) subscription: Uuid,
    pub(super) event_id: &'a str,
    pub(super) subject: &'a str,
    pub(super) event_type: &'a str,
    pub(super) time: DateTime<Utc>,
    pub(super) data: &'a str,
    pub(super) traceparent: Option<&'a str>,
}

/// Inserts deliveries, waiting, then makes due those that head their lane; in
/// `tx`, which holds the lanes lock.
pub(super) async fn insert(tx: &mut Tx, deliveries: &[NewDelivery<'_>], now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let (before,): (i64,) = query("SELECT COALESCE(MAX(seq), 0) FROM webhook_deliveries").fetch_one(&mut *tx).await?;
    let now = millis(now);
    for chunk in deliveries.chunks(INSERT_CHUNK) {
        let sql = insert_sql(tx.is_postgres(), chunk.len());
        let mut statement = query(&sql);
        for delivery in chunk {
            statement = statement
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
        statement.execute(&mut *tx).await?;
    }
    query(PROMOTE_NEW).bind(now).bind(before).bind(WAITING).execute(tx).await?;
    Ok(())
}

/// The statement inserting `rows` deliveries.
fn insert_sql(postgres: bool, rows: usize) -> String {
    format!("INSERT INTO webhook_deliveries ({INSERT_COLUMNS}) {}", values(postgres, rows, 13))
}
