//! What can go wrong while projecting.

/// A projection or read-model failure.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading events failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The read-model database failed.
    #[error("read-model database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The read-model database could not be opened.
    #[error(transparent)]
    Open(#[from] database::DatabaseError),
    /// A stored fold state could not be read back or written.
    #[error("fold state of player {player_id}: {source}")]
    State {
        /// Whose state.
        player_id: String,
        /// What went wrong.
        source: postcard::Error,
    },
    /// A recommendation could not be written or read back as JSON.
    #[error("recommendation JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// A stored number is out of range.
    #[error("stored {what} is out of range: {value}")]
    OutOfRange {
        /// Which number.
        what: &'static str,
        /// Its value.
        value: i64,
    },
    /// The database's logical partitions were fixed at another number.
    #[error(
        "the read-model database was made with {recorded} partitions, fixed since; {requested} (--partitions, NUDGE_PARTITIONS) differs: leave it out or set {recorded}"
    )]
    PartitionsFixed {
        /// The number recorded when the database was made.
        recorded: std::num::NonZeroU32,
        /// The number asked for.
        requested: std::num::NonZeroU32,
    },
    /// Partitions changed hands (or an erasure or promotion moved their epoch)
    /// after this process took them: its commit was rolled back.
    #[error("fenced: partitions {partitions:?} of projection {projection} are no longer this instance's")]
    Fenced {
        /// Which projection.
        projection: String,
        /// The partitions lost.
        partitions: Vec<u32>,
    },
    /// A partition worker stopped.
    #[error("a projection partition stopped")]
    PartitionStopped,
    /// A projection task panicked or was aborted.
    #[error("a projection task stopped: {0}")]
    Crashed(String),
}

impl ProjectionError {
    /// Whether retrying later may succeed (a database is unreachable or overloaded).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_unavailable(),
            Self::Database(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_)
            ),
            _ => false,
        }
    }
}
