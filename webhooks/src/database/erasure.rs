//! A player's erasure: every delivery that carries their data goes.

use database::query;

use super::{Database, lanes};
use crate::WebhookError;

impl Database {
    /// Deletes every delivery to the player, whatever its state (pending, dead
    /// or delivered: each holds a recommendation of theirs); answers how many.
    ///
    /// It takes the lanes lock routing takes, so a routing that read the
    /// player's recommendations before they were deleted has committed its
    /// deliveries first, and they go too. An attempt already on the wire
    /// finishes; its outcome then finds no row to settle.
    pub async fn erase_player(&self, player_id: &str) -> Result<u64, WebhookError> {
        let mut tx = self.database.begin().await?;
        lanes::lock(&mut tx).await?;
        let deleted =
            query("DELETE FROM webhook_deliveries WHERE player_id = $1").bind(player_id).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
