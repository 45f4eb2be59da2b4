//! What can go wrong in training, scoring and the model registry.

use store::StoreError;

/// An error of the `ml` crate.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry's database failed.
    #[error("model registry: {0}")]
    Database(#[from] sqlx::Error),
    /// The task reading the store stopped before the end.
    #[error("the replay's reader stopped: {0}")]
    Reader(String),
    /// The data cannot train a model.
    #[error("not enough data to train the {target} model: {detail}")]
    NotEnoughData {
        /// `harm` or `churn`.
        target: &'static str,
        /// What is missing.
        detail: String,
    },
    /// The labels of a fit hold one class only.
    #[error("the training points hold one class only")]
    OneClass,
    /// linfa could not fit a model.
    #[error("fitting failed: {0}")]
    Fit(String),
    /// A ground-truth file does not read.
    #[error("ground truth: {0}")]
    Truth(String),
    /// A model artifact is malformed or does not match this nudge.
    #[error("invalid model artifact: {0}")]
    Artifact(String),
}
