//! A player's erasure from the read model.

use database::query;

use super::{ReadModel, Table, rows::to_u64};
use crate::ProjectionError;

impl ReadModel {
    /// Deletes a player's rows (live and rebuilt), recommendations and the
    /// outbox rows of those not routed yet, in one transaction. The projection
    /// must not run meanwhile: see [`crate::FeatureProjection::erase`].
    pub async fn erase(&self, player_id: &str) -> Result<(), ProjectionError> {
        let mut tx = self.database.begin().await?;
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
