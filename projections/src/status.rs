//! Where a projection is, as `GET /v1/projections` reports it.

use serde::Serialize;

/// What a projection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionState {
    /// Following the store.
    Running,
    /// Following the store while a rebuild from position 0 runs beside it.
    Rebuilding,
    /// The last run failed; it starts again from its checkpoint shortly.
    Failed,
}

/// Where a projection is, for `GET /v1/projections`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: &'static str,
    /// What it is doing.
    pub state: ProjectionState,
    /// Why the last run failed, while it is failed.
    pub error: Option<String>,
    /// Global position up to which every partition's events are in the rows
    /// served (the lowest partition checkpoint).
    pub checkpoint: u64,
    /// Global position of the last event in the store.
    pub head: u64,
    /// Logical partitions players are spread over, fixed when the database was made.
    pub partitions: u32,
    /// Events appended and not projected yet.
    pub lag_events: u64,
    /// How long since the projection last had nothing left to project (to half a
    /// second), 0 when it has nothing left now.
    pub lag_seconds: f64,
    /// The rebuild in progress, if any.
    pub rebuild: Option<RebuildStatus>,
}

/// A rebuild in progress: it replaces the served rows once it reaches their
/// checkpoint in every partition.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RebuildStatus {
    /// Global position it has rebuilt up to in every partition.
    pub checkpoint: u64,
    /// Events between it and the served rows' checkpoint.
    pub remaining_events: u64,
    /// What is served meanwhile.
    pub serving: &'static str,
}
