//! A player's erasure from the read model.

use std::num::NonZeroU32;

use database::query;

use super::{ReadModel, Table, leases, rows::to_u64};
use crate::ProjectionError;

impl ReadModel {
    /// Deletes a player's rows (live and rebuilt), recommendations and the
    /// outbox rows of those not routed yet, in one transaction that first moves
    /// the epoch of the player's partition on: a batch in flight that still
    /// holds the player (read before the stream was deleted) is fenced and
    /// never writes them back, and its instance folds on from the stored rows.
    pub async fn erase(&self, player_id: &str, partitions: NonZeroU32) -> Result<(), ProjectionError> {
        let mut tx = self.database.begin().await?;
        leases::bump(&mut tx, domain::partition_of(player_id, partitions)).await?;
        let positions: Vec<(i64,)> = query("SELECT position FROM recommendations WHERE player_id = $1")
            .bind(player_id)
            .fetch_all(&mut tx)
            .await?;
        let positions = positions.into_iter().map(|(p,)| to_u64("position", p)).collect::<Result<Vec<_>, _>>()?;
        self.outbox.forget(&mut tx, &positions).await?;
        let statements = [
            "DELETE FROM recommendations WHERE player_id = $1".to_owned(),
            format!("DELETE FROM {} WHERE player_id = $1", Table::Live.name()),
            format!("DELETE FROM {} WHERE player_id = $1", Table::Rebuild.name()),
        ];
        for statement in &statements {
            query(statement).bind(player_id).execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
