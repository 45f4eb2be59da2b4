//! Where subscriptions and deliveries live: the read-model database, next to
//! the recommendations they carry.

pub(crate) mod deliveries;
mod erasure;
mod lanes;
mod routing;
mod settlement;
mod slots;
mod subscriptions;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::{Outbox, Recommendations};

pub use deliveries::{Claimed, DeliveryQuery};
pub use settlement::{Outcome, Settlement};
pub(crate) use slots::SlotRequest;

/// The webhook tables (subscriptions, the outbox, deliveries) in the
/// read-model database, and the recommendations they route.
#[derive(Debug, Clone)]
pub struct Database {
    database: database::Database,
    outbox: Outbox,
    recommendations: Arc<dyn Recommendations>,
}

impl Database {
    /// The webhook tables in `database`; the router follows `outbox` and reads
    /// what it queues from `recommendations`.
    pub fn new(database: database::Database, outbox: Outbox, recommendations: Arc<dyn Recommendations>) -> Self {
        Self { database, outbox, recommendations }
    }

    /// The outbox the router follows.
    pub(crate) fn outbox(&self) -> &Outbox {
        &self.outbox
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
