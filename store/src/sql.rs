//! What the SQLite and PostgreSQL adapters share: turning what they read back
//! into plans' input and into events, and what follows a group's commit.

use std::sync::Arc;

use tokio::sync::watch;

use crate::{
    RecordedEvent, StoreError, StreamAppend,
    plan::{Existing, Plan, Stored},
    recent::Recent,
};

/// What follows a group's commit, which the head found at `from`: its rows
/// counted, kept for this process's readers, then the head moved to wake them.
pub(crate) fn committed(
    calls: &Arc<[Vec<StreamAppend>]>,
    plan: &Plan<'_>,
    from: u64,
    recent: &Recent,
    head: &watch::Sender<u64>,
) {
    metrics::counter!("nudge_store_appended_events_total").increment(plan.rows.len() as u64);
    recent.committed(calls, &plan.rows, from, plan.head);
    head.send_if_modified(|h| advance(h, plan.head));
}

/// Moves a head forward (never back); true when it moved.
pub(crate) fn advance(head: &mut u64, position: u64) -> bool {
    let moved = position > *head;
    *head = (*head).max(position);
    moved
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

/// A stored event as the PostgreSQL store selects it:
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
    event(Columns { position, stream, revision, event_id: &event_id, source, id, event_type, payload: &payload })
}

/// A stored event's columns as read; the event id (parsed) and the payload
/// (copied into its shared text) borrowed.
pub(crate) struct Columns<'a> {
    pub(crate) position: i64,
    pub(crate) stream: String,
    pub(crate) revision: i64,
    pub(crate) event_id: &'a str,
    pub(crate) source: String,
    pub(crate) id: String,
    pub(crate) event_type: String,
    pub(crate) payload: &'a str,
}

/// Turns a stored event's columns back into the event.
pub(crate) fn event(columns: Columns<'_>) -> Result<RecordedEvent, StoreError> {
    let Columns { position, stream, revision, event_id, source, id, event_type, payload } = columns;
    let position = to_u64(position)?;
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    Ok(RecordedEvent {
        revision: to_u64(revision).map_err(|_| corrupt(format!("negative revision {revision}")))?,
        event_id: event_id.parse().map_err(|e| corrupt(format!("event id: {e}")))?,
        payload: payload.into(),
        decoded: None,
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

/// The event store's migrations. When the read models share its database they
/// keep their own history in the same bookkeeping table, so migrations this
/// one does not know are left alone.
pub(crate) fn schema(mut migrator: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    migrator.set_ignore_missing(true);
    migrator
}
