//! What can go wrong in the webhooks crate.

/// A webhooks error.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row does not read back.
    #[error("a stored {what} does not read back: {detail}")]
    Stored {
        /// Which kind of row.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A secret could not be made.
    #[error(transparent)]
    Secret(#[from] crate::SecretError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl WebhookError {
    pub(crate) fn stored(what: &'static str, detail: impl ToString) -> Self {
        Self::Stored { what, detail: detail.to_string() }
    }
}
