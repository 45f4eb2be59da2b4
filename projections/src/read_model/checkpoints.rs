//! Checkpoints: the global position each projection has committed up to, and
//! the rebuild that fills a table beside the live one until it replaces it.

use database::{Tx, query};

use super::{
    ReadModel, Table,
    rows::{columns, to_i64, to_u64},
};
use crate::ProjectionError;

/// Sets the checkpoint of `table`'s projection to `checkpoint`, in `tx`.
pub(super) async fn save(tx: &mut Tx, table: Table, checkpoint: u64) -> Result<(), ProjectionError> {
    let sql = format!(
        "INSERT INTO projection_checkpoints (name, position) VALUES ('{}', $1) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        table.checkpoint()
    );
    query(&sql).bind(to_i64(checkpoint)).execute(tx).await?;
    Ok(())
}

impl ReadModel {
    /// The stored checkpoint of `table`'s projection, `None` before its first commit.
    pub async fn checkpoint(&self, table: Table) -> Result<Option<u64>, ProjectionError> {
        let sql = format!("SELECT position FROM projection_checkpoints WHERE name = '{}'", table.checkpoint());
        let position: Option<(i64,)> = query(&sql).fetch_optional(self.database.writer()).await?;
        position.map(|(p,)| to_u64("checkpoint", p)).transpose()
    }

    /// Empties the rebuild table and sets its checkpoint to the start.
    pub async fn start_rebuild(&self) -> Result<(), ProjectionError> {
        let mut tx = self.database.begin().await?;
        query(&format!("DELETE FROM {}", Table::Rebuild.name())).execute(&mut tx).await?;
        save(&mut tx, Table::Rebuild, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the live rows and checkpoint with the rebuilt ones, in one transaction.
    pub async fn promote_rebuild(&self) -> Result<(), ProjectionError> {
        let columns = columns().join(", ");
        let (live, rebuild) = (Table::Live, Table::Rebuild);
        let statements = [
            format!("DELETE FROM {}", live.name()),
            format!("INSERT INTO {} ({columns}) SELECT {columns} FROM {}", live.name(), rebuild.name()),
            format!(
                "INSERT INTO projection_checkpoints (name, position) \
                 SELECT '{}', position FROM projection_checkpoints WHERE name = '{}' \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                live.checkpoint(),
                rebuild.checkpoint()
            ),
            format!("DELETE FROM {}", rebuild.name()),
            format!("DELETE FROM projection_checkpoints WHERE name = '{}'", rebuild.checkpoint()),
        ];
        let mut tx = self.database.begin().await?;
        for statement in &statements {
            query(statement).execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
