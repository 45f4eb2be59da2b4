//! The instances sharing the read model: each registers, heartbeats while it
//! runs and leaves on a clean stop, saying where its API listens. This module
//! owns `projection_instances`, and `projection_peer_secret`, with which they
//! prove to each other that a read was forwarded by one of them.

use std::time::Duration;

use database::query;
use serde::Serialize;

use super::{ReadModel, leases::millis};
use crate::ProjectionError;

/// One instance as it registers itself.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Unique per process run.
    pub id: String,
    /// Where its API listens, as others should reach it.
    pub address: String,
    /// Its version.
    pub version: String,
}

/// An instance as the database sees it, for `GET /v1/cluster`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceStatus {
    /// Unique per process run.
    pub id: String,
    /// Where its API listens.
    pub address: String,
    /// Its version.
    pub version: String,
    /// When it started, by the database's clock (milliseconds since 1970).
    pub started_ms: i64,
    /// Its last heartbeat, by the database's clock (milliseconds since 1970).
    pub heartbeat_ms: i64,
}

impl ReadModel {
    /// Registers or refreshes `instance`'s heartbeat; answers the ids of the
    /// instances alive (a heartbeat within `ttl`), in order.
    pub async fn heartbeat(&self, instance: &Instance, ttl: Duration) -> Result<Vec<String>, ProjectionError> {
        let now = self.dialect().now();
        let upsert = format!(
            "INSERT INTO projection_instances (id, address, version, started_ms, heartbeat_ms) \
             VALUES ($1, $2, $3, {now}, {now}) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms"
        );
        query(&upsert)
            .bind(&instance.id)
            .bind(&instance.address)
            .bind(&instance.version)
            .execute(self.database.writer())
            .await?;
        let alive = format!("SELECT id FROM projection_instances WHERE heartbeat_ms > {now} - $1 ORDER BY id");
        let ids: Vec<(String,)> = query(&alive).bind(millis(ttl)).fetch_all(self.database.writer()).await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// The secret the instances sharing this database prove forwarded reads
    /// with; the first instance to ask makes it, of 244 random bits.
    pub async fn peer_secret(&self) -> Result<String, ProjectionError> {
        let made = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let mut tx = self.database.begin().await?;
        query("INSERT INTO projection_peer_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(made)
            .execute(&mut tx)
            .await?;
        let (secret,): (String,) =
            query("SELECT secret FROM projection_peer_secret WHERE id = 1").fetch_one(&mut tx).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Removes `instance` from the instances alive (a clean stop).
    pub async fn leave(&self, instance: &str) -> Result<(), ProjectionError> {
        query("DELETE FROM projection_instances WHERE id = $1").bind(instance).execute(self.database.writer()).await?;
        Ok(())
    }

    /// Where the instance other than `except` that holds `projection`'s
    /// `partition` under an unexpired lease listens, if one does and said where.
    pub async fn holder_address(
        &self,
        projection: &str,
        partition: u32,
        except: &str,
    ) -> Result<Option<String>, ProjectionError> {
        let now = self.dialect().now();
        let sql = format!(
            "SELECT i.address FROM projection_leases l JOIN projection_instances i ON i.id = l.owner \
             WHERE l.projection = $1 AND l.partition = $2 AND l.lease_until_ms > {now} AND i.id <> $3 \
             AND i.address <> ''"
        );
        let found: Option<(String,)> = query(&sql)
            .bind(projection)
            .bind(i64::from(partition))
            .bind(except)
            .fetch_optional(self.database.reader())
            .await?;
        Ok(found.map(|(address,)| address))
    }

    /// The database clock, and the instances alive within `ttl`, in order.
    pub(super) async fn instances(&self, ttl: Duration) -> Result<(i64, Vec<InstanceStatus>), ProjectionError> {
        let now = self.dialect().now();
        let (clock,): (i64,) = query(&format!("SELECT {now}")).fetch_one(self.database.reader()).await?;
        let sql = format!(
            "SELECT id, address, version, started_ms, heartbeat_ms FROM projection_instances \
             WHERE heartbeat_ms > {now} - $1 ORDER BY id"
        );
        let rows: Vec<(String, String, String, i64, i64)> =
            query(&sql).bind(millis(ttl)).fetch_all(self.database.reader()).await?;
        let instances = rows
            .into_iter()
            .map(|(id, address, version, started_ms, heartbeat_ms)| InstanceStatus {
                id,
                address,
                version,
                started_ms,
                heartbeat_ms,
            })
            .collect();
        Ok((clock, instances))
    }
}
