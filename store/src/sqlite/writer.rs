//! The event store's one writer: a SQLite connection that the group-commit
//! thread writes each group on itself (its reads, inserts and commit), and
//! that deletes and pings borrow between two groups.
//!
//! Through sqlx, every statement of a transaction is a message to the
//! connection's thread and back: with six statements a group, the thread
//! switches cost more than SQLite's work and its sync together. A thread of
//! its own, handed each group whole, still cost two switches a group on the
//! way of every append, waiting for a core each time under load.

use std::{
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use chrono::SecondsFormat;
use rusqlite::{Connection, DatabaseName, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::watch;

use super::{
    BUSY_TIMEOUT, Checkpointer,
    checkpoint::{JOURNAL_SIZE_LIMIT, PASSIVE},
};
use crate::{
    StoreError, StreamAppend,
    group_commit::{CallResult, GroupWriter},
    plan::{self, Row, Stored},
    recent::Recent,
    sql::{self, to_i64},
};

/// `recorded_at` as the table's default writes it: `2026-12-02T13:40:00.123Z`.
const RECORDED_AT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// The writer's connection and whom its commits are told to; clones share them.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    conn: Mutex<Connection>,
    head: Arc<watch::Sender<u64>>,
    recent: Arc<Recent>,
    checkpointer: Checkpointer,
}

impl Writer {
    /// Opens the writer's connection to the (migrated) database `file`; its
    /// commits tell `recent`, then move `head`, and it finishes the
    /// checkpoints `checkpointer` asks it to.
    pub(crate) fn open(
        file: &Path,
        head: Arc<watch::Sender<u64>>,
        recent: Arc<Recent>,
        checkpointer: Checkpointer,
    ) -> Result<Self, StoreError> {
        let conn = Mutex::new(open(file)?);
        Ok(Self { shared: Arc::new(Shared { conn, head, recent, checkpointer }) })
    }

    /// Deletes every event of `stream`, between two groups.
    pub(crate) async fn delete_stream(&self, stream: &str) -> Result<u64, StoreError> {
        let stream = stream.to_owned();
        self.between_groups(move |shared, conn| {
            let deleted = conn.execute("DELETE FROM events WHERE stream = ?1", [&stream]);
            shared.recent.deleted(&stream);
            Ok(deleted? as u64)
        })
        .await
    }

    /// Writes (a no-op update of the head), so that a full or failing disk shows.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.between_groups(|_, conn| {
            Ok(conn.execute("UPDATE event_store_head SET position = position", []).map(drop)?)
        })
        .await
    }

    /// Runs `work` on the connection on a blocking thread, once no group is
    /// being written.
    async fn between_groups<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Shared, &mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || work(&shared, &mut *shared.lock()?))
            .await
            .map_err(|e| StoreError::Writer(format!("the writer's task failed: {e}")))?
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Writer("a write panicked while it held the connection".to_owned()))
    }
}

#[async_trait]
impl GroupWriter for Writer {
    async fn write_group(&mut self, calls: Arc<[Vec<StreamAppend>]>) -> Result<Vec<CallResult>, StoreError> {
        let shared = &*self.shared;
        write(&mut *shared.lock()?, &calls, &shared.head, &shared.recent)
    }

    /// Answered first: the copy delays the next group, never this one.
    async fn answered(&mut self) {
        let shared = &*self.shared;
        if !shared.checkpointer.finish() {
            return;
        }
        let finished =
            shared.lock().and_then(|conn| Ok(conn.query_row(PASSIVE, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?));
        match finished {
            Ok(answer) => shared.checkpointer.finished(answer),
            Err(error) => tracing::warn!(%error, "finishing the checkpoint failed; asked again later"),
        }
    }
}

/// How the writer opens the store's file: for writing, never creating it.
const READ_WRITE: OpenFlags = OpenFlags::SQLITE_OPEN_READ_WRITE.union(OpenFlags::SQLITE_OPEN_NO_MUTEX);

/// Whether `file` exists and this process cannot write it (its permissions, a
/// read-only file system), which SQLite opens read-only without a word. A file
/// that cannot be opened at all is left to the caller's own open to report.
pub fn cannot_write(file: &Path) -> bool {
    file.exists()
        && Connection::open_with_flags(file, READ_WRITE)
            .and_then(|conn| conn.is_readonly(DatabaseName::Main))
            .unwrap_or(false)
}

/// The writer's connection: WAL, synced at every commit, SQLite's own
/// checkpoints off (the store's [`super::Checkpointer`] runs them).
fn open(file: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(file, READ_WRITE)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    // FULL syncs the WAL at every commit: an answered append survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    Ok(conn)
}

/// Plans and writes one group in one transaction, then moves the head.
///
/// First as if none of the group's events were stored, as a repeat is rare: a
/// stored one among them (an insert skips it) or a call refused on its expected
/// revision (which may in truth be a repeat) undoes the transaction, and the
/// group is planned again from its stored events, read.
fn write(
    conn: &mut Connection,
    calls: &Arc<[Vec<StreamAppend>]>,
    head: &watch::Sender<u64>,
    recent: &Recent,
) -> Result<Vec<CallResult>, StoreError> {
    if let Some(results) = write_as(conn, calls, head, recent, Repeats::Unread)? {
        return Ok(results);
    }
    write_as(conn, calls, head, recent, Repeats::Read)?
        .ok_or_else(|| StoreError::Writer("an event read as new was stored under the write lock".to_owned()))
}

/// Whether planning reads which of the group's events are stored already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeats {
    /// Planned as new, each: `None` when one was not, and nothing is written.
    Unread,
    /// Read, so that the plan answers them where they are.
    Read,
}

/// One attempt of [`write`].
fn write_as(
    conn: &mut Connection,
    calls: &Arc<[Vec<StreamAppend>]>,
    head: &watch::Sender<u64>,
    recent: &Recent,
    repeats: Repeats,
) -> Result<Option<Vec<CallResult>>, StoreError> {
    // IMMEDIATE takes SQLite's write lock now, so the reads below are current
    // until commit. Dropped uncommitted (or failing to commit), it rolls back.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stored = read(&tx, calls, repeats)?;
    let plan = plan::plan(calls, &stored);
    if repeats == Repeats::Unread && !plan.results.iter().all(Result::is_ok) {
        return Ok(None);
    }
    if !plan.rows.is_empty() && insert(&tx, &plan.rows, plan.head)? < plan.rows.len() {
        return Ok(None);
    }
    tx.commit()?;
    sql::committed(calls, &plan, stored.head, recent, head);
    Ok(Some(plan.results))
}

/// Reads what planning the group needs: the head, the last revision of each
/// of its streams and, unless `repeats` says not to, the events already
/// stored under the group's keys.
fn read(tx: &Transaction<'_>, calls: &[Vec<StreamAppend>], repeats: Repeats) -> Result<Stored, StoreError> {
    let head: i64 = tx.prepare_cached("SELECT position FROM event_store_head")?.query_row([], |r| r.get(0))?;
    let mut existing = Vec::new();
    if repeats == Repeats::Read {
        let mut find = tx.prepare_cached("SELECT revision, position FROM events WHERE source = ?1 AND id = ?2")?;
        for (source, id) in plan::keys(calls) {
            let found = find.query_row((source, id), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).optional()?;
            if let Some((revision, position)) = found {
                existing.push((source.to_owned(), id.to_owned(), revision, position));
            }
        }
    }
    let mut last = tx.prepare_cached("SELECT max(revision) FROM events WHERE stream = ?1")?;
    let mut heads = Vec::new();
    for stream in plan::streams(calls) {
        let revision: Option<i64> = last.query_row([stream], |r| r.get(0))?;
        heads.push((stream.to_owned(), revision));
    }
    sql::stored(head, existing, heads)
}

/// Inserts the planned rows, skipping any whose (`source`, `id`) is stored,
/// and moves the head row; answers how many went in.
fn insert(tx: &Transaction<'_>, rows: &[Row<'_>], head: u64) -> Result<usize, StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (position, stream, revision, event_id, source, id, event_type, time, payload, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (source, id) DO NOTHING",
    )?;
    // One time for the group: SQLite's own clock and strftime on every row cost
    // more than the row's insert.
    let recorded_at = chrono::Utc::now().format(RECORDED_AT).to_string();
    let mut inserted = 0;
    for row in rows {
        let e = row.event;
        inserted += insert.execute((
            to_i64(row.position),
            row.stream,
            to_i64(row.revision),
            e.event_id.to_string(),
            &e.source,
            &e.id,
            &e.event_type,
            e.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            &*e.payload,
            &recorded_at,
        ))?;
    }
    tx.prepare_cached("UPDATE event_store_head SET position = ?1")?.execute([to_i64(head)])?;
    Ok(inserted)
}
