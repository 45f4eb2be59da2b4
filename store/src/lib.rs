//! The event store of nudge: the [`EventStore`] port and its adapters.
//!
//! Streams are named `player-{id}`; every event has a revision in its stream and a
//! position in the global order. [`connect`] picks the adapter by URL scheme.

mod error;
mod event;
mod event_store;
mod group_commit;
#[cfg(feature = "kurrentdb")]
pub mod kurrentdb;
mod plan;
pub mod postgres;
mod recent;
mod sql;
pub mod sqlite;
mod subscription;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

pub use error::StoreError;
pub use event::{Appended, ExpectedRevision, NewEvent, RecordedEvent, Slot, StreamAppend};
pub use event_store::{EventStore, EventStream, PartitionFeed};

/// The adapters an event store URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `sqlite://path`.
    Sqlite,
    /// `postgres://...` (also `postgresql://`).
    Postgres,
    /// `kurrentdb://...` (also `kurrentdb+discover://`, `esdb://`, `esdb+discover://`).
    KurrentDb,
}

impl Adapter {
    /// The adapter `url` names, by its scheme; an error naming the schemes for any other.
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.is_empty() {
            return Err(StoreError::InvalidUrl(
                "the URL is empty (--store, NUDGE_STORE): leave it out for the default, sqlite://data/nudge.db"
                    .to_owned(),
            ));
        }
        match url.split_once("://").map(|(s, _)| s).unwrap_or_default() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "kurrentdb" | "kurrentdb+discover" | "esdb" | "esdb+discover" => Ok(Self::KurrentDb),
            _ => {
                Err(StoreError::InvalidUrl(format!("{url}: the scheme must be sqlite://, postgres:// or kurrentdb://")))
            }
        }
    }
}

/// Refuses a URL [`connect`] would refuse before connecting (its scheme, and
/// a PostgreSQL URL's options), so that a caller can tell before it makes
/// anything else.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    if Adapter::of(url)? == Adapter::Postgres {
        postgres::connect_options(url).map_err(|e| StoreError::InvalidUrl(format!("{url}: {e}")))?;
    }
    Ok(())
}

/// Opens the event store named by `url`: `sqlite://path`, `postgres://...` or
/// `kurrentdb://...` (also `esdb://`).
pub async fn connect(url: &str) -> Result<Arc<dyn EventStore>, StoreError> {
    connect_partitioned(url, None).await
}

/// [`connect`], for a store that records each event's logical partition
/// (PostgreSQL) made with `partitions` of them (64 if not given) when it is
/// new; another number than the one recorded is refused.
pub async fn connect_partitioned(
    url: &str,
    partitions: Option<std::num::NonZeroU32>,
) -> Result<Arc<dyn EventStore>, StoreError> {
    Ok(match Adapter::of(url)? {
        Adapter::Sqlite => Arc::new(sqlite::SqliteStore::connect(url).await?),
        Adapter::Postgres => Arc::new(postgres::PostgresStore::connect(url, partitions).await?),
        #[cfg(feature = "kurrentdb")]
        Adapter::KurrentDb => Arc::new(kurrentdb::KurrentStore::connect(url).await?),
        #[cfg(not(feature = "kurrentdb"))]
        Adapter::KurrentDb => {
            return Err(StoreError::InvalidUrl(format!(
                "{url}: this nudge was built without KurrentDB (the `kurrentdb` feature)"
            )));
        }
    })
}
