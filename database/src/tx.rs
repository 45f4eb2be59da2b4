//! A transaction on the read-model database, whichever it is.

use sqlx::{Postgres, Sqlite, Transaction};

/// A transaction on the writer. Statements the two databases run alike go
/// through [`crate::query`]; the variants are there for those that differ.
#[derive(Debug)]
pub enum Tx {
    /// On SQLite's one writer.
    Sqlite(Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }

    /// Whether this runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}
