//! The pools of a SQL database nudge keeps more than events in (the read-model
//! database): what the webhook and API key tables are reached through.

use sqlx::{PgPool, SqlitePool};

/// A SQLite or PostgreSQL database's pools.
#[derive(Debug, Clone)]
pub enum Pools {
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

/// Runs `$body` with `$writer` and `$reader` bound to the pools of `$pools`
/// (statements written with `$n` placeholders run on both databases); the body
/// is expanded once per database, as sqlx's executors are not one type.
#[macro_export]
macro_rules! with_pools {
    ($pools:expr, $writer:ident, $reader:ident => $body:expr) => {
        match $pools {
            $crate::Pools::Sqlite { writer: $writer, readers: $reader } => $body,
            $crate::Pools::Postgres(pool) => {
                let ($writer, $reader) = (pool, pool);
                $body
            }
        }
    };
}
