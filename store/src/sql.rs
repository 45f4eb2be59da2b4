//! What the SQLite and PostgreSQL adapters share: the append transaction's steps
//! and the mapping of a stored row back to an event.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Database, Pool, Postgres, Sqlite, pool::PoolConnection};
use tokio::sync::watch;

use crate::{
    RecordedEvent, StoreError, StreamAppend,
    group_commit::{CallResult, GroupWriter},
    plan::{self, Existing, Row, Stored},
};

/// One append transaction, holding the store's write lock from `lock_and_read` on.
#[async_trait]
pub(crate) trait AppendTransaction: Send {
    /// Takes the write lock, then reads the last global position, the stored
    /// events among these (`source`, `id`) pairs and the last revision of each
    /// of these streams.
    async fn lock_and_read(&mut self, keys: &[(&str, &str)], streams: &[&str]) -> Result<Stored, StoreError>;
    /// Inserts the rows and moves the head to `head`.
    async fn insert(&mut self, rows: &[Row<'_>], head: u64) -> Result<(), StoreError>;
    /// Commits.
    async fn commit(self) -> Result<(), StoreError>;
}

/// A database the SQL adapters run on.
#[async_trait]
pub(crate) trait SqlDatabase: Database {
    /// Runs a statement without parameters.
    async fn run(conn: &mut Self::Connection, statement: &'static str) -> Result<(), sqlx::Error>;
}

#[async_trait]
impl SqlDatabase for Sqlite {
    async fn run(conn: &mut Self::Connection, statement: &'static str) -> Result<(), sqlx::Error> {
        sqlx::query(statement).execute(conn).await.map(drop)
    }
}

#[async_trait]
impl SqlDatabase for Postgres {
    async fn run(conn: &mut Self::Connection, statement: &'static str) -> Result<(), sqlx::Error> {
        sqlx::query(statement).execute(conn).await.map(drop)
    }
}

/// An open transaction on a pooled connection.
pub(crate) struct Transaction<DB: Database> {
    conn: Option<PoolConnection<DB>>,
}

impl<DB: SqlDatabase> Transaction<DB> {
    /// Takes a connection from `pool` and opens a transaction with `begin`.
    pub(crate) async fn begin(pool: &Pool<DB>, begin: &'static str) -> Result<Self, StoreError> {
        let mut conn = pool.acquire().await?;
        DB::run(&mut conn, begin).await?;
        Ok(Self { conn: Some(conn) })
    }

    /// The connection, while the transaction is open.
    pub(crate) fn conn(&mut self) -> Result<&mut DB::Connection, StoreError> {
        self.conn.as_deref_mut().ok_or(StoreError::Closed)
    }

    /// Commits and hands the connection back to the pool.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        DB::run(self.conn()?, "COMMIT").await?;
        self.conn.take();
        Ok(())
    }
}

impl<DB: Database> Drop for Transaction<DB> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A failed group leaves the transaction open: close the connection
            // rather than hand it back to the pool mid-transaction.
            drop(conn.detach());
        }
    }
}

/// The group-commit writer of a SQL store: one transaction per group.
pub(crate) struct Writer<DB: Database> {
    /// Where connections come from.
    pub pool: Pool<DB>,
    /// How a transaction starts (SQLite takes its write lock at `BEGIN IMMEDIATE`).
    pub begin: &'static str,
    /// Moved to the last position after every commit, to wake subscribers.
    pub head: Arc<watch::Sender<u64>>,
}

#[async_trait]
impl<DB: SqlDatabase> GroupWriter for Writer<DB>
where
    Transaction<DB>: AppendTransaction,
{
    async fn write_group(&mut self, calls: &[Vec<StreamAppend>]) -> Result<Vec<CallResult>, StoreError> {
        let tx = Transaction::begin(&self.pool, self.begin).await?;
        let (results, head) = write_group(tx, calls).await?;
        self.head.send_if_modified(|h| advance(h, head));
        Ok(results)
    }
}

/// Moves a head forward (never back); true when it moved.
pub(crate) fn advance(head: &mut u64, position: u64) -> bool {
    let moved = position > *head;
    *head = (*head).max(position);
    moved
}

/// Runs a group of calls through one transaction; answers each call and the new head.
pub(crate) async fn write_group(
    mut tx: impl AppendTransaction,
    calls: &[Vec<StreamAppend>],
) -> Result<(Vec<CallResult>, u64), StoreError> {
    let stored = tx.lock_and_read(&plan::keys(calls), &plan::streams(calls)).await?;
    let plan = plan::plan(calls, &stored);
    if !plan.rows.is_empty() {
        tx.insert(&plan.rows, plan.head).await?;
    }
    tx.commit().await?;
    metrics::counter!("nudge_store_appended_events_total").increment(plan.rows.len() as u64);
    Ok((plan.results, plan.head))
}

/// Builds [`Stored`] from the rows both SQL adapters read: the head, the found
/// events (source, id, revision, position) and the streams' last revisions.
pub(crate) fn stored(
    head: i64,
    existing: Vec<(String, String, i64, i64)>,
    heads: Vec<(String, Option<i64>)>,
) -> Result<Stored, StoreError> {
    Ok(Stored {
        head: to_u64(head)?,
        existing: existing
            .into_iter()
            .map(|(source, id, revision, position)| {
                Ok(Existing { source, id, revision: to_u64(revision)?, position: to_u64(position)? })
            })
            .collect::<Result<_, StoreError>>()?,
        heads: heads
            .into_iter()
            .map(|(stream, last)| Ok((stream, last.map(to_u64).transpose()?)))
            .collect::<Result<_, StoreError>>()?,
    })
}

/// A stored event as both SQL adapters select it:
/// position, stream, revision, event_id, source, id, event_type, payload (JSON text).
pub(crate) type EventRow = (i64, String, i64, String, String, String, String, String);

/// The columns of [`EventRow`], in order, for the adapters' SELECTs.
macro_rules! event_columns {
    () => {
        "position, stream, revision, event_id, source, id, event_type, payload"
    };
}
pub(crate) use event_columns;

/// Turns a selected row back into an event.
pub(crate) fn recorded(row: EventRow) -> Result<RecordedEvent, StoreError> {
    let (position, stream, revision, event_id, source, id, event_type, payload) = row;
    let position = to_u64(position)?;
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    Ok(RecordedEvent {
        revision: to_u64(revision).map_err(|_| corrupt(format!("negative revision {revision}")))?,
        event_id: event_id.parse().map_err(|e| corrupt(format!("event id: {e}")))?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload: {e}")))?,
        position,
        stream,
        source,
        id,
        event_type,
    })
}

/// A stored integer as a position or revision.
pub(crate) fn to_u64(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt { position: 0, reason: format!("negative number {value}") })
}

/// A position, revision or count as a SQL integer.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
