//! The projection runtime of nudge: follows the event store from a stored
//! checkpoint in micro-batches, folds each player's events in stream order across
//! parallel partitions of virtual actors, and commits the changed read-model rows
//! with the checkpoint in one transaction, so a crash at any point converges on
//! replay to exactly what a full replay gives.

mod backtest;
mod batches;
mod cluster;
mod error;
mod feature_cache;
mod fold_runtime;
mod owners;
mod partition;
mod pending;
mod player;
pub mod read_model;
mod runtime;
mod service;
mod status;

use std::time::Duration;

pub use backtest::{Backtest, ChurnFigures, Course, Figures, backtest};
pub use error::ProjectionError;
pub use feature_cache::{CachedRow, FeatureCache};
pub use player::{Answer, Decider, Effect, PlayerState};
pub use read_model::{
    Changes, Fence, InstanceStatus, Lease, LeaseStatus, PlayerRow, ReadModel, RecommendationQuery, Table,
};
pub use service::{FeatureProjection, Reached};
pub use status::{ProjectionState, ProjectionStatus, RebuildStatus};

/// How a projection takes and holds its work.
#[derive(Debug, Clone)]
pub struct ProjectionConfig {
    /// Most events in one micro-batch.
    pub batch_events: usize,
    /// How long a micro-batch waits for more events after its first while
    /// events are few; the wait grows with the rate they arrive at.
    pub batch_wait: Duration,
    /// The longest a micro-batch waits, however fast events arrive.
    pub batch_wait_max: Duration,
    /// Player partitions folding in parallel.
    pub partitions: usize,
    /// Logical partitions to record when the read-model database is new; `None`:
    /// what it records, or 64 for a new one.
    pub logical_partitions: Option<std::num::NonZeroU32>,
    /// Most players held in memory across the partitions.
    pub players_in_memory: usize,
    /// A player untouched this long leaves memory.
    pub idle: Duration,
    /// The intervention policy, with its cooldowns.
    pub policy: domain::Policy,
    /// How long a partition lease holds unless renewed; renewed ten times as often.
    pub lease_ttl: Duration,
    /// Where the other instances reach this one's API (an `http` URL; empty
    /// for nowhere), to forward it reads of its players; `GET /v1/cluster` shows it.
    pub address: String,
    /// This instance's id, unique per process run: its leases and its
    /// training jobs name it.
    pub instance: String,
    /// Most players whose current feature row is kept in memory for reads; 0 keeps none.
    pub feature_cache_entries: usize,
    /// How long a changed player's row may wait in memory before it is
    /// written; 0 writes every row with its batch. Each row written stands
    /// for every event of its player in the wait, so a longer one writes
    /// fewer rows; an instance that does not hold the player reads the stored
    /// row, which lags by up to this, only when it cannot ask the one that does.
    pub write_behind: Duration,
}

impl Default for ProjectionConfig {
    fn default() -> Self {
        Self {
            batch_events: 10_000,
            batch_wait: Duration::from_millis(1),
            batch_wait_max: Duration::from_millis(5),
            partitions: 2,
            logical_partitions: None,
            players_in_memory: 200_000,
            idle: Duration::from_secs(600),
            policy: domain::Policy::default(),
            lease_ttl: Duration::from_secs(5),
            address: String::new(),
            instance: uuid::Uuid::new_v4().to_string(),
            feature_cache_entries: 100_000,
            write_behind: Duration::from_secs(1),
        }
    }
}
