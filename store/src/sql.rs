//! What the SQLite and PostgreSQL adapters share: the append transaction's steps
//! and the mapping of a stored row back to an event.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::{
    RecordedEvent, StoreError, StreamAppend,
    group_commit::CallResult,
    plan::{self, Existing, Row},
};

/// One append transaction, holding the store's write lock from `lock_head` on.
#[async_trait]
pub(crate) trait AppendTransaction: Send {
    /// Takes the write lock and reads the last global position.
    async fn lock_head(&mut self) -> Result<u64, StoreError>;
    /// The stored events among these (`source`, `id`) pairs.
    async fn existing(&mut self, keys: &[(&str, &str)]) -> Result<Vec<Existing>, StoreError>;
    /// The last revision of each of these streams.
    async fn heads(&mut self, streams: &[&str]) -> Result<HashMap<String, Option<u64>>, StoreError>;
    /// Inserts the rows and moves the head to `head`.
    async fn insert(&mut self, rows: &[Row<'_>], head: u64) -> Result<(), StoreError>;
    /// Commits.
    async fn commit(self) -> Result<(), StoreError>;
}

/// Runs a group of calls through one transaction; answers each call and the new head.
pub(crate) async fn write_group(
    mut tx: impl AppendTransaction,
    calls: &[Vec<StreamAppend>],
) -> Result<(Vec<CallResult>, u64), StoreError> {
    let start = tx.lock_head().await?;
    let existing = tx.existing(&plan::keys(calls)).await?;
    let heads = tx.heads(&plan::streams(calls)).await?;
    let plan = plan::plan(calls, &heads, &existing, start);
    if !plan.rows.is_empty() {
        tx.insert(&plan.rows, plan.head).await?;
    }
    tx.commit().await?;
    metrics::counter!("nudge_store_appended_events_total").increment(plan.rows.len() as u64);
    Ok((plan.results, plan.head))
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
