//! Where subscriptions and deliveries live: the read-model database, next to
//! the recommendations and the outbox the projection writes.

pub(crate) mod deliveries;
mod erasure;
mod subscriptions;

use chrono::{DateTime, TimeZone, Utc};
use store::Pools;

pub use deliveries::{Claimed, DeliveryQuery, Outcome, Settlement};

/// The read-model database, where subscriptions and deliveries live.
#[derive(Debug, Clone)]
pub struct Database(Pools);

impl Database {
    /// The webhook tables in the database of these pools.
    pub fn new(pools: Pools) -> Self {
        Self(pools)
    }

    /// The pools.
    pub fn pools(&self) -> &Pools {
        &self.0
    }

    fn is_postgres(&self) -> bool {
        matches!(self.0, Pools::Postgres(_))
    }
}

/// Milliseconds since the epoch, as the webhook tables keep times.
pub(crate) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A time kept as milliseconds since the epoch.
pub(crate) fn time(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis).single().unwrap_or_default()
}
