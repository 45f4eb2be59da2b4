//! The PostgreSQL event store's reads.

use sqlx::postgres::PgPool;

use crate::{
    RecordedEvent, StoreError,
    sql::{EventRow, event_columns, recorded, to_i64, to_u64},
};

/// Reads up to `limit` events of `stream` from `from_revision` on; not found
/// when the stream has no event.
pub(super) async fn read_stream(
    pool: &PgPool,
    stream: &str,
    from_revision: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events_as_text WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3"
    ))
    .bind(stream)
    .bind(to_i64(from_revision))
    .bind(to_i64(limit as u64))
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM events WHERE stream = $1 LIMIT 1")
            .bind(stream)
            .fetch_optional(pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::StreamNotFound(stream.to_owned()));
        }
    }
    rows.into_iter().map(recorded).collect()
}

/// Reads up to `limit` events of the streams named `prefix...`, in global
/// order, after position `after`.
pub(super) async fn read_all(
    pool: &PgPool,
    after: Option<u64>,
    limit: usize,
    prefix: &str,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events_as_text WHERE position > $1 AND substr(stream, 1, length($2)) = $2 ORDER BY position LIMIT $3"
    ))
    .bind(to_i64(after.unwrap_or(0)))
    .bind(prefix)
    .bind(to_i64(limit as u64))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(recorded).collect()
}

/// Where the head row is: past every position handed out, deleted or not.
pub(super) async fn head_row(pool: &PgPool) -> Result<u64, StoreError> {
    to_u64(sqlx::query_scalar("SELECT position FROM event_store_head").fetch_one(pool).await?)
}

/// Checks that the database answers.
pub(super) async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

/// The position of the last event stored, 0 when there is none. Not the head
/// row: that one also moves when a stream is deleted (and never goes back),
/// while this is the position a reader can reach.
pub(super) async fn head(pool: &PgPool) -> Result<u64, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events").fetch_one(pool).await?;
    to_u64(head)
}
