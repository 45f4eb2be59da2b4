//! A player's erasure (data protection): their stream, read-model rows,
//! recommendations and webhook deliveries deleted, and a record of it kept that
//! holds nothing personal.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use database::{Database, query};
use domain::PlayerId;
use projections::{FeatureProjection, ProjectionError};
use serde::Serialize;
use store::{EventStore, StoreError};
use uuid::Uuid;
use webhooks::WebhookError;

/// The record of one erasure: no player id, not even hashed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "019ac0de-7f00-7a3b-9c1e-2f5d8a6b4c3d",
    "erased_at": "2026-11-26T12:00:00.123Z",
    "events_deleted": 1284,
    "api_key_id": "019ab2c4-1e00-7d2a-8b3f-9a0c1d2e3f40"
}))]
pub struct Erasure {
    /// Its id (UUIDv7).
    pub id: Uuid,
    /// When it was done.
    pub erased_at: DateTime<Utc>,
    /// Events deleted from the player's stream.
    pub events_deleted: u64,
    /// The API key that asked; `None` when nudge answered without keys.
    pub api_key_id: Option<Uuid>,
}

/// Why an erasure failed; asking again finishes it.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    /// The event store failed.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// The read model failed.
    #[error("read model: {0}")]
    Projection(#[from] ProjectionError),
    /// The webhook tables failed.
    #[error("webhooks: {0}")]
    Webhooks(#[from] WebhookError),
    /// The erasure record could not be written.
    #[error("erasure record: {0}")]
    Database(#[from] sqlx::Error),
}

/// What an erasure reaches.
#[derive(Clone)]
pub struct Eraser {
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// The feature projection, which deletes the read-model rows.
    pub projection: FeatureProjection,
    /// The webhook deliveries.
    pub webhooks: webhooks::Database,
    /// The read-model database, where the records go.
    pub database: Database,
}

impl Eraser {
    /// Erases the player: deletes their stream first (the source every other
    /// place is derived from), then the read model's rows, then the deliveries,
    /// and records it last, so a record means it is done. Each step forgets what
    /// is left, so a failed erasure asked again completes; a player with nothing
    /// stored is erased all the same (0 events).
    pub async fn erase(&self, player: &PlayerId, api_key_id: Option<Uuid>) -> Result<Erasure, ErasureError> {
        let events_deleted = self.store.delete_stream(&player.stream_name()).await?;
        self.projection.erase(player.as_str()).await?;
        self.webhooks.erase_player(player.as_str()).await?;
        let erasure = Erasure { id: Uuid::now_v7(), erased_at: now_millis(), events_deleted, api_key_id };
        let sql = "INSERT INTO erasures (id, erased_at, events_deleted, api_key_id) VALUES ($1, $2, $3, $4)";
        query(sql)
            .bind(erasure.id.to_string())
            .bind(erasure.erased_at.timestamp_millis())
            .bind(i64::try_from(events_deleted).unwrap_or(i64::MAX))
            .bind(api_key_id.map(|id| id.to_string()))
            .execute(self.database.writer())
            .await?;
        metrics::counter!("nudge_erasures_total").increment(1);
        Ok(erasure)
    }
}

/// Now, to the millisecond the record keeps.
fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    Utc.timestamp_millis_opt(now.timestamp_millis()).single().unwrap_or(now)
}
