//! The outbox: how a new recommendation reaches the webhooks. The projection
//! queues it inside the transaction that stores it, so it is sent exactly when
//! it exists; the dispatcher's router moves it into one delivery per
//! subscription that wants it.

use std::{fmt::Debug, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use database::{Tx, query, values};
use tokio::sync::Notify;

/// Positions per multi-row insert into the outbox.
const ENQUEUE_CHUNK: usize = 1_000;

/// The outbox handle: the projection queues into it, the dispatcher's router
/// is woken by it. Clones share one wake-up.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    queued: Arc<Notify>,
}

impl Outbox {
    /// Queues the recommendations stored at these positions, in the caller's
    /// transaction; call [`Outbox::wake`] once it has committed.
    pub async fn enqueue(&self, tx: &mut Tx, positions: &[u64]) -> Result<(), sqlx::Error> {
        for chunk in positions.chunks(ENQUEUE_CHUNK) {
            let sql = format!("INSERT INTO webhook_outbox (position) {}", values(tx.is_postgres(), chunk.len(), 1));
            let mut statement = query(&sql);
            for position in chunk {
                statement = statement.bind(to_i64(*position));
            }
            statement.execute(&mut *tx).await?;
        }
        Ok(())
    }

    /// Drops these positions from the outbox, in the caller's transaction (an
    /// erasure: their recommendations go with it).
    pub async fn forget(&self, tx: &mut Tx, positions: &[u64]) -> Result<(), sqlx::Error> {
        for position in positions {
            query("DELETE FROM webhook_outbox WHERE position = $1").bind(to_i64(*position)).execute(&mut *tx).await?;
        }
        Ok(())
    }

    /// Tells the router that queued recommendations have committed.
    pub fn wake(&self) {
        self.queued.notify_one();
    }

    /// Completes once something was queued since the last call.
    pub(crate) async fn queued(&self) {
        self.queued.notified().await;
    }
}

/// A stored recommendation as a delivery carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// Its global position (the outbox's key).
    pub position: u64,
    /// Its id: the event's `id`.
    pub id: String,
    /// The player: the event's `subject`.
    pub player_id: String,
    /// Its intervention kind, as stored.
    pub kind: String,
    /// When it was made: the event's `time`.
    pub created_at: DateTime<Utc>,
    /// The recommendation as JSON, sent as it is as the event's `data`.
    pub body: String,
    /// The W3C trace context it was made in.
    pub traceparent: Option<String>,
}

/// Where the router and a replay read the recommendations they queue, in their
/// own transaction: the projection's read model, which owns them.
#[async_trait]
pub trait Recommendations: Debug + Send + Sync + 'static {
    /// Those stored at these positions, in position order (erased ones are gone).
    async fn at(&self, tx: &mut Tx, positions: &[u64]) -> Result<Vec<Queued>, sqlx::Error>;

    /// Up to `limit` made at or after `since`, after position `after`, in position order.
    async fn since(
        &self,
        tx: &mut Tx,
        since: DateTime<Utc>,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Queued>, sqlx::Error>;
}

/// A position as the tables keep it.
pub(crate) fn to_i64(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}
