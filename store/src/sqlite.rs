//! The embedded event store: one SQLite file in WAL mode.

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    Connection, SqliteConnection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};
use tokio::sync::watch;

use crate::{
    Appended, EventStore, EventStream, RecordedEvent, StoreError, StreamAppend,
    group_commit::GroupCommit,
    sql::{self, to_u64},
    subscription,
};

mod checkpoint;
mod readers;
mod serve_lock;
mod writer;

use crate::recent::Recent;
pub use checkpoint::{Checkpointer, PASSIVE};
use readers::Readers;
pub use serve_lock::ServeLock;
use writer::Writer;
pub use writer::cannot_write;

/// How long a statement waits for another process's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers that may query the file at once; WAL lets them run beside the writer.
const READERS: usize = 4;

/// An event store in one SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    readers: Arc<Readers>,
    /// The writer's connection, which deletes and pings borrow between two groups.
    writer: Writer,
    appends: GroupCommit,
    head: Arc<watch::Sender<u64>>,
    /// What this process committed last, read from memory.
    recent: Arc<Recent>,
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
            .busy_timeout(BUSY_TIMEOUT);
        check_file(url, options.get_filename(), "sqlite://data/nudge.db").map_err(StoreError::InvalidUrl)?;
        if let Some(folder) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
            create_folder(folder)?;
        }
        if cannot_write(options.get_filename()) {
            return Err(StoreError::ReadOnly(options.get_filename().to_path_buf()));
        }
        let mut migrations = SqliteConnection::connect_with(&options).await?;
        sql::schema(sqlx::migrate!("./migrations/sqlite")).run(&mut migrations).await?;
        let last: i64 = sqlx::query_scalar("SELECT position FROM event_store_head").fetch_one(&mut migrations).await?;
        migrations.close().await?;
        let head = Arc::new(watch::Sender::new(to_u64(last)?));
        let recent = Arc::new(Recent::new(to_u64(last)?));
        let checkpointer = Checkpointer::spawn(&options, "store").await?;
        let writer = Writer::open(options.get_filename(), head.clone(), Arc::clone(&recent), checkpointer.clone())?;
        let readers = Readers::new(options.get_filename());
        let appends = GroupCommit::spawn(writer.clone())?;
        Ok(Self { readers, writer, appends, head, recent, _checkpointer: checkpointer })
    }
}

/// Refuses a `sqlite://` URL whose path, `file`, is empty or a folder, saying
/// how to write one (`example`), before SQLite answers only that it cannot
/// open the database file; and one that opens it read-only, since nudge
/// migrates and writes every database it opens (SQLite would say only that
/// a write was attempted, and lock files would be made first).
pub fn check_file(url: &str, file: &Path, example: &str) -> Result<(), String> {
    if file.as_os_str().is_empty() {
        return Err(format!("{url} names no file: write its path, as in {example}"));
    }
    if file.is_dir() {
        return Err(format!("{url} names a folder: name a file in it, as in {example}"));
    }
    let mut options = url.split_once('?').map_or("", |(_, query)| query).split('&');
    if let Some(option) = options.find(|o| matches!(*o, "mode=ro" | "immutable=true" | "immutable=1")) {
        return Err(format!("{url} opens the file read-only ({option}): nudge writes to it, leave {option} out"));
    }
    Ok(())
}

fn create_folder(folder: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(folder)
        .map_err(|e| StoreError::InvalidUrl(format!("cannot create folder {}: {e}", folder.display())))
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<Vec<Appended>>, StoreError> {
        self.appends.append(appends).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.readers.read_stream(stream, from_revision, limit).await
    }

    /// From memory when this process committed the events lately (see [`Recent`]).
    async fn read_all(&self, after: Option<u64>, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        if let Some(events) = self.recent.read(after.unwrap_or(0), limit, prefix) {
            return Ok(events);
        }
        self.readers.read_all(after.unwrap_or(0), limit, prefix).await
    }

    fn subscribe_all(&self, after: Option<u64>, prefix: &str) -> EventStream {
        subscription::follow(self.clone(), after, prefix, self.head.subscribe())
    }

    /// The writer plans every group from what it reads under SQLite's write
    /// lock and remembers no revision, so deleting the rows is all it takes.
    async fn delete_stream(&self, stream: &str) -> Result<u64, StoreError> {
        self.writer.delete_stream(stream).await
    }

    async fn head(&self) -> Result<u64, StoreError> {
        self.readers.head().await
    }

    /// Reads, and writes: a no-op update of the head, committed, fails while the
    /// disk is full or failing.
    async fn ping(&self) -> Result<(), StoreError> {
        self.readers.ping().await?;
        self.writer.ping().await
    }
}
