//! The instances sharing the players, and who folds which partition (`GET /v1/cluster`).

use axum::{Json, extract::State};
use projections::{InstanceStatus, LeaseStatus};
use serde::Serialize;

use crate::{server::AppState, server::problem::ApiError};

/// The cluster as the read-model database records it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cluster {
    /// The instance that answered.
    pub answered_by: String,
    /// How long a lease holds unless renewed, in milliseconds.
    pub lease_ttl_ms: u64,
    /// The database's clock when it answered (milliseconds since 1970).
    pub now_ms: i64,
    /// The instances alive (a heartbeat within the lease TTL).
    pub instances: Vec<InstanceStatus>,
    /// Every partition of every projection: owner, epoch, lease and checkpoint.
    pub partitions: Vec<PartitionStatus>,
}

/// One partition's lease, with how far it is behind the store.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartitionStatus {
    /// The lease.
    #[serde(flatten)]
    pub lease: LeaseStatus,
    /// Events appended to any partition after its checkpoint: an upper bound on
    /// its own lag.
    pub lag_events: u64,
}

/// Lists the instances and each partition's owner, epoch, checkpoint and lag.
#[utoipa::path(
    get,
    path = "/v1/cluster",
    operation_id = "getCluster",
    tag = "projections",
    responses((status = 200, description = "The instances and the partitions", body = Cluster)),
)]
#[tracing::instrument(name = "cluster", skip_all)]
pub async fn get(State(state): State<AppState>) -> Result<Json<Cluster>, ApiError> {
    let ttl = state.projection.lease_ttl();
    let (now_ms, instances, leases) = state.projection.read_model().cluster(ttl).await?;
    let head = state.store.head().await?;
    let partitions = leases
        .into_iter()
        .map(|lease| PartitionStatus { lag_events: head.saturating_sub(lease.checkpoint), lease })
        .collect();
    Ok(Json(Cluster {
        answered_by: state.projection.instance().to_owned(),
        lease_ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        now_ms,
        instances,
        partitions,
    }))
}
