//! The one statement that writes a group: the rows, as one array per column,
//! and the head moved, in one transaction.

use std::num::NonZeroU32;

use sqlx::PgConnection;
use uuid::Uuid;

use super::{CHANNEL, handoff::Committing, partitions};
use crate::{StoreError, plan::Row, sql::to_i64};

/// Inserts the rows and moves the head from `from` to `to`, in one statement and
/// so one transaction, having told `committing`; false, with nothing written,
/// when the head was no longer at `from`.
pub(super) async fn insert(
    conn: &mut PgConnection,
    rows: &[Row<'_>],
    from: u64,
    to: u64,
    partitions: NonZeroU32,
    committing: &Committing,
) -> Result<bool, StoreError> {
    let mut columns = Columns::with_capacity(rows.len());
    for row in rows {
        columns.push(row, partitions)?;
    }
    committing.to(to);
    let inserted: i64 = sqlx::query_scalar(
        "WITH moved AS (\
             UPDATE event_store_head SET position = $11 WHERE position = $10 RETURNING pg_notify($12, $11::text)), \
         inserted AS (\
             INSERT INTO events (position, stream, revision, event_id, source, id, event_type, time, payload, \
             partition) \
             SELECT r.* FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], \
             $7::text[], $8::timestamptz[], $9::text[]::jsonb[], $13::int[]) AS r, moved \
             RETURNING 1) \
         SELECT count(*) FROM inserted",
    )
    .bind(columns.positions)
    .bind(columns.streams)
    .bind(columns.revisions)
    .bind(columns.event_ids)
    .bind(columns.sources)
    .bind(columns.ids)
    .bind(columns.types)
    .bind(columns.times)
    .bind(columns.payloads)
    .bind(to_i64(from))
    .bind(to_i64(to))
    .bind(CHANNEL)
    .bind(columns.partitions)
    .fetch_one(conn)
    .await?;
    Ok(inserted > 0)
}

/// Rows turned into one array per column, for `UNNEST`.
struct Columns<'a> {
    positions: Vec<i64>,
    streams: Vec<&'a str>,
    revisions: Vec<i64>,
    event_ids: Vec<Uuid>,
    sources: Vec<&'a str>,
    ids: Vec<&'a str>,
    types: Vec<&'a str>,
    times: Vec<chrono::DateTime<chrono::Utc>>,
    payloads: Vec<String>,
    partitions: Vec<Option<i32>>,
}

impl<'a> Columns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            positions: Vec::with_capacity(n),
            streams: Vec::with_capacity(n),
            revisions: Vec::with_capacity(n),
            event_ids: Vec::with_capacity(n),
            sources: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            times: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            partitions: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, row: &Row<'a>, partitions: NonZeroU32) -> Result<(), StoreError> {
        let e = row.event;
        self.partitions.push(partitions::of_stream(row.stream, partitions));
        self.positions.push(to_i64(row.position));
        self.streams.push(row.stream);
        self.revisions.push(to_i64(row.revision));
        self.event_ids.push(e.event_id);
        self.sources.push(&e.source);
        self.ids.push(&e.id);
        self.types.push(&e.event_type);
        self.times.push(e.time);
        self.payloads.push(serde_json::to_string(&*e.payload)?);
        Ok(())
    }
}
