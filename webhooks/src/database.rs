//! Where subscriptions and deliveries live: the read-model database, next to
//! the recommendations and the outbox the projection writes.

pub(crate) mod deliveries;
mod subscriptions;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{PgPool, SqlitePool};

pub use deliveries::{Claimed, DeliveryQuery, Outcome, Settlement};

/// The read-model database's pools.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite: writes go through its single writer.
    Sqlite {
        /// The one connection that writes.
        writer: SqlitePool,
        /// Connections that read.
        readers: SqlitePool,
    },
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs `$body` with `$writer` and `$reader` bound to the database's pools (the
/// statements use `$n` placeholders, which both databases read).
macro_rules! with_pools {
    ($self:ident, $writer:ident, $reader:ident => $body:expr) => {
        match $self {
            Database::Sqlite { writer: $writer, readers: $reader } => $body,
            Database::Postgres(pool) => {
                let ($writer, $reader) = (pool, pool);
                $body
            }
        }
    };
}
pub(crate) use with_pools;

/// Milliseconds since the epoch, as the webhook tables keep times.
pub(crate) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A time kept as milliseconds since the epoch.
pub(crate) fn time(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis).single().unwrap_or_default()
}
