//! Partition leases: which instance folds which logical partition of a
//! projection, under which epoch, up to which checkpoint. This module owns
//! `projection_leases`.
//!
//! Every time is the database's clock (milliseconds since 1970), never an
//! instance's, so instances whose clocks disagree still agree on who holds what.

use std::{num::NonZeroU32, time::Duration};

use database::{Backend, Signal, Tx, query};
use serde::Serialize;

use super::{
    Fence, InstanceStatus, ReadModel, Table,
    rows::{to_i64, to_u64},
};
use crate::ProjectionError;

/// A partition held under a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The logical partition.
    pub partition: u32,
    /// The epoch it was taken at: a commit writes only while it is still this.
    pub epoch: u64,
    /// Global position up to which its events are folded into the rows.
    pub checkpoint: u64,
}

/// A partition's lease as the database sees it, for `GET /v1/cluster`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeaseStatus {
    /// The projection.
    pub projection: String,
    /// The logical partition.
    pub partition: u32,
    /// The instance holding it, if any.
    pub owner: Option<String>,
    /// Rises with every change of hands, erasure and promotion.
    pub epoch: u64,
    /// Until when the lease holds unless renewed (milliseconds since 1970).
    pub lease_until_ms: i64,
    /// Global position up to which its events are folded.
    pub checkpoint: u64,
}

/// The SQL that differs between the databases: the clock, and reading a JSON
/// array bound as text (neither shares the other's array syntax).
pub(super) struct Dialect(pub(super) Backend);

impl Dialect {
    /// The database clock in milliseconds.
    pub(super) fn now(&self) -> &'static str {
        self.0.clock_ms()
    }

    /// The partitions of a JSON array `[p, ...]` bound as parameter `n`.
    fn partitions(&self, n: usize) -> String {
        match self.0 {
            Backend::Sqlite => format!("SELECT value FROM json_each(${n})"),
            Backend::Postgres => {
                format!("SELECT CAST(value AS bigint) FROM jsonb_array_elements_text(CAST(${n} AS jsonb))")
            }
        }
    }

    /// The (partition, epoch) pairs of a JSON array `[[p, e], ...]` bound as parameter `n`.
    fn held(&self, n: usize) -> String {
        match self.0 {
            Backend::Sqlite => {
                format!("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(${n})")
            }
            Backend::Postgres => format!(
                "SELECT CAST(e->>0 AS bigint), CAST(e->>1 AS bigint) FROM jsonb_array_elements(CAST(${n} AS jsonb)) AS e"
            ),
        }
    }
}

/// `[[partition, epoch], ...]` of `leases`, as the held-pairs subquery reads it.
fn held_json(leases: &[Lease]) -> String {
    let pairs: Vec<String> = leases.iter().map(|l| format!("[{},{}]", l.partition, l.epoch)).collect();
    format!("[{}]", pairs.join(","))
}

pub(super) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

type LeaseRow = (i64, i64, i64);

fn lease((partition, epoch, checkpoint): LeaseRow) -> Result<Lease, ProjectionError> {
    let partition =
        u32::try_from(partition).map_err(|_| ProjectionError::OutOfRange { what: "partition", value: partition })?;
    Ok(Lease { partition, epoch: to_u64("epoch", epoch)?, checkpoint: to_u64("checkpoint", checkpoint)? })
}

impl ReadModel {
    pub(super) fn dialect(&self) -> Dialect {
        Dialect(self.database.backend())
    }

    /// Makes a lease row for every partition of `projection` that has none; a
    /// new row starts at the projection's checkpoint from before partitions
    /// had their own (0 when there was none).
    pub async fn ensure_leases(&self, projection: &str, partitions: NonZeroU32) -> Result<(), ProjectionError> {
        let (rows,): (i64,) = query("SELECT count(*) FROM projection_leases WHERE projection = $1")
            .bind(projection)
            .fetch_one(self.database.writer())
            .await?;
        if rows == i64::from(partitions.get()) {
            return Ok(());
        }
        let mut tx = self.database.begin().await?;
        insert_leases(&mut tx, projection, partitions).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes every partition of `table`'s projection for `owner`, for `ttl`:
    /// what a tool or a test that writes the read model alone commits behind.
    pub async fn claim_all(&self, table: Table, owner: &str, ttl: Duration) -> Result<Fence, ProjectionError> {
        let partitions = self.logical_partitions(None).await?;
        self.ensure_leases(table.checkpoint(), partitions).await?;
        let all: Vec<u32> = (0..partitions.get()).collect();
        let leases = self.acquire(table.checkpoint(), owner, &all, ttl).await?;
        if leases.len() != all.len() {
            let partitions = all.into_iter().filter(|p| !leases.iter().any(|l| l.partition == *p)).collect();
            return Err(ProjectionError::Fenced { projection: table.checkpoint().to_owned(), partitions });
        }
        Ok(Fence { owner: owner.into(), leases, ttl })
    }

    /// Whether `projection` has lease rows (a rebuild in progress has).
    pub async fn has_leases(&self, projection: &str) -> Result<bool, ProjectionError> {
        let found: Option<(i64,)> =
            query("SELECT CAST(1 AS bigint) FROM projection_leases WHERE projection = $1 LIMIT 1")
                .bind(projection)
                .fetch_optional(self.database.writer())
                .await?;
        Ok(found.is_some())
    }

    /// Takes those of `partitions` that are free, expired or already `owner`'s,
    /// each at the next epoch, for `ttl`; answers what it took.
    pub async fn acquire(
        &self,
        projection: &str,
        owner: &str,
        partitions: &[u32],
        ttl: Duration,
    ) -> Result<Vec<Lease>, ProjectionError> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let dialect = self.dialect();
        let now = dialect.now();
        // SQLite serves one process (it holds the database's lock file), so a
        // lease another process held is a dead one's, there to take at once.
        let holder = match dialect.0 {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!(" AND (owner IS NULL OR owner = $2 OR lease_until_ms < {now})"),
        };
        let takeable = format!("projection = $1 AND partition IN ({}){holder}", dialect.partitions(4));
        let set = format!("owner = $2, epoch = epoch + 1, lease_until_ms = {now} + $3");
        // On PostgreSQL a row another instance has locked (its commit in
        // flight, or a process stopped inside one) is skipped, never waited
        // for: that instance may still hold it, and this one's own renewals
        // must not stall behind it.
        let sql = match dialect.0 {
            Backend::Sqlite => {
                format!("UPDATE projection_leases SET {set} WHERE {takeable} RETURNING partition, epoch, checkpoint")
            }
            Backend::Postgres => format!(
                "WITH free AS (SELECT projection, partition FROM projection_leases WHERE {takeable} \
                 FOR UPDATE SKIP LOCKED) \
                 UPDATE projection_leases l SET {set} FROM free \
                 WHERE l.projection = free.projection AND l.partition = free.partition \
                 RETURNING l.partition, l.epoch, l.checkpoint"
            ),
        };
        let list = serde_json::Value::from(partitions.to_vec()).to_string();
        let rows: Vec<LeaseRow> = query(&sql)
            .bind(projection)
            .bind(owner)
            .bind(millis(ttl))
            .bind(list)
            .fetch_all(self.database.writer())
            .await?;
        rows.into_iter().map(lease).collect()
    }

    /// Extends `owner`'s leases for `ttl`; answers the partitions still held at
    /// the epochs given (the others were taken or fenced meanwhile).
    pub async fn renew(
        &self,
        projection: &str,
        owner: &str,
        held: &[Lease],
        ttl: Duration,
    ) -> Result<Vec<u32>, ProjectionError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let dialect = self.dialect();
        let sql = format!(
            "UPDATE projection_leases SET lease_until_ms = {} + $3 \
             WHERE projection = $1 AND owner = $2 AND (partition, epoch) IN ({}) RETURNING partition",
            dialect.now(),
            dialect.held(4)
        );
        let rows: Vec<(i64,)> = query(&sql)
            .bind(projection)
            .bind(owner)
            .bind(millis(ttl))
            .bind(held_json(held))
            .fetch_all(self.database.writer())
            .await?;
        Ok(rows.into_iter().filter_map(|(p,)| u32::try_from(p).ok()).collect())
    }

    /// Gives up `owner`'s leases on `held`, and tells the other instances, so
    /// that they take them at once.
    pub async fn release(&self, projection: &str, owner: &str, held: &[Lease]) -> Result<(), ProjectionError> {
        if held.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE projection_leases SET owner = NULL, lease_until_ms = 0 \
             WHERE projection = $1 AND owner = $2 AND (partition, epoch) IN ({})",
            self.dialect().held(3)
        );
        query(&sql).bind(projection).bind(owner).bind(held_json(held)).execute(self.database.writer()).await?;
        self.database.signal(Signal::Leases).await?;
        Ok(())
    }

    /// Every partition's checkpoint of `projection`, by partition.
    pub async fn partition_checkpoints(&self, projection: &str) -> Result<Vec<(u32, u64)>, ProjectionError> {
        let rows: Vec<(i64, i64)> =
            query("SELECT partition, checkpoint FROM projection_leases WHERE projection = $1 ORDER BY partition")
                .bind(projection)
                .fetch_all(self.database.reader())
                .await?;
        rows.into_iter().map(|(p, c)| lease((p, 0, c)).map(|l| (l.partition, l.checkpoint))).collect()
    }

    /// The database clock, the instances alive within `ttl` and every lease,
    /// for `GET /v1/cluster`.
    pub async fn cluster(
        &self,
        ttl: Duration,
    ) -> Result<(i64, Vec<InstanceStatus>, Vec<LeaseStatus>), ProjectionError> {
        let (now, instances) = self.instances(ttl).await?;
        let leases: Vec<(String, i64, Option<String>, i64, i64, i64)> = query(
            "SELECT projection, partition, owner, epoch, lease_until_ms, checkpoint FROM projection_leases \
             ORDER BY projection, partition",
        )
        .fetch_all(self.database.reader())
        .await?;
        let leases = leases
            .into_iter()
            .map(|(projection, partition, owner, epoch, lease_until_ms, checkpoint)| {
                Ok(LeaseStatus {
                    projection,
                    partition: u32::try_from(partition).unwrap_or_default(),
                    owner,
                    epoch: to_u64("epoch", epoch)?,
                    lease_until_ms,
                    checkpoint: to_u64("checkpoint", checkpoint)?,
                })
            })
            .collect::<Result<_, ProjectionError>>()?;
        Ok((now, instances, leases))
    }
}

/// The fence: moves the checkpoint of every partition `fence` holds to
/// `checkpoint`, in `tx`, only where its owner still holds it at the epoch it
/// took; fails with [`ProjectionError::Fenced`] (and the caller rolls back)
/// when any of them changed hands, so a stalled process never writes.
pub(super) async fn fence(
    tx: &mut Tx,
    projection: &str,
    fence: &Fence,
    checkpoint: u64,
) -> Result<(), ProjectionError> {
    let postgres = tx.is_postgres();
    let dialect = Dialect(if postgres { Backend::Postgres } else { Backend::Sqlite });
    let sql = format!(
        "UPDATE projection_leases SET checkpoint = CASE WHEN checkpoint > $3 THEN checkpoint ELSE $3 END \
         WHERE projection = $1 AND owner = $2 AND (partition, epoch) IN ({}) RETURNING partition",
        dialect.held(4)
    );
    let held = &fence.leases;
    let kept: Vec<(i64,)> = query(&sql)
        .bind(projection)
        .bind(&*fence.owner)
        .bind(to_i64(checkpoint))
        .bind(held_json(held))
        .fetch_all(&mut *tx)
        .await?;
    if kept.len() == held.len() {
        return Ok(());
    }
    let kept: Vec<u32> = kept.into_iter().filter_map(|(p,)| u32::try_from(p).ok()).collect();
    let lost = held.iter().map(|l| l.partition).filter(|p| !kept.contains(p)).collect();
    Err(ProjectionError::Fenced { projection: projection.to_owned(), partitions: lost })
}

/// Makes, in `tx`, a lease row for every partition of `projection` that has
/// none, at the projection's checkpoint from before partitions had their own
/// (0 when there was none); answers how many it made.
pub(super) async fn insert_leases(
    tx: &mut Tx,
    projection: &str,
    partitions: NonZeroU32,
) -> Result<u64, ProjectionError> {
    let mut made = 0;
    for partition in 0..partitions.get() {
        made += query(
            "INSERT INTO projection_leases (projection, partition, checkpoint) \
             SELECT $1, $2, COALESCE((SELECT position FROM projection_checkpoints WHERE name = $1), 0) \
             ON CONFLICT (projection, partition) DO NOTHING",
        )
        .bind(projection)
        .bind(i64::from(partition))
        .execute(&mut *tx)
        .await?;
    }
    Ok(made)
}

/// Moves every epoch of `partition` on (in every projection), in `tx`: whoever
/// holds it is fenced and folds again from the stored rows, and is told as
/// `tx` commits, so that it stops answering from memory at once.
pub(super) async fn bump(tx: &mut Tx, partition: u32) -> Result<(), ProjectionError> {
    query("UPDATE projection_leases SET epoch = epoch + 1 WHERE partition = $1")
        .bind(i64::from(partition))
        .execute(&mut *tx)
        .await?;
    tx.signal(Signal::Leases).await?;
    Ok(())
}
