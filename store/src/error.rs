//! What can go wrong in an event store.

use crate::ExpectedRevision;

/// An event store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the revision the append expected; nothing was appended.
    #[error("stream {stream} expected at {expected:?} but is at {actual:?}")]
    WrongExpectedRevision {
        /// Stream name.
        stream: String,
        /// What the append expected.
        expected: ExpectedRevision,
        /// The stream's last revision, `None` when it does not exist.
        actual: Option<u64>,
    },
    /// The stream does not exist.
    #[error("stream {0} not found")]
    StreamNotFound(String),
    /// The store URL could not be understood.
    #[error("invalid store url: {0}")]
    InvalidUrl(String),
    /// A stored row could not be turned back into an event.
    #[error("corrupt stored event at position {position}: {reason}")]
    Corrupt {
        /// Its global position.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The event store's logical partitions were fixed at another number.
    #[error(
        "the event store was made with {recorded} partitions, fixed since; {requested} (--partitions, NUDGE_PARTITIONS) differs: leave it out or set {recorded}"
    )]
    PartitionsFixed {
        /// The number recorded when the store was made.
        recorded: std::num::NonZeroU32,
        /// The number asked for.
        requested: std::num::NonZeroU32,
    },
    /// The store is shutting down and takes no more appends.
    #[error("the event store is closed")]
    Closed,
    /// SQLite or PostgreSQL failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite event store's writer failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A thread of the SQLite event store failed: the writer could not start, or a read stopped.
    #[error("{0}")]
    Writer(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// An event or rows could not be encoded as JSON.
    #[error("encoding as JSON failed: {0}")]
    Encode(#[from] serde_json::Error),
    /// Another process serves from this SQLite database.
    #[error(
        "another process holds the SQLite database {}: SQLite serves one nudge process; several instances need PostgreSQL",
        .0.display()
    )]
    HeldByAnotherProcess(std::path::PathBuf),
    /// The SQLite event store's file cannot be written by this process.
    #[error(
        "the event store {} cannot be written by this process (its permissions, or a read-only file system): nudge appends to it",
        .0.display()
    )]
    ReadOnly(std::path::PathBuf),
    /// The lock file beside a SQLite database could not be made or locked.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// KurrentDB failed.
    #[error("kurrentdb error: {0}")]
    Kurrent(String),
}

impl StoreError {
    /// Whether retrying later may succeed: the backend is unreachable, shutting
    /// down or overloaded, its disk is full or failing, or another process held
    /// SQLite's lock longer than nudge waits.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(e)) => transient(e.as_ref()),
            Self::Database(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Tls(_)
            ),
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::CannotOpen
            ),
            Self::Kurrent(_) | Self::Closed => true,
            _ => false,
        }
    }
}

/// A database error that passes: on SQLite busy or locked, a full disk, an I/O
/// error, a file that cannot be opened (whatever the extended code); on
/// PostgreSQL a lost connection (class 08), insufficient resources (53: a full
/// disk, too many connections) or a server shutting down or starting (57P).
fn transient(error: &dyn sqlx::error::DatabaseError) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    let code = error.code();
    if error.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return code
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, BUSY | LOCKED | IOERR | FULL | CANTOPEN));
    }
    error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some()
        && code.is_some_and(|code| code.starts_with("08") || code.starts_with("53") || code.starts_with("57P"))
}
