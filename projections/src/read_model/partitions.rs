//! The number of logical partitions players are spread over, recorded in the
//! read-model database by the first process that starts on it.

use std::num::NonZeroU32;

use database::query;

use super::ReadModel;
use crate::ProjectionError;

/// Logical partitions of a database made without asking for a number.
const DEFAULT_PARTITIONS: NonZeroU32 = NonZeroU32::new(64).unwrap();

impl ReadModel {
    /// The database's number of logical partitions: `requested` (or
    /// [`DEFAULT_PARTITIONS`]) recorded if none is yet; a `requested` number
    /// other than the recorded one is refused.
    pub async fn logical_partitions(&self, requested: Option<NonZeroU32>) -> Result<NonZeroU32, ProjectionError> {
        let wanted = requested.unwrap_or(DEFAULT_PARTITIONS);
        let mut tx = self.database.begin().await?;
        query("INSERT INTO projection_partitions (id, partitions) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(i64::from(wanted.get()))
            .execute(&mut tx)
            .await?;
        let (recorded,): (i64,) =
            query("SELECT partitions FROM projection_partitions WHERE id = 1").fetch_one(&mut tx).await?;
        tx.commit().await?;
        let recorded = u32::try_from(recorded)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or(ProjectionError::OutOfRange { what: "partitions", value: recorded })?;
        match requested {
            Some(requested) if requested != recorded => Err(ProjectionError::PartitionsFixed { recorded, requested }),
            _ => Ok(recorded),
        }
    }
}
