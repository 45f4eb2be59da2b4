//! Pages of events in global order, read on connections of their own: a page is
//! one task on a blocking thread, and each row is decoded from SQLite's own
//! memory. Through sqlx every value was first copied out of SQLite, then copied
//! again into the row's strings: a third of what catching up cost.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use rusqlite::{Connection, OpenFlags, Row, types::Type};

use super::{BUSY_TIMEOUT, READERS};
use crate::{
    RecordedEvent, StoreError,
    sql::{self, Columns, event_columns, to_i64},
};

/// Connections that read pages; as many are kept idle as may read at once.
#[derive(Debug)]
pub(crate) struct Pages {
    file: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pages {
    /// Reads pages of the (migrated) database `file`; connections open when first needed.
    pub(crate) fn new(file: &Path) -> Arc<Self> {
        Arc::new(Self { file: file.to_owned(), idle: Mutex::new(Vec::new()) })
    }

    /// Up to `limit` events of the streams named `prefix...`, after position `after`, in order.
    pub(crate) async fn read(
        self: &Arc<Self>,
        after: u64,
        limit: usize,
        prefix: &str,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let (pages, prefix) = (Arc::clone(self), prefix.to_owned());
        tokio::task::spawn_blocking(move || pages.with_connection(|conn| page(conn, after, limit, &prefix)))
            .await
            .map_err(|e| StoreError::Writer(format!("a page read stopped: {e}")))?
    }

    /// Runs `read` on an idle connection, or a new one; keeps it afterwards
    /// unless the read failed (the connection may be what failed).
    fn with_connection<T>(&self, read: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open(&self.file)?,
        };
        let answer = read(&conn)?;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READERS as usize {
            idle.push(conn);
        }
        Ok(answer)
    }
}

fn open(file: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn page(conn: &Connection, after: u64, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut select = conn.prepare_cached(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events_as_text WHERE position > ?1 AND substr(stream, 1, length(?2)) = ?2 ORDER BY position LIMIT ?3"
    ))?;
    let mut rows = select.query((to_i64(after), prefix, to_i64(limit as u64)))?;
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
