//! The player feature read model: one row per player, the recommendations made
//! and the projections' checkpoints, in the read-model database (SQLite or
//! PostgreSQL). This module owns those tables: `player_features`,
//! `player_features_rebuild`, `recommendations`, `projection_checkpoints` and
//! `projection_partitions`; `read_model::instances` owns the tables the
//! instances sharing it register in.

mod checkpoints;
mod erasure;
mod instances;
mod leases;
mod partitions;
mod postgres;
mod recommendations;
mod rows;
mod sqlite;

use database::Database;
use webhooks::Outbox;

use crate::ProjectionError;

pub use instances::{Instance, InstanceStatus};
pub use leases::{Lease, LeaseStatus};
pub use recommendations::RecommendationQuery;
pub use rows::{Changes, PlayerRow, RowUpdate};

/// The table a projection writes: the live one, or the one a rebuild fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `player_features`, which the API serves.
    Live,
    /// `player_features_rebuild`, filled from position 0 until it replaces the live rows.
    Rebuild,
}

impl Table {
    /// Both tables, each at its [`Table::index`].
    const ALL: [Self; 2] = [Self::Live, Self::Rebuild];

    /// This table's place in [`Table::ALL`], for what is made once per table.
    fn index(self) -> usize {
        self as usize
    }

    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Live => "player_features",
            Self::Rebuild => "player_features_rebuild",
        }
    }

    /// The name its checkpoint is stored under.
    pub fn checkpoint(self) -> &'static str {
        match self {
            Self::Live => "features",
            Self::Rebuild => "features_rebuild",
        }
    }
}

/// Who commits, and the leases it holds: a commit writes only while every one
/// of them is still its own at the epoch it took.
#[derive(Debug, Clone)]
pub struct Fence {
    /// The instance's id.
    pub owner: std::sync::Arc<str>,
    /// The partitions it writes, with their epochs.
    pub leases: Vec<Lease>,
    /// The lease TTL: on PostgreSQL a commit left idle longer (its process
    /// stopped inside it) is ended by the server, so that the row locks it
    /// holds keep nobody from taking the partitions over.
    pub ttl: std::time::Duration,
}

impl Fence {
    /// The same fence over only the leases of `partitions` (sorted).
    pub fn only(&self, partitions: &[u32]) -> Self {
        let leases = self.leases.iter().filter(|l| partitions.binary_search(&l.partition).is_ok()).copied().collect();
        Self { owner: std::sync::Arc::clone(&self.owner), leases, ttl: self.ttl }
    }
}

/// The read model: its database, and the outbox its commits queue new
/// recommendations in. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ReadModel {
    database: Database,
    outbox: Outbox,
}

impl ReadModel {
    /// The read model in `database`, queueing recommendations in `outbox`.
    pub fn new(database: Database, outbox: Outbox) -> Self {
        Self { database, outbox }
    }

    /// Opens (and migrates) the read-model database at `url`: `sqlite://...` or
    /// `postgres://...`, with an outbox of its own.
    pub async fn connect(url: &str) -> Result<Self, ProjectionError> {
        let database = Database::connect(url).await?;
        Ok(Self::new(database, Outbox::default()))
    }

    /// The database, for the other tables it holds (webhooks, models, API keys).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The webhook tables in the same database, routing what this read model
    /// queues in its outbox.
    pub fn webhooks(&self) -> webhooks::Database {
        webhooks::Database::new(self.database.clone(), self.outbox.clone(), std::sync::Arc::new(self.clone()))
    }

    /// The model registry in the same database.
    pub fn registry(&self) -> ml::Registry {
        ml::Registry::new(self.database.clone())
    }

    /// Writes a batch's changes and checkpoint in one transaction behind
    /// `fence`: the fenced partitions' checkpoints first (which fails, and
    /// rolls everything back, once one of them changed hands), the changed
    /// rows, and for the live table the recommendations (queued in the outbox)
    /// and answers; then wakes the outbox's router.
    pub async fn commit(
        &self,
        table: Table,
        changes: &Changes,
        checkpoint: u64,
        fence: &Fence,
    ) -> Result<(), ProjectionError> {
        let mut tx = self.database.begin_with_settings(&postgres::batch_settings(fence.ttl)).await?;
        leases::fence(&mut tx, table.checkpoint(), fence, checkpoint).await?;
        rows::upsert(&mut tx, table, &changes.rows).await?;
        let queued = if table == Table::Live { self.write_decisions(&mut tx, changes).await? } else { 0 };
        tx.commit().await?;
        if queued > 0 {
            self.outbox.wake();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::{Fence, Lease, Table};

    #[test]
    fn every_table_sits_at_its_index() {
        for table in Table::ALL {
            assert_eq!(Table::ALL[table.index()], table);
        }
    }

    #[test]
    fn a_fence_over_some_partitions_keeps_only_their_leases_and_epochs() {
        let leases = (0..6).map(|partition| Lease { partition, epoch: u64::from(partition) + 7, checkpoint: 40 });
        let fence = Fence { owner: Arc::from("a"), leases: leases.collect(), ttl: Duration::from_secs(3) };
        let only = fence.only(&[1, 4, 9]);
        assert_eq!(only.leases, vec![fence.leases[1], fence.leases[4]]);
        assert_eq!((&*only.owner, only.ttl), ("a", fence.ttl));
        assert!(fence.only(&[]).leases.is_empty());
    }
}
