//! The group-commit writer of the PostgreSQL store: one statement a group,
//! planned from what it remembers while nothing else has written.

use std::{collections::HashMap, num::NonZeroU32, sync::Arc};

use async_trait::async_trait;
use sqlx::{
    Connection, PgConnection, Postgres,
    pool::PoolConnection,
    postgres::{PgConnectOptions, PgPool},
};
use tokio::sync::watch;

use super::insert::{Inserted, Tell, insert};
use crate::{
    StoreError, StreamAppend,
    group_commit::{CallResult, GroupWriter},
    plan::{self, Stored},
    recent::Recent,
    sql,
};

/// The group-commit writer.
///
/// Every group is inserted by one statement that moves the head row only if it is
/// still where the writer believes it is. That statement holds the head row lock
/// until it commits, so positions are handed out in commit order and a subscriber
/// never skips a late commit. Three paths, cheapest first:
///
/// - One round trip: the head is where this writer's last write left it (so
///   nothing else has been appended or deleted since: a delete moves the head
///   too): it plans from memory, taking the streams it does not remember to be
///   new, which the statement checks. Refused because some are not, it learns
///   their revisions from the refusal and tries once more. A repeat of a
///   stored event fails the unique index, a moved head writes nothing; either
///   way the next path follows.
/// - Two round trips: read the head, the stored events and the streams' revisions
///   in one snapshot, plan, insert.
/// - If another process appended in between, the group is written under the head
///   row lock (`SELECT ... FOR UPDATE` in a transaction), which cannot lose, so no
///   writer starves.
pub(super) struct Writer {
    /// The writer's own connection, whose statements keep their generic plans.
    writes: PgPool,
    conn: Option<PoolConnection<Postgres>>,
    head: Arc<watch::Sender<u64>>,
    recent: Arc<Recent>,
    tell: Tell,
    known: Known,
    partitions: NonZeroU32,
}

impl Writer {
    /// A writer reading and writing on a connection of `writes`; it tells
    /// `tell` where each commit goes, then `recent` of it, then moves `head`.
    pub(super) fn new(
        writes: PgPool,
        head: Arc<watch::Sender<u64>>,
        recent: Arc<Recent>,
        tell: Tell,
        partitions: NonZeroU32,
    ) -> Self {
        Self { writes, conn: None, head, recent, tell, known: Known::default(), partitions }
    }
}

/// The options of the writer's connection: `options` with every statement on
/// it planned generically.
///
/// The insert plans the same whatever `events` holds (its one lookup goes by
/// the `(stream, revision)` index even on an empty table). Left to choose,
/// PostgreSQL kept planning it for its arguments at every call while groups
/// are small (it estimates a generic plan's guess of ten rows dearer than a
/// custom plan for one), which took a third of a one-event write. The read
/// before a write is not prepared, so it is planned afresh at each call all
/// the same, with the table as it is then.
pub(super) fn options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("plan_cache_mode", "force_generic_plan")])
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
    /// The planning input for `streams`, with those of them it does not know
    /// taken to be new (their events are the first), and which those are.
    fn stored<'s>(&self, streams: &[&'s str]) -> Option<(Stored, Vec<&'s str>)> {
        let head = self.head?;
        let (mut heads, mut new) = (HashMap::with_capacity(streams.len()), Vec::new());
        for &stream in streams {
            let last = match self.streams.get(stream) {
                Some(last) => *last,
                None => {
                    new.push(stream);
                    None
                }
            };
            heads.insert(stream.to_owned(), last);
        }
        Some((Stored { head, existing: Vec::new(), heads }, new))
    }

    /// Remembers the last revisions an insert refused found.
    fn learn(&mut self, found: Vec<(String, u64)>) {
        self.streams.extend(found.into_iter().map(|(stream, revision)| (stream, Some(revision))));
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
        // The writer keeps its connection between groups; after a failure it takes
        // a fresh one, as the old one may be broken or mid-transaction.
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.writes.acquire().await?,
        };
        let done = Done { calls: &calls, head: &self.head, recent: &self.recent, tell: &self.tell };
        let results = write(&mut conn, done, &mut self.known, self.partitions).await?;
        self.conn = Some(conn);
        Ok(results)
    }
}

/// Writes one group on `conn`, reading on it before when it must; see [`Writer`].
async fn write(
    conn: &mut PgConnection,
    done: Done<'_>,
    known: &mut Known,
    partitions: NonZeroU32,
) -> Result<Vec<CallResult>, StoreError> {
    let calls = &**done.calls;
    let (keys, streams) = (plan::keys(calls), plan::streams(calls));
    // Twice at most: a refusal that names streams planned as new but not is
    // planned again with what it taught.
    for _ in 0..2 {
        let Some((stored, new)) = known.stored(&streams) else { break };
        let plan = plan::plan(calls, &stored);
        // Only a plan that writes is checked against the head; and a call refused
        // on its expected revision may in truth be a repeat of stored events, which
        // only a read can tell.
        if plan.rows.is_empty() || !plan.results.iter().all(Result::is_ok) {
            break;
        }
        match insert(conn, &plan.rows, stored.head, plan.head, &new, partitions, done.tell).await {
            Ok(Inserted::Yes) => {
                known.wrote(&stored, &plan);
                return Ok(done.appended(plan, stored.head));
            }
            Ok(Inserted::No { head, found }) if head == stored.head && !found.is_empty() => known.learn(found),
            Ok(Inserted::No { .. }) => break,
            Err(e) if is_unique_violation(&e) => break,
            Err(e) => return Err(e),
        }
    }
    let stored = read(&mut *conn, &keys, &streams).await?;
    let plan = plan::plan(calls, &stored);
    if plan.rows.is_empty()
        || insert(conn, &plan.rows, stored.head, plan.head, &[], partitions, done.tell).await? == Inserted::Yes
    {
        known.wrote(&stored, &plan);
        return Ok(done.appended(plan, stored.head));
    }
    metrics::counter!("nudge_store_append_lock_fallbacks_total").increment(1);
    let mut tx = conn.begin().await?;
    // Held until commit; the read after it takes a fresh snapshot.
    sqlx::query("SELECT position FROM event_store_head FOR UPDATE").execute(&mut *tx).await?;
    let stored = read(&mut *tx, &keys, &streams).await?;
    let plan = plan::plan(calls, &stored);
    if !plan.rows.is_empty()
        && insert(&mut tx, &plan.rows, stored.head, plan.head, &[], partitions, done.tell).await? != Inserted::Yes
    {
        return Err(StoreError::Corrupt { position: stored.head, reason: "head moved under its lock".to_owned() });
    }
    tx.commit().await?;
    known.wrote(&stored, &plan);
    Ok(done.appended(plan, stored.head))
}

/// What a group is told to: where it commits to before, and after.
struct Done<'a> {
    calls: &'a Arc<[Vec<StreamAppend>]>,
    head: &'a watch::Sender<u64>,
    recent: &'a Recent,
    tell: &'a Tell,
}

impl Done<'_> {
    /// Counts the rows in, keeps them for local subscribers and wakes them,
    /// answers the calls; `from` is the head the commit found.
    fn appended(&self, plan: plan::Plan<'_>, from: u64) -> Vec<CallResult> {
        sql::committed(self.calls, &plan, from, self.recent, self.head);
        plan.results
    }
}

/// Whether an insert failed on a unique index: an event stored already.
fn is_unique_violation(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505"))
}

/// Reads, in one snapshot, what planning a group needs.
///
/// Planned for each call, not prepared once: a plan kept from while `events`
/// was small would scan it on every call ever after.
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
    .persistent(false)
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
