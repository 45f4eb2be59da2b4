//! Every read of the SQLite event store, on connections of its own (rusqlite):
//! a read is one task on a blocking thread, and each row is decoded from
//! SQLite's own memory. Through sqlx every value was first copied out of
//! SQLite, then copied again into the row's strings: a third of what catching
//! up cost.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, types::Type};
use tokio::sync::Semaphore;

use super::{BUSY_TIMEOUT, READERS};
use crate::{
    RecordedEvent, StoreError,
    sql::{self, Columns, event_columns, to_i64, to_u64},
};

/// At most [`READERS`] connections, opened when first needed and kept.
#[derive(Debug)]
pub(crate) struct Readers {
    file: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// One permit a connection: reads beyond them wait, as they did on a pool.
    permits: Semaphore,
}

impl Readers {
    /// Reads the (migrated) database `file`.
    pub(crate) fn new(file: &Path) -> Arc<Self> {
        let permits = Semaphore::new(READERS);
        Arc::new(Self { file: file.to_owned(), idle: Mutex::new(Vec::new()), permits })
    }

    /// Up to `limit` events of `stream` from `from_revision` on; not found when
    /// the stream has no event.
    pub(crate) async fn read_stream(
        self: &Arc<Self>,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream = stream.to_owned();
        self.run(move |conn| {
            let mut select = conn.prepare_cached(concat!(
                "SELECT ",
                event_columns!(),
                " FROM events_as_text WHERE stream = ?1 AND revision >= ?2 ORDER BY revision LIMIT ?3"
            ))?;
            let events = events(select.query((&stream, to_i64(from_revision), to_i64(limit as u64)))?, limit)?;
            if events.is_empty() {
                let mut exists = conn.prepare_cached("SELECT 1 FROM events WHERE stream = ?1 LIMIT 1")?;
                if exists.query_row([&stream], |_| Ok(())).optional()?.is_none() {
                    return Err(StoreError::StreamNotFound(stream));
                }
            }
            Ok(events)
        })
        .await
    }

    /// Up to `limit` events of the streams named `prefix...`, after position `after`, in order.
    pub(crate) async fn read_all(
        self: &Arc<Self>,
        after: u64,
        limit: usize,
        prefix: &str,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let prefix = prefix.to_owned();
        self.run(move |conn| {
            let mut select = conn.prepare_cached(concat!(
                "SELECT ",
                event_columns!(),
                " FROM events_as_text WHERE position > ?1 AND substr(stream, 1, length(?2)) = ?2 \
                 ORDER BY position LIMIT ?3"
            ))?;
            events(select.query((to_i64(after), &prefix, to_i64(limit as u64)))?, limit)
        })
        .await
    }

    /// The position of the last event stored, 0 when there is none. Not the
    /// head row: that one also moves when a stream is deleted (and never goes
    /// back), while this is the position a reader can reach.
    pub(crate) async fn head(self: &Arc<Self>) -> Result<u64, StoreError> {
        self.run(|conn| {
            let head: i64 =
                conn.prepare_cached("SELECT coalesce(max(position), 0) FROM events")?.query_row([], |r| r.get(0))?;
            to_u64(head)
        })
        .await
    }

    /// Checks that the file answers a read.
    pub(crate) async fn ping(self: &Arc<Self>) -> Result<(), StoreError> {
        self.run(|conn| Ok(conn.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))?)).await
    }

    /// Runs `read` on a blocking thread with a connection: an idle one, or a
    /// new one; keeps it afterwards unless the read failed (the connection may
    /// be what failed).
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self.permits.acquire().await.map_err(|_| StoreError::Closed)?;
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let idle = readers.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => open(&readers.file)?,
            };
            let answer = read(&conn)?;
            readers.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
            Ok(answer)
        })
        .await
        .map_err(|e| StoreError::Writer(format!("a read stopped: {e}")))?
    }
}

fn open(file: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Every row of [`event_columns`] `rows` holds, as events.
fn events(mut rows: rusqlite::Rows<'_>, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::with_capacity(limit.min(crate::subscription::PAGE));
    while let Some(row) = rows.next()? {
        events.push(event(row)?);
    }
    Ok(events)
}

/// One row of [`event_columns`], its text read in place.
fn event(row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
    let text = |i: usize| -> Result<&str, rusqlite::Error> {
        row.get_ref(i)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e.into()))
    };
    sql::event(Columns {
        position: row.get(0)?,
        stream: text(1)?.to_owned(),
        revision: row.get(2)?,
        event_id: text(3)?,
        source: text(4)?.to_owned(),
        id: text(5)?.to_owned(),
        event_type: text(6)?.to_owned(),
        payload: text(7)?,
    })
}
