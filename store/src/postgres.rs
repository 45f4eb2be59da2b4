//! The PostgreSQL event store.

mod handoff;
mod insert;
mod notify;
mod options;
mod partitions;
mod reads;
mod writer;

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::{sync::watch, task::JoinHandle};

pub use self::options::{connect_options, reach};

use self::{
    handoff::Committing,
    insert::Tell,
    notify::{Followers, Listener},
    writer::Writer,
};
use crate::{
    Appended, EventStore, EventStream, PartitionFeed, RecordedEvent, StoreError, StreamAppend,
    group_commit::GroupCommit, recent::Recent, sql, subscription,
};

/// The `plan_cache_mode` of the readers' pool.
const CUSTOM_PLANS: &str = "force_custom_plan";

/// Connections in the readers' pool (the group-commit writer has its own).
const POOL_SIZE: u32 = 16;

/// An event store in a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    writer: GroupCommit,
    head: Arc<watch::Sender<u64>>,
    /// This process's last commits, which its subscriptions read from memory.
    recent: Arc<Recent>,
    partitions: NonZeroU32,
    _listener: Arc<AbortOnDrop>,
    /// Whether other processes follow, which tests count when they choose.
    #[cfg(all(test, feature = "testing"))]
    followers: Arc<Followers>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`) and migrates the database; its
    /// logical partitions are `partitions` (64 if not given) when it is new,
    /// and another number than the recorded one is refused.
    pub async fn connect(url: &str, partitions: Option<NonZeroU32>) -> Result<Self, StoreError> {
        let options = connect_options(url).map_err(|e| StoreError::InvalidUrl(format!("{e}")))?;
        Self::connect_with(options, partitions).await
    }

    /// Connects with ready-made options (tests use them to pick a schema).
    pub async fn connect_with(options: PgConnectOptions, partitions: Option<NonZeroU32>) -> Result<Self, StoreError> {
        reach(&options).await?;
        // The writer's insert is planned once, not once a group (see
        // `writer::options`). Its connection is made on the writer's thread,
        // whose runtime then drives it; nothing reaps it on this one (the
        // writer keeps it until it fails).
        let writes = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(writer::options(options.clone()));
        // A generic plan for a read, made while `events` was small, would scan
        // it on every call ever after; custom plans follow the table as it grows.
        let reads = options.clone().options([("plan_cache_mode", CUSTOM_PLANS)]);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(reads)
            .await?;
        sql::schema(sqlx::migrate!("./migrations/postgres")).run(&pool).await?;
        let partitions = partitions::fixed(&pool, partitions).await?;
        partitions::fill_in(&pool, partitions).await?;
        let last = reads::head_row(&pool).await?;
        let head = Arc::new(watch::Sender::new(last));
        let recent = Arc::new(Recent::new(last));
        let committing = Arc::new(Committing::default());
        let followers = Arc::new(Followers::default());
        // The listener's session is marked as following, for other processes'
        // writers to notify it, before the store is ready.
        let listens = PgPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(10));
        let listener = Listener::start(&listens.connect_lazy_with(options), Arc::clone(&followers)).await?;
        followers.count(&pool).await?;
        let listener = listener.run(pool.clone(), head.clone(), committing.clone());
        let listener = Arc::new(AbortOnDrop(tokio::spawn(listener)));
        #[cfg(all(test, feature = "testing"))]
        let counted = Arc::clone(&followers);
        let tell = Tell { committing, followers };
        let writer = GroupCommit::spawn(Writer::new(writes, head.clone(), Arc::clone(&recent), tell, partitions))?;
        Ok(Self {
            pool,
            writer,
            head,
            recent,
            partitions,
            _listener: listener,
            #[cfg(all(test, feature = "testing"))]
            followers: counted,
        })
    }
}

/// Stops the listener task with the last handle to the store.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<Vec<Appended>>, StoreError> {
        self.writer.append(appends).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        reads::read_stream(&self.pool, stream, from_revision, limit).await
    }

    async fn read_all(&self, after: Option<u64>, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        reads::read_all(&self.pool, after, limit, prefix).await
    }

    /// This process's own commits from memory, once the subscription has read
    /// up to where the head was when it started (see [`handoff`]).
    fn subscribe_all(&self, after: Option<u64>, prefix: &str) -> EventStream {
        let pages = handoff::Handed::new(self.pool.clone(), Arc::clone(&self.recent), prefix);
        subscription::follow_pages(Arc::new(pages), after, self.head.subscribe(), Arc::new(watch::Sender::new(0)))
    }

    /// Reads only `partitions`, from the index on each event's partition.
    fn subscribe_partitions(
        &self,
        after: Option<u64>,
        prefix: &str,
        partitions: &[u32],
        count: NonZeroU32,
    ) -> PartitionFeed {
        let every = partitions.len() >= self.partitions.get() as usize;
        let parts: Option<Vec<i32>> = if count == self.partitions && !every {
            partitions.iter().map(|p| i32::try_from(*p).ok()).collect()
        } else {
            None
        };
        let Some(parts) = parts else {
            // Every partition, or another count than the store's: every event,
            // in one ordered read, for the caller to pick from.
            return PartitionFeed {
                events: self.subscribe_all(after, prefix),
                through: watch::Sender::new(0).subscribe(),
            };
        };
        let pages = partitions::Partitioned { pool: self.pool.clone(), prefix: prefix.to_owned(), partitions: parts };
        let through = Arc::new(watch::Sender::new(after.unwrap_or(0)));
        let feed = subscription::follow_pages(Arc::new(pages), after, self.head.subscribe(), Arc::clone(&through));
        PartitionFeed { events: feed, through: through.subscribe() }
    }

    fn partitions(&self) -> Option<NonZeroU32> {
        Some(self.partitions)
    }

    /// Moves the head row by one in the same transaction: every writer
    /// (of this process or another) trusts the stream revisions it remembers
    /// only while the head stays where its last write left it (see [`Writer`]),
    /// so after a delete each one reads the stream afresh and starts it at
    /// revision 0. The position moved past holds no event; readers skip gaps.
    async fn delete_stream(&self, stream: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The head row lock also waits for appends in flight, so none of the
        // stream's events commits after the delete.
        sqlx::query("UPDATE event_store_head SET position = position + 1").execute(&mut *tx).await?;
        let deleted = sqlx::query("DELETE FROM events WHERE stream = $1").bind(stream).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            // Nothing to forget: leave the head (and every writer's memory) as it is.
            tx.rollback().await?;
        } else {
            tx.commit().await?;
            self.recent.deleted(stream);
        }
        Ok(deleted.rows_affected())
    }

    async fn head(&self) -> Result<u64, StoreError> {
        reads::head(&self.pool).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        reads::ping(&self.pool).await
    }
}
