//! What the SQLite and PostgreSQL adapters share: turning what they read back
//! into plans' input and into events.

use crate::{
    RecordedEvent, StoreError,
    plan::{Existing, Stored},
};

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

/// The reads both SQL adapters run, in SQL both databases understand, written once
/// and expanded for each pool type (sqlx's executor bounds do not survive being
/// made generic under async-trait).
macro_rules! reads {
    ($pool:ty) => {
        /// Reads up to `limit` events of `stream` from `from_revision` on; not
        /// found when the stream has no event.
        pub(crate) async fn read_stream(
            pool: &$pool,
            stream: &str,
            from_revision: u64,
            limit: usize,
        ) -> Result<Vec<$crate::RecordedEvent>, $crate::StoreError> {
            let rows: Vec<$crate::sql::EventRow> = sqlx::query_as(concat!(
                "SELECT ",
                $crate::sql::event_columns!(),
                " FROM events_as_text WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3"
            ))
            .bind(stream)
            .bind($crate::sql::to_i64(from_revision))
            .bind($crate::sql::to_i64(limit as u64))
            .fetch_all(pool)
            .await?;
            if rows.is_empty() {
                let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM events WHERE stream = $1 LIMIT 1")
                    .bind(stream)
                    .fetch_optional(pool)
                    .await?;
                if exists.is_none() {
                    return Err($crate::StoreError::StreamNotFound(stream.to_owned()));
                }
            }
            rows.into_iter().map($crate::sql::recorded).collect()
        }

        /// Checks that the database answers.
        pub(crate) async fn ping(pool: &$pool) -> Result<(), $crate::StoreError> {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        }

        /// The position of the last event stored, 0 when there is none. Not the
        /// head row: that one also moves when a stream is deleted (and never goes
        /// back), while this is the position a reader can reach.
        pub(crate) async fn head(pool: &$pool) -> Result<u64, $crate::StoreError> {
            let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events").fetch_one(pool).await?;
            $crate::sql::to_u64(head)
        }
    };
}
pub(crate) use reads;

/// Turns a selected row back into an event.
pub(crate) fn recorded(row: EventRow) -> Result<RecordedEvent, StoreError> {
    let (position, stream, revision, event_id, source, id, event_type, payload) = row;
    event(Columns { position, stream, revision, event_id: &event_id, source, id, event_type, payload: &payload })
}

/// A stored event's columns as read, the two that are parsed borrowed.
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
        payload: std::sync::Arc::new(serde_json::from_str(payload).map_err(|e| corrupt(format!("payload: {e}")))?),
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
