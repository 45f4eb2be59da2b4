//! The PostgreSQL event store.

mod insert;
mod options;
mod partitions;
mod reads;

use std::{collections::HashMap, num::NonZeroU32, sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    Connection, PgConnection, Postgres,
    pool::PoolConnection,
    postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions},
};
use tokio::{sync::watch, task::JoinHandle};

pub use self::options::connect_options;

use self::insert::insert;
use crate::{
    Appended, EventStore, EventStream, PartitionFeed, RecordedEvent, StoreError, StreamAppend,
    group_commit::{CallResult, GroupCommit, GroupWriter},
    plan::{self, Stored},
    sql::{self, advance, to_u64},
    subscription,
};

/// The channel appenders notify on commit, so that subscribers in every
/// process sharing the database wake at once.
const CHANNEL: &str = "nudge_events";

/// The `plan_cache_mode` of every read.
const CUSTOM_PLANS: &str = "force_custom_plan";

/// Connections in the readers' pool (the group-commit writer has its own).
const POOL_SIZE: u32 = 16;

/// An event store in a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    writer: GroupCommit,
    head: Arc<watch::Sender<u64>>,
    partitions: NonZeroU32,
    _listener: Arc<AbortOnDrop>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`) and migrates the database; its
    /// logical partitions are `partitions` (64 if not given) when it is new,
    /// and another number than the recorded one is refused.
    pub async fn connect(url: &str, partitions: Option<NonZeroU32>) -> Result<Self, StoreError> {
        let options = connect_options(url).map_err(|e| StoreError::InvalidUrl(format!("{e}")))?;
        Self::connect_with(options, partitions).await
    }

    /// Connects with ready-made options (tests use them to pick a schema).
    pub async fn connect_with(options: PgConnectOptions, partitions: Option<NonZeroU32>) -> Result<Self, StoreError> {
        // The writer's one statement plans the same whatever the table holds:
        // planned once, not once a group (planning a custom plan for a group's
        // arrays cost more than a fifth of the insert).
        let writes = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        // A generic plan for a read, made while `events` was small, would scan
        // it on every call ever after; custom plans follow the table as it grows.
        let options = options.options([("plan_cache_mode", CUSTOM_PLANS)]);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sql::schema(sqlx::migrate!("./migrations/postgres")).run(&pool).await?;
        let partitions = partitions::fixed(&pool, partitions).await?;
        partitions::fill_in(&pool, partitions).await?;
        let last: i64 = sqlx::query_scalar("SELECT position FROM event_store_head").fetch_one(&pool).await?;
        let head = Arc::new(watch::Sender::new(to_u64(last)?));
        let listener = Arc::new(AbortOnDrop(tokio::spawn(listen(pool.clone(), head.clone()))));
        let writer = GroupCommit::spawn(Writer {
            pool: pool.clone(),
            writes,
            conn: None,
            head: head.clone(),
            known: Known::default(),
            partitions,
        });
        Ok(Self { pool, writer, head, partitions, _listener: listener })
    }
}

/// Moves the head when another process appends to the same database.
async fn listen(pool: PgPool, head: Arc<watch::Sender<u64>>) {
    loop {
        if let Err(error) = follow_notifications(&pool, &head).await {
            tracing::warn!(%error, "event notifications lost, reconnecting");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn follow_notifications(pool: &PgPool, head: &watch::Sender<u64>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let note = listener.recv().await?;
        if let Ok(position) = note.payload().parse::<u64>() {
            head.send_if_modified(|h| advance(h, position));
        }
    }
}

/// Stops the listener task with the last handle to the store.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<Vec<Appended>>, StoreError> {
        self.writer.append(appends).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        reads::read_stream(&self.pool, stream, from_revision, limit).await
    }

    async fn read_all(&self, after: Option<u64>, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        reads::read_all(&self.pool, after, limit, prefix).await
    }

    fn subscribe_all(&self, after: Option<u64>, prefix: &str) -> EventStream {
        subscription::follow(self.clone(), after, prefix, self.head.subscribe())
    }

    /// Reads only `partitions`, from the index on each event's partition.
    fn subscribe_partitions(
        &self,
        after: Option<u64>,
        prefix: &str,
        partitions: &[u32],
        count: NonZeroU32,
    ) -> PartitionFeed {
        let every = partitions.len() >= self.partitions.get() as usize;
        let parts: Option<Vec<i32>> = if count == self.partitions && !every {
            partitions.iter().map(|p| i32::try_from(*p).ok()).collect()
        } else {
            None
        };
        let Some(parts) = parts else {
            // Every partition, or another count than the store's: every event,
            // in one ordered read, for the caller to pick from.
            return PartitionFeed {
                events: self.subscribe_all(after, prefix),
                through: watch::Sender::new(0).subscribe(),
            };
        };
        let pages = partitions::Partitioned { pool: self.pool.clone(), prefix: prefix.to_owned(), partitions: parts };
        let through = Arc::new(watch::Sender::new(after.unwrap_or(0)));
        let feed = subscription::follow_pages(Arc::new(pages), after, self.head.subscribe(), Arc::clone(&through));
        PartitionFeed { events: feed, through: through.subscribe() }
    }

    fn partitions(&self) -> Option<NonZeroU32> {
        Some(self.partitions)
    }

    /// Moves the head row by one in the same transaction: every writer
    /// (of this process or another) trusts the stream revisions it remembers
    /// only while the head stays where its last write left it (see [`Writer`]),
    /// so after a delete each one reads the stream afresh and starts it at
    /// revision 0. The position moved past holds no event; readers skip gaps.
    async fn delete_stream(&self, stream: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The head row lock also waits for appends in flight, so none of the
        // stream's events commits after the delete.
        sqlx::query("UPDATE event_store_head SET position = position + 1").execute(&mut *tx).await?;
        let deleted = sqlx::query("DELETE FROM events WHERE stream = $1").bind(stream).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            // Nothing to forget: leave the head (and every writer's memory) as it is.
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(deleted.rows_affected())
    }

    async fn head(&self) -> Result<u64, StoreError> {
        reads::head(&self.pool).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        reads::ping(&self.pool).await
    }
}

/// The group-commit writer.
///
/// Every group is inserted by one statement that moves the head row only if it is
/// still where the writer believes it is. That statement holds the head row lock
/// until it commits, so positions are handed out in commit order and a subscriber
/// never skips a late commit. Three paths, cheapest first:
///
/// - One round trip: the head is where this writer's last write left it (so
///   nothing else has been appended or deleted since: a delete moves the head
///   too) and it remembers every stream of the
///   group: it plans from memory. A repeat of a stored event fails the unique
///   index, a moved head writes nothing; either way the next path follows.
/// - Two round trips: read the head, the stored events and the streams' revisions
///   in one snapshot, plan, insert.
/// - If another process appended in between, the group is written under the head
///   row lock (`SELECT ... FOR UPDATE` in a transaction), which cannot lose, so no
///   writer starves.
struct Writer {
    /// The readers' pool, for the read before a write.
    pool: PgPool,
    /// The writer's own connection, whose statements keep their generic plans.
    writes: PgPool,
    conn: Option<PoolConnection<Postgres>>,
    head: Arc<watch::Sender<u64>>,
    known: Known,
    partitions: NonZeroU32,
}

/// Most streams whose revision the writer remembers; past it, it starts afresh.
const MAX_KNOWN_STREAMS: usize = 100_000;

/// What the writer knows of the store since its last write: true while the head
/// is still where that write left it, as then nothing else has been appended or
/// deleted.
#[derive(Default)]
struct Known {
    head: Option<u64>,
    streams: HashMap<String, Option<u64>>,
}

impl Known {
    /// The planning input for `streams`, if every one of them is known.
    fn stored(&self, streams: &[&str]) -> Option<Stored> {
        let head = self.head?;
        let heads = streams.iter().map(|s| Some(((*s).to_owned(), *self.streams.get(*s)?))).collect::<Option<_>>()?;
        Some(Stored { head, existing: Vec::new(), heads })
    }

    /// Remembers a write planned from `stored`.
    fn wrote(&mut self, stored: &Stored, plan: &plan::Plan<'_>) {
        // A head other than the one this writer left means another process
        // appended: what was remembered may be stale.
        if self.head != Some(stored.head) || self.streams.len() > MAX_KNOWN_STREAMS {
            self.streams.clear();
        }
        self.streams.extend(stored.heads.iter().map(|(s, r)| (s.clone(), *r)));
        for row in &plan.rows {
            self.streams.insert(row.stream.to_owned(), Some(row.revision));
        }
        self.head = Some(plan.head);
    }
}

#[async_trait]
impl GroupWriter for Writer {
    async fn write_group(&mut self, calls: Arc<[Vec<StreamAppend>]>) -> Result<Vec<CallResult>, StoreError> {
        let calls = &*calls;
        // The writer keeps its connection between groups; after a failure it takes
        // a fresh one, as the old one may be broken or mid-transaction.
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.writes.acquire().await?,
        };
        let results = write(&mut conn, &self.pool, calls, &self.head, &mut self.known, self.partitions).await?;
        self.conn = Some(conn);
        Ok(results)
    }
}

/// Writes one group on `conn`, reading before it from `readers`; see [`Writer`].
async fn write(
    conn: &mut PgConnection,
    readers: &PgPool,
    calls: &[Vec<StreamAppend>],
    head: &watch::Sender<u64>,
    known: &mut Known,
    partitions: NonZeroU32,
) -> Result<Vec<CallResult>, StoreError> {
    let (keys, streams) = (plan::keys(calls), plan::streams(calls));
    if let Some(stored) = known.stored(&streams) {
        let plan = plan::plan(calls, &stored);
        // Only a plan that writes is checked against the head; and a call refused
        // on its expected revision may in truth be a repeat of stored events, which
        // only a read can tell.
        if !plan.rows.is_empty() && plan.results.iter().all(Result::is_ok) {
            match insert(conn, &plan.rows, stored.head, plan.head, partitions).await {
                Ok(true) => {
                    known.wrote(&stored, &plan);
                    return Ok(appended(plan, head));
                }
                Ok(false) => {}
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let stored = read(readers, &keys, &streams).await?;
    let plan = plan::plan(calls, &stored);
    if plan.rows.is_empty() || insert(conn, &plan.rows, stored.head, plan.head, partitions).await? {
        known.wrote(&stored, &plan);
        return Ok(appended(plan, head));
    }
    metrics::counter!("nudge_store_append_lock_fallbacks_total").increment(1);
    let mut tx = conn.begin().await?;
    // Held until commit; the read after it takes a fresh snapshot, planned
    // for its arguments as on the readers' connections.
    sqlx::query("SELECT set_config('plan_cache_mode', $1, true), position FROM event_store_head FOR UPDATE")
        .bind(CUSTOM_PLANS)
        .execute(&mut *tx)
        .await?;
    let stored = read(&mut *tx, &keys, &streams).await?;
    let plan = plan::plan(calls, &stored);
    if !plan.rows.is_empty() && !insert(&mut tx, &plan.rows, stored.head, plan.head, partitions).await? {
        return Err(StoreError::Corrupt { position: stored.head, reason: "head moved under its lock".to_owned() });
    }
    tx.commit().await?;
    known.wrote(&stored, &plan);
    Ok(appended(plan, head))
}

/// Counts the rows in, wakes local subscribers, answers the calls.
fn appended(plan: plan::Plan<'_>, head: &watch::Sender<u64>) -> Vec<CallResult> {
    metrics::counter!("nudge_store_appended_events_total").increment(plan.rows.len() as u64);
    head.send_if_modified(|h| advance(h, plan.head));
    plan.results
}

/// Whether an insert failed on a unique index: an event stored already.
fn is_unique_violation(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505"))
}

/// Reads, in one snapshot, what planning a group needs.
async fn read<'c>(
    on: impl sqlx::PgExecutor<'c>,
    keys: &[(&str, &str)],
    streams: &[&str],
) -> Result<Stored, StoreError> {
    let (sources, ids): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let rows: Vec<FoundRow> = sqlx::query_as(
        "SELECT NULL, NULL, NULL, NULL, position FROM event_store_head \
         UNION ALL \
         SELECT e.source, e.id, e.stream, e.revision, e.position \
         FROM UNNEST($1::text[], $2::text[]) AS k(source, id) \
         JOIN events e ON e.source = k.source AND e.id = k.id \
         UNION ALL \
         SELECT NULL, NULL, s.stream, (SELECT max(e.revision) FROM events e WHERE e.stream = s.stream), NULL \
         FROM UNNEST($3::text[]) AS s(stream)",
    )
    .bind(sources)
    .bind(ids)
    .bind(streams)
    .fetch_all(on)
    .await?;
    let (mut head, mut existing, mut heads) = (None, Vec::new(), Vec::new());
    for row in rows {
        match row {
            (None, None, None, None, Some(position)) => head = Some(position),
            (Some(source), Some(id), Some(_), Some(revision), Some(position)) => {
                existing.push((source, id, revision, position))
            }
            (None, None, Some(stream), revision, None) => heads.push((stream, revision)),
            row => return Err(StoreError::Corrupt { position: 0, reason: format!("unexpected lookup row {row:?}") }),
        }
    }
    let head = head.ok_or_else(|| StoreError::Corrupt { position: 0, reason: "no event store head".to_owned() })?;
    sql::stored(head, existing, heads)
}

/// A row of the read: the head (position), a stored event (source, id, stream,
/// revision, position) or a stream's last revision (stream, revision).
type FoundRow = (Option<String>, Option<String>, Option<String>, Option<i64>, Option<i64>);
