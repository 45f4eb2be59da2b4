//! Checkpoints: the global position each projection has committed up to, kept
//! per logical partition on its lease row, and the rebuild that fills a table
//! beside the live one until it replaces it.

use std::num::NonZeroU32;

use database::{On, Signal, query};

use super::{ReadModel, Table, leases, rows::columns};
use crate::ProjectionError;

impl ReadModel {
    /// The checkpoint `table`'s projection has reached in every partition (the
    /// lowest of them), `None` while it has no partition.
    pub async fn checkpoint(&self, table: Table) -> Result<Option<u64>, ProjectionError> {
        let checkpoints = self.partition_checkpoints(table.checkpoint()).await?;
        Ok(checkpoints.into_iter().map(|(_, checkpoint)| checkpoint).min())
    }

    /// Starts a rebuild from position 0 in every partition: empties the
    /// rebuild table and makes its leases; false, with nothing changed, when
    /// one is in progress (started by any instance).
    pub async fn start_rebuild(&self, partitions: NonZeroU32) -> Result<bool, ProjectionError> {
        let rebuild = Table::Rebuild;
        let mut tx = self.database.begin().await?;
        query("DELETE FROM projection_checkpoints WHERE name = $1").bind(rebuild.checkpoint()).execute(&mut tx).await?;
        // The lease rows are the claim: of two instances asked at once, one writes them.
        if leases::insert_leases(&mut tx, rebuild.checkpoint(), partitions).await? == 0 {
            return Ok(false);
        }
        query(&format!("DELETE FROM {}", rebuild.name())).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces the live rows and checkpoints with the rebuilt ones, in one
    /// transaction, once the rebuild has reached the live checkpoint in every
    /// partition; answers whether it did. Every lease's epoch moves on first
    /// (which waits for the commits in flight), so no instance writes the old
    /// rows again: each folds on from the promoted ones.
    pub async fn promote_rebuild(&self) -> Result<bool, ProjectionError> {
        let (live, rebuild) = (Table::Live, Table::Rebuild);
        // A look without locks first: most ticks of a rebuild end here.
        if !rebuild_caught_up(self.database.writer()).await? {
            return Ok(false);
        }
        let mut tx = self.database.begin().await?;
        query("UPDATE projection_leases SET epoch = epoch + 1 WHERE projection IN ($1, $2)")
            .bind(live.checkpoint())
            .bind(rebuild.checkpoint())
            .execute(&mut tx)
            .await?;
        // Every instance is told as this commits: its leases were fenced.
        tx.signal(Signal::Leases).await?;
        if !rebuild_caught_up(&mut tx).await? {
            // Dropping the transaction rolls the epochs back.
            return Ok(false);
        }
        let columns = columns().join(", ");
        let statements = [
            format!("DELETE FROM {}", live.name()),
            format!("INSERT INTO {} ({columns}) SELECT {columns} FROM {}", live.name(), rebuild.name()),
            format!(
                "UPDATE projection_leases SET checkpoint = (SELECT r.checkpoint FROM projection_leases r \
                 WHERE r.projection = '{}' AND r.partition = projection_leases.partition) \
                 WHERE projection = '{}'",
                rebuild.checkpoint(),
                live.checkpoint()
            ),
            format!("DELETE FROM {}", rebuild.name()),
            format!("DELETE FROM projection_leases WHERE projection = '{}'", rebuild.checkpoint()),
        ];
        for statement in &statements {
            query(statement).execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Whether a rebuild is in progress and has reached the live checkpoint in
/// every partition.
async fn rebuild_caught_up<'a>(on: impl Into<On<'a>>) -> Result<bool, ProjectionError> {
    let (behind, rebuilt): (i64, i64) = query(
        "SELECT \
           (SELECT count(*) FROM projection_leases r JOIN projection_leases l \
              ON l.projection = $1 AND l.partition = r.partition \
            WHERE r.projection = $2 AND r.checkpoint < l.checkpoint), \
           (SELECT count(*) FROM projection_leases WHERE projection = $2)",
    )
    .bind(Table::Live.checkpoint())
    .bind(Table::Rebuild.checkpoint())
    .fetch_one(on)
    .await?;
    Ok(behind == 0 && rebuilt > 0)
}
