//! What can go wrong opening the read-model database.

/// The read-model database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL could not be understood, or its folder not created.
    #[error("invalid read-model url: {0}")]
    InvalidUrl(String),
    /// The database could not be reached.
    #[error("read-model database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// The SQLite file cannot be written by this process.
    #[error(
        "the read-model database {} cannot be written by this process (its permissions, or a read-only file system)",
        .0.display()
    )]
    ReadOnly(std::path::PathBuf),
    /// A migration failed.
    #[error("read-model migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}
