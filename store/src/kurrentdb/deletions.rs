//! Soft-deleted streams as readers of `$all` must see them.
//!
//! KurrentDB hides a soft-deleted stream's events from stream reads at once but
//! keeps them in `$all` until a scavenge, so nudge leaves them out of its `$all`
//! reads itself. A soft delete writes the stream's metadata (stream `$$name`)
//! with a truncate-before (`$tb`): every event of the stream logged before that
//! metadata event and below that revision is deleted. A store learns of deletions
//! by reading the metadata events of non-system streams from `$all` (filtered on
//! the server) up to the end of the log; those made through it are known at once.
//! The metadata event names the stream, as KurrentDB's own record of the delete:
//! nudge keeps no other reference to whose stream it was. A store's first look
//! scans the whole log on the server; later ones only what was logged since.
//!
//! What a read hands out was checked against the deletions known when it began
//! (a subscription looks again whenever it passes the end of the log it last
//! looked at): a stream deleted by another process while a read is under way may
//! still have events in that read.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
};

use kurrentdb::{ReadAllOptions, StreamMetadata, StreamPosition, SubscriptionFilter};

use super::{connection::Connection, records::page_after};
use crate::{RecordedEvent, StoreError};

/// Metadata events read at a time.
const PAGE: usize = 1_000;

/// The deletions a store knows of.
#[derive(Debug, Default)]
pub(super) struct Deletions {
    known: RwLock<Known>,
    /// One look at the log at a time.
    looking: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Known {
    /// The end of the log when it was last looked at: every deletion before it is known.
    through: Option<u64>,
    /// Each deleted stream's latest truncation.
    streams: HashMap<String, Truncation>,
}

/// A truncation of a stream: its events logged before `position` with a revision
/// below `before` are deleted.
#[derive(Debug, Clone, Copy)]
struct Truncation {
    position: u64,
    before: u64,
}

impl Deletions {
    /// Whether `event` belongs to a deleted stream, as far as is known.
    pub(super) fn covers(&self, event: &RecordedEvent) -> bool {
        self.read().streams.get(&event.stream).is_some_and(|t| event.position < t.position && event.revision < t.before)
    }

    /// Whether the log was last looked at before `position`.
    pub(super) fn behind(&self, position: u64) -> bool {
        self.read().through.is_none_or(|through| through < position)
    }

    /// Records a delete made through this store: everything of `stream` logged
    /// before `position` is gone.
    pub(super) fn deleted(&self, stream: &str, position: u64) {
        record(&mut self.known.write().unwrap_or_else(PoisonError::into_inner), stream, position, u64::MAX);
    }

    /// Reads the metadata events logged since the last look, up to the end of the log.
    pub(super) async fn look(&self, connection: &Connection) -> Result<(), StoreError> {
        let _one = self.looking.lock().await;
        let end = end_of_log(connection).await?;
        let mut cursor = self.read().through;
        loop {
            let names = SubscriptionFilter::on_stream_name().regex(r"^\$\$[^$]");
            let (page, received) = page_after(connection, cursor, names, PAGE + 1).await?;
            let start = cursor;
            let mut found = Vec::new();
            for event in page {
                let at = event.position.prepare;
                cursor = Some(at);
                let truncate =
                    serde_json::from_slice::<StreamMetadata>(&event.data).ok().and_then(|m| m.truncate_before);
                if let (Some(stream), Some(before)) = (event.stream_id().strip_prefix("$$"), truncate) {
                    found.push((stream.to_owned(), at, before));
                }
            }
            let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
            for (stream, position, before) in found {
                record(&mut known, &stream, position, before);
            }
            known.through = cursor.max(known.through);
            if received <= PAGE || cursor == start {
                known.through = known.through.max(Some(end));
                return Ok(());
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        self.known.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps the latest truncation of `stream`.
fn record(known: &mut Known, stream: &str, position: u64, before: u64) {
    let truncation = Truncation { position, before };
    known
        .streams
        .entry(stream.to_owned())
        .and_modify(|t| {
            if position >= t.position {
                *t = truncation;
            }
        })
        .or_insert(truncation);
}

/// The position of the last event in the log, 0 when it is empty.
async fn end_of_log(connection: &Connection) -> Result<u64, StoreError> {
    let options = ReadAllOptions::default().backwards().position(StreamPosition::End).max_count(1);
    let client = connection.client();
    let mut read = client.read_all(&options).await.map_err(|e| client.error(e, "$all"))?;
    let last = read.next().await.map_err(|e| client.error(e, "$all"))?.and_then(|resolved| resolved.event);
    Ok(last.map_or(0, |event| event.position.prepare))
}
