//! The event store of nudge: the [`EventStore`] port and its adapters.
//!
//! Streams are named `player-{id}`; every event has a revision in its stream and a
//! position in the global order. [`connect`] picks the adapter by URL scheme.

mod error;
mod event;
mod event_store;
mod group_commit;
pub mod kurrentdb;
mod plan;
pub mod postgres;
mod sql;
pub mod sqlite;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

pub use error::StoreError;
pub use event::{Appended, ExpectedRevision, NewEvent, RecordedEvent, StreamAppend};
pub use event_store::{EventStore, EventStream};

/// Opens the event store named by `url`: `sqlite://path`, `postgres://...` or
/// `kurrentdb://...` (also `esdb://`).
pub async fn connect(url: &str) -> Result<Arc<dyn EventStore>, StoreError> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or_default();
    Ok(match scheme {
        "sqlite" => Arc::new(sqlite::SqliteStore::connect(url).await?),
        "postgres" | "postgresql" => Arc::new(postgres::PostgresStore::connect(url).await?),
        "kurrentdb" | "kurrentdb+discover" | "esdb" | "esdb+discover" => {
            Arc::new(kurrentdb::KurrentStore::connect(url).await?)
        }
        _ => {
            return Err(StoreError::InvalidUrl(format!(
                "{url}: the scheme must be sqlite://, postgres:// or kurrentdb://"
            )));
        }
    })
}
