//! The embedded event store: one SQLite file in WAL mode.

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::SecondsFormat;
use sqlx::{
    Connection, SqliteConnection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous},
};
use tokio::sync::watch;

use crate::{
    Appended, EventStore, EventStream, RecordedEvent, StoreError, StreamAppend,
    group_commit::{CallResult, GroupCommit, GroupWriter},
    plan::{self, Row, Stored},
    sql::{self, advance, to_i64, to_u64},
    subscription,
};

mod checkpoint;
mod serve_lock;

pub use checkpoint::Checkpointer;
pub use serve_lock::ServeLock;

/// Readers that may query the file at once; WAL lets them run beside the writer.
const READERS: u32 = 4;

/// Rows per INSERT statement: few statements per group, well under SQLite's
/// limit of 32,766 parameters (nine per row).
const ROWS_PER_INSERT: usize = 128;

/// `INSERT ... VALUES` with `rows` rows of parameters.
fn insert_statement(rows: usize) -> String {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let values = vec![row; rows].join(", ");
    format!(
        "INSERT INTO events (position, stream, revision, event_id, source, id, event_type, time, payload) VALUES {values}"
    )
}

/// An event store in one SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    readers: SqlitePool,
    /// The writer's one connection, also taken by deletes so that they queue
    /// behind the group commits.
    writer_pool: SqlitePool,
    writer: GroupCommit,
    head: Arc<watch::Sender<u64>>,
    _checkpointer: Checkpointer,
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) and migrates the database at
    /// `url` (`sqlite://path/to/file.db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL syncs the WAL at every commit: an answered append survives a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        if let Some(folder) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
            create_folder(folder)?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(Checkpointer::writer_options(options.clone()))
            .await?;
        sql::schema(sqlx::migrate!("./migrations/sqlite")).run(&writer).await?;
        let checkpointer = Checkpointer::spawn(&options, "store").await?;
        // A page of events crosses from the connection's thread in one go rather
        // than in 50-row handfuls, each a thread switch.
        let options = options.read_only(true).row_buffer_size(subscription::PAGE);
        let readers = SqlitePoolOptions::new().max_connections(READERS).connect_with(options).await?;
        let last: i64 = sqlx::query_scalar("SELECT position FROM event_store_head").fetch_one(&writer).await?;
        let head = Arc::new(watch::Sender::new(to_u64(last)?));
        let writer_pool = writer.clone();
        let writer = GroupCommit::spawn(Writer { pool: writer, head: head.clone() });
        Ok(Self { readers, writer_pool, writer, head, _checkpointer: checkpointer })
    }
}

fn create_folder(folder: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(folder)
        .map_err(|e| StoreError::InvalidUrl(format!("cannot create folder {}: {e}", folder.display())))
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<Vec<Appended>>, StoreError> {
        self.writer.append(appends).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        reads::read_stream(&self.readers, stream, from_revision, limit).await
    }

    async fn read_all(&self, after: Option<u64>, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        reads::read_all(&self.readers, after, limit, prefix).await
    }

    fn subscribe_all(&self, after: Option<u64>, prefix: &str) -> EventStream {
        subscription::follow(self.clone(), after, prefix, self.head.subscribe())
    }

    /// The writer plans every group from what it reads under SQLite's write
    /// lock and remembers no revision, so deleting the rows is all it takes.
    async fn delete_stream(&self, stream: &str) -> Result<u64, StoreError> {
        let deleted =
            sqlx::query("DELETE FROM events WHERE stream = ?1").bind(stream).execute(&self.writer_pool).await?;
        Ok(deleted.rows_affected())
    }

    async fn head(&self) -> Result<u64, StoreError> {
        reads::head(&self.readers).await
    }

    /// Reads, and writes: a no-op update of the head, committed, fails while the
    /// disk is full or failing.
    async fn ping(&self) -> Result<(), StoreError> {
        reads::ping(&self.readers).await?;
        sqlx::query("UPDATE event_store_head SET position = position").execute(&self.writer_pool).await?;
        Ok(())
    }
}

/// The single writer: SQLite takes one writer at a time anyway.
struct Writer {
    pool: SqlitePool,
    head: Arc<watch::Sender<u64>>,
}

#[async_trait]
impl GroupWriter for Writer {
    async fn write_group(&mut self, calls: &[Vec<StreamAppend>]) -> Result<Vec<CallResult>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let written = write(&mut conn, calls).await;
        if written.is_err() {
            // A COMMIT that failed (a full disk) leaves sqlx believing the
            // connection is still inside the transaction, and every later BEGIN
            // would fail: the pool opens a fresh connection instead.
            conn.close_on_drop();
        }
        let (results, head, rows) = written?;
        metrics::counter!("nudge_store_appended_events_total").increment(rows as u64);
        self.head.send_if_modified(|h| advance(h, head));
        Ok(results)
    }
}

/// Plans and writes one group in one transaction: its results, the new head and
/// how many rows were appended.
async fn write(
    conn: &mut SqliteConnection,
    calls: &[Vec<StreamAppend>],
) -> Result<(Vec<CallResult>, u64, usize), StoreError> {
    // IMMEDIATE takes SQLite's write lock now, so the reads below are current
    // until commit. Dropped uncommitted, the transaction rolls back.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let stored = read(&mut tx, &plan::keys(calls), &plan::streams(calls)).await?;
    let plan = plan::plan(calls, &stored);
    if !plan.rows.is_empty() {
        insert(&mut tx, &plan.rows, plan.head).await?;
    }
    tx.commit().await?;
    Ok((plan.results, plan.head, plan.rows.len()))
}

/// Reads what planning a group needs.
async fn read(conn: &mut SqliteConnection, keys: &[(&str, &str)], streams: &[&str]) -> Result<Stored, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT position FROM event_store_head").fetch_one(&mut *conn).await?;
    let existing: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT e.source, e.id, e.revision, e.position FROM json_each(?1) k \
         JOIN events e ON e.source = k.value ->> 0 AND e.id = k.value ->> 1",
    )
    .bind(serde_json::to_string(keys)?)
    .fetch_all(&mut *conn)
    .await?;
    let heads: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT k.value, (SELECT max(revision) FROM events e WHERE e.stream = k.value) FROM json_each(?1) k",
    )
    .bind(serde_json::to_string(streams)?)
    .fetch_all(conn)
    .await?;
    sql::stored(head, existing, heads)
}

/// Inserts the planned rows and moves the head.
async fn insert(conn: &mut SqliteConnection, rows: &[Row<'_>], head: u64) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let statement = insert_statement(chunk.len());
        let mut insert = sqlx::query(&statement);
        for row in chunk {
            let e = row.event;
            insert = insert
                .bind(to_i64(row.position))
                .bind(row.stream)
                .bind(to_i64(row.revision))
                .bind(e.event_id.to_string())
                .bind(&e.source)
                .bind(&e.id)
                .bind(&e.event_type)
                .bind(e.time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                .bind(serde_json::to_string(&e.payload)?);
        }
        insert.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE event_store_head SET position = ?1").bind(to_i64(head)).execute(conn).await?;
    Ok(())
}

/// The shared SQL reads, for a SqlitePool.
mod reads {
    use sqlx::sqlite::SqlitePool;

    crate::sql::reads!(SqlitePool);
}
