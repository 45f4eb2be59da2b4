//! A player's erasure: every delivery that carries their data goes.

use super::{Database, deliveries::LANES_LOCK};
use crate::WebhookError;

impl Database {
    /// Deletes every delivery to the player, whatever its state (pending, dead
    /// or delivered: each holds a recommendation of theirs); answers how many.
    ///
    /// On PostgreSQL it takes the lock routing takes, so a routing that read the
    /// player's recommendations before they were deleted has committed its
    /// deliveries first, and they go too. An attempt already on the wire
    /// finishes; its outcome then finds no row to settle.
    pub async fn erase_player(&self, player_id: &str) -> Result<u64, WebhookError> {
        let sql = "DELETE FROM webhook_deliveries WHERE player_id = $1";
        store::with_pools!(&self.0, writer, _reader => {
            let mut tx = writer.begin().await?;
            if self.is_postgres() {
                sqlx::query(LANES_LOCK).execute(&mut *tx).await?;
            }
            let deleted = sqlx::query(sql).bind(player_id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(deleted)
        })
    }
}
