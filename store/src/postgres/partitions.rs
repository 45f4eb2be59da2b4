//! Logical partitions in the PostgreSQL event store: the number fixed when the
//! store was made, each event's partition filled in for rows written without
//! one, and the reads of an owner that follows only its own partitions.

use std::num::NonZeroU32;

use async_trait::async_trait;
use sqlx::postgres::PgPool;

use crate::{
    StoreError,
    sql::{EventRow, recorded, to_i64, to_u64},
    subscription::{PAGE, Page, Pages},
};

/// Logical partitions of a store made without asking for a number.
const DEFAULT_PARTITIONS: NonZeroU32 = NonZeroU32::new(64).unwrap();

/// Rows given their partition per statement while filling them in.
const FILL_BATCH: i64 = 10_000;

/// The store's number of partitions: `requested` (or [`DEFAULT_PARTITIONS`])
/// recorded if none is yet; another `requested` number is refused.
pub(super) async fn fixed(pool: &PgPool, requested: Option<NonZeroU32>) -> Result<NonZeroU32, StoreError> {
    let wanted = requested.unwrap_or(DEFAULT_PARTITIONS);
    sqlx::query("INSERT INTO event_store_partitions (id, partitions) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
        .bind(i64::from(wanted.get()))
        .execute(pool)
        .await?;
    let recorded: i64 =
        sqlx::query_scalar("SELECT partitions FROM event_store_partitions WHERE id = 1").fetch_one(pool).await?;
    let recorded = u32::try_from(recorded)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| StoreError::Corrupt { position: 0, reason: format!("{recorded} partitions recorded") })?;
    match requested {
        Some(requested) if requested != recorded => Err(StoreError::PartitionsFixed { recorded, requested }),
        _ => Ok(recorded),
    }
}

/// The partition of the events of `stream`, if it is a player's.
pub(super) fn of_stream(stream: &str, partitions: NonZeroU32) -> Option<i32> {
    let player = stream.strip_prefix(domain::STREAM_PREFIX)?;
    i32::try_from(domain::partition_of(player, partitions)).ok()
}

/// Gives every row written without a partition (before partitions were
/// recorded, or by an older nudge) its own.
pub(super) async fn fill_in(pool: &PgPool, partitions: NonZeroU32) -> Result<(), StoreError> {
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT position, stream FROM events WHERE partition IS NULL AND stream LIKE 'player-%' \
             ORDER BY position LIMIT $1",
        )
        .bind(FILL_BATCH)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let (positions, parts): (Vec<i64>, Vec<Option<i32>>) =
            rows.iter().map(|(position, stream)| (*position, of_stream(stream, partitions))).unzip();
        sqlx::query(
            "UPDATE events SET partition = u.part FROM UNNEST($1::bigint[], $2::int[]) AS u(position, part) \
             WHERE events.position = u.position",
        )
        .bind(positions)
        .bind(parts)
        .execute(pool)
        .await?;
        tracing::info!(events = rows.len(), "gave stored events their partitions");
    }
}

/// The pages of an owner that follows only `partitions`: each read takes, from
/// the index, at most a share of the page from each partition (and from rows
/// not given theirs yet), and keeps them only up to where every partition that
/// filled its share stops, so none of their events is skipped.
pub(super) struct Partitioned {
    pub(super) pool: PgPool,
    pub(super) prefix: String,
    pub(super) partitions: Vec<i32>,
}

/// A selected event and the partition it was read for (-1: rows without one).
type PartRow = (i64, String, i64, String, String, String, String, String, i32);

#[async_trait]
impl Pages for Partitioned {
    async fn page(&self, after: Option<u64>) -> Result<Page, StoreError> {
        let share = (PAGE / (self.partitions.len() + 1)).max(64);
        // Every event up to this head has committed: positions commit in order.
        let head: i64 =
            sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events").fetch_one(&self.pool).await?;
        let rows: Vec<PartRow> = sqlx::query_as(
            "SELECT e.* FROM UNNEST($2::int[]) AS p(part) CROSS JOIN LATERAL (\
                 SELECT position, stream, revision, event_id, source, id, event_type, payload, p.part \
                 FROM events_as_text WHERE partition = p.part AND position > $1 \
                 AND substr(stream, 1, length($3)) = $3 ORDER BY position LIMIT $4) AS e \
             UNION ALL \
             SELECT * FROM (SELECT position, stream, revision, event_id, source, id, event_type, payload, -1 \
                 FROM events_as_text WHERE partition IS NULL AND position > $1 \
                 AND substr(stream, 1, length($3)) = $3 ORDER BY position LIMIT $4) AS n",
        )
        .bind(to_i64(after.unwrap_or(0)))
        .bind(&self.partitions)
        .bind(&self.prefix)
        .bind(to_i64(share as u64))
        .fetch_all(&self.pool)
        .await?;
        // Where the first partition that filled its share stops: beyond it, that
        // partition may have events this read did not take.
        let mut taken: std::collections::HashMap<i32, (usize, i64)> = std::collections::HashMap::new();
        for row in &rows {
            let entry = taken.entry(row.8).or_insert((0, 0));
            *entry = (entry.0 + 1, entry.1.max(row.0));
        }
        let cut = taken.values().filter(|(n, _)| *n >= share).map(|(_, last)| *last).min();
        let mut events: Vec<EventRow> = rows
            .into_iter()
            .filter(|row| cut.is_none_or(|cut| row.0 <= cut))
            .map(|(position, stream, revision, event_id, source, id, event_type, payload, _)| {
                (position, stream, revision, event_id, source, id, event_type, payload)
            })
            .collect();
        events.sort_unstable_by_key(|row| row.0);
        let through = to_u64(cut.unwrap_or(head).max(to_i64(after.unwrap_or(0))))?;
        Ok(Page { events: events.into_iter().map(recorded).collect::<Result<_, _>>()?, through: Some(through) })
    }
}
