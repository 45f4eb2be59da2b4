//! The feature projection as a service: keeps the live run going, runs rebuilds
//! beside it, and reports where both are.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ml::ActiveModel;
use store::EventStore;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectionConfig, ProjectionError,
    cluster::Member,
    feature_cache::{CachedRow, FeatureCache},
    fold_runtime,
    owners::Owners,
    read_model::{Instance, ReadModel, Table},
    runtime::Runner,
    status::{HeadHistory, ProjectionState, ProjectionStatus, RebuildStatus, lag_seconds},
};

/// How long a failed run waits before it starts again from its checkpoint.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// How often the lag is looked at.
const LAG_TICK: Duration = Duration::from_millis(500);

/// Where a wait for a player's features got.
#[derive(Debug, Clone, PartialEq)]
pub enum Reached {
    /// This instance's memory holds them, as answered.
    InMemory(Arc<CachedRow>),
    /// The stored rows hold them.
    Stored,
    /// Neither within the time given; the partition's checkpoint then.
    Not(u64),
}

/// The feature projection: started once, shared by the API.
#[derive(Clone)]
pub struct FeatureProjection {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    read_model: ReadModel,
    config: ProjectionConfig,
    /// Logical partitions, as the read-model database records them.
    partitions: std::num::NonZeroU32,
    active: ActiveModel,
    /// The last checkpoint this instance's live run committed.
    live: Arc<watch::Sender<u64>>,
    /// Why the last run failed; cleared by the next commit.
    error: Arc<Mutex<Option<String>>>,
    /// The latest moment the projection had nothing left to project.
    /// When the store's head was first seen past the live checkpoint, while it is.
    behind_since: Mutex<Option<Instant>>,
    /// This instance's leases.
    member: Arc<Member>,
    /// Current feature rows of the partitions this instance holds; `None` when turned off.
    cache: Option<Arc<FeatureCache>>,
    /// Where the other instances' partitions are folded, as last looked up.
    owners: Owners,
    /// Ends once every lease is released after shutdown.
    left: Mutex<Option<tokio::task::JoinHandle<()>>>,
    shutdown: CancellationToken,
}

impl FeatureProjection {
    /// The name it reports and labels its metrics with.
    pub const NAME: &'static str = "features";

    /// Starts the projection as one instance among those sharing the read
    /// model: it takes its share of the partitions, folds them (and a rebuild's
    /// share while one is in progress), and decides with whatever model
    /// `active` holds at each batch.
    pub async fn start(
        store: Arc<dyn EventStore>,
        read_model: ReadModel,
        config: ProjectionConfig,
        active: ActiveModel,
        shutdown: CancellationToken,
    ) -> Result<Self, ProjectionError> {
        let partitions = read_model.logical_partitions(config.logical_partitions).await?;
        read_model.ensure_leases(Table::Live.checkpoint(), partitions).await?;
        let instance = Instance {
            id: config.instance.clone(),
            address: config.address.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let cache = (config.feature_cache_entries > 0)
            .then(|| Arc::new(FeatureCache::new(config.feature_cache_entries, partitions)));
        let member =
            Arc::new(Member::new(read_model.clone(), instance, config.lease_ttl, partitions).with_cache(cache.clone()));
        let checkpoint = read_model.checkpoint(Table::Live).await?.unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let folds = fold_runtime::start(config.partitions.clamp(1, cores))?;
        let inner = Arc::new(Inner {
            store,
            read_model,
            owners: Owners::new(config.lease_ttl / 10, config.lease_ttl),
            config,
            partitions,
            active,
            live: Arc::new(watch::Sender::new(checkpoint)),
            error: Arc::new(Mutex::new(None)),
            behind_since: Mutex::new(None),
            left: Mutex::new(Some(tokio::spawn(Arc::clone(&member).run(shutdown.clone())))),
            member,
            cache,
            shutdown,
        });
        folds.spawn(inner.clone().keep_running(Table::Live));
        folds.spawn(inner.clone().keep_running(Table::Rebuild));
        tokio::spawn(inner.clone().watch_lag());
        Ok(Self { inner })
    }

    /// Where it is now.
    pub async fn status(&self) -> Result<ProjectionStatus, ProjectionError> {
        let inner = &self.inner;
        let head = inner.store.head().await?;
        let checkpoint = inner.read_model.checkpoint(Table::Live).await?.unwrap_or_default();
        let lag_events = head.saturating_sub(checkpoint);
        let behind_since = *lock(&inner.behind_since);
        let error = lock(&inner.error).clone();
        let rebuild = inner.read_model.checkpoint(Table::Rebuild).await?.map(|position| RebuildStatus {
            checkpoint: position,
            remaining_events: checkpoint.saturating_sub(position),
            serving: "the rows as they were before the rebuild, kept up to date, until the rebuild reaches them",
        });
        let state = match (&error, &rebuild) {
            (Some(_), _) => ProjectionState::Failed,
            (None, Some(_)) => ProjectionState::Rebuilding,
            (None, None) => ProjectionState::Running,
        };
        Ok(ProjectionStatus {
            name: Self::NAME,
            state,
            error,
            checkpoint,
            head,
            partitions: inner.partitions.get(),
            lag_events,
            lag_seconds: lag_seconds(lag_events, behind_since, Instant::now()),
            rebuild,
        })
    }

    /// Waits up to `timeout` for the live rows of every partition to include
    /// position `position`, whichever instances fold them; whether they do.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        self.wait_until(None, position, timeout).await.is_none()
    }

    /// Waits up to `timeout` for `player_id`'s features to include position
    /// `position`: in this instance's memory (answered then), or in the stored
    /// rows of the player's partition, whichever instance folds it.
    pub async fn wait_for_player(&self, player_id: &str, position: u64, timeout: Duration) -> Reached {
        let partition = domain::partition_of(player_id, self.inner.partitions);
        let stored = self.wait_until(Some(partition), position, timeout);
        let Some(cache) = &self.inner.cache else {
            return stored.await.map_or(Reached::Stored, Reached::Not);
        };
        tokio::select! {
            // Memory first: rows are written behind the fold.
            biased;
            row = cache.reached(player_id, position) => Reached::InMemory(row),
            gave_up = stored => gave_up.map_or(Reached::Stored, Reached::Not),
        }
    }

    /// Waits for `partition`'s checkpoint (every partition's, if `None`) to
    /// reach `position`; answers it when it gave up after `timeout`.
    async fn wait_until(&self, partition: Option<u32>, position: u64, timeout: Duration) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut committed = self.inner.live.subscribe();
        loop {
            let checkpoint = match self.inner.read_model.partition_checkpoints(Table::Live.checkpoint()).await {
                Ok(all) => {
                    all.into_iter().filter(|(p, _)| partition.is_none_or(|wanted| wanted == *p)).map(|(_, c)| c).min()
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the partition checkpoints");
                    None
                }
            }
            .unwrap_or_default();
            if checkpoint >= position {
                return None;
            }
            if tokio::time::Instant::now() >= deadline {
                return Some(checkpoint);
            }
            // A local commit wakes at once; another instance's is polled for.
            let poll = deadline.min(tokio::time::Instant::now() + CHECKPOINT_POLL);
            let _ = tokio::time::timeout_at(poll, committed.changed()).await;
        }
    }

    /// The player's current features: from memory when this instance holds
    /// them under a lease it trusts, else from the read-model database.
    pub async fn features(&self, player_id: &str) -> Result<Option<Arc<CachedRow>>, ProjectionError> {
        if let Some(row) = self.cached(player_id) {
            return Ok(Some(row));
        }
        let row = self.inner.read_model.get(player_id).await?;
        Ok(row.map(|row| {
            Arc::new(CachedRow { revision: row.revision, position: row.position, features: row.state.fold.features() })
        }))
    }

    /// The player's current features if they are in memory and trusted; never
    /// reads the database.
    pub fn cached(&self, player_id: &str) -> Option<Arc<CachedRow>> {
        self.inner.cache.as_ref().and_then(|cache| cache.get(player_id))
    }

    /// Starts a rebuild from position 0; false when one is already running on
    /// any instance.
    pub async fn rebuild(&self) -> Result<bool, ProjectionError> {
        self.inner.read_model.start_rebuild(self.inner.partitions).await
    }

    /// Forgets a player whose stream was deleted: deletes the player's rows,
    /// recommendations and unrouted outbox rows, and fences the player's
    /// partition, so a run that had read the player's events before the delete
    /// (into a batch, a partition's memory or the subscription's buffer) never
    /// writes them back; it folds on from the stored rows and a store without them.
    pub async fn erase(&self, player_id: &str) -> Result<(), ProjectionError> {
        // The erasure moves the partition's epoch on: its rows are not trusted
        // from before it starts until the partition's lease is taken again.
        let forget = || {
            if let Some(cache) = &self.inner.cache {
                cache.drop_partitions(&[domain::partition_of(player_id, self.inner.partitions)]);
            }
        };
        forget();
        let result = self.inner.read_model.erase(player_id, self.inner.partitions).await;
        forget();
        result
    }

    /// Where another instance that folds `player_id`'s partition listens,
    /// for reads that want its memory; `None` when this instance holds the
    /// partition, or no other one does, said where it listens and was reached
    /// lately.
    pub async fn owner_address(&self, player_id: &str) -> Result<Option<String>, ProjectionError> {
        let partition = domain::partition_of(player_id, self.inner.partitions);
        if self.inner.member.live.leases.borrow().iter().any(|l| l.partition == partition) {
            return Ok(None);
        }
        self.inner.owners.address(&self.inner.read_model, partition, self.instance()).await
    }

    /// Avoids the instance at `address`, which could not be reached, for a
    /// lease's TTL: reads of its players are answered here meanwhile.
    pub fn owner_unreachable(&self, address: &str) {
        self.inner.owners.unreachable(address);
    }

    /// Waits, after shutdown, until every lease is released: the other
    /// instances take the partitions over at once.
    pub async fn stopped(&self) {
        let left = lock(&self.inner.left).take();
        if let Some(left) = left {
            let _ = left.await;
        }
    }

    /// This instance's id, as the leases name it.
    pub fn instance(&self) -> &str {
        self.inner.member.id()
    }

    /// How long a lease holds unless renewed.
    pub fn lease_ttl(&self) -> Duration {
        self.inner.config.lease_ttl
    }

    /// The read model it writes.
    pub fn read_model(&self) -> &ReadModel {
        &self.inner.read_model
    }
}

/// How often a wait for another instance's commit looks at the checkpoints.
const CHECKPOINT_POLL: Duration = Duration::from_millis(50);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn runner(&self, table: Table) -> Runner {
        Runner {
            store: self.store.clone(),
            read_model: self.read_model.clone(),
            config: self.config.clone(),
            table,
            failure: self.error.clone(),
            active: self.active.clone(),
            owner: Arc::from(self.member.id()),
            logical: self.partitions,
            cache: if table == Table::Live { self.cache.clone() } else { None },
        }
    }

    /// Notes, twice a second, the lag (of the partition furthest behind,
    /// whichever instance folds it) in events and in the age of what is left.
    async fn watch_lag(self: Arc<Self>) {
        let mut tick = tokio::time::interval(LAG_TICK);
        let mut history = HeadHistory::default();
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.shutdown.is_cancelled() {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Ok(head) = self.store.head().await else { continue };
            let Ok(Some(checkpoint)) = self.read_model.checkpoint(Table::Live).await else { continue };
            let lag = head.saturating_sub(checkpoint);
            let now = Instant::now();
            let since = history.behind_since(now, head, checkpoint);
            *lock(&self.behind_since) = since;
            metrics::gauge!("nudge_projection_lag_events", "projection" => FeatureProjection::NAME).set(lag as f64);
            metrics::gauge!("nudge_projection_lag_seconds", "projection" => FeatureProjection::NAME)
                .set(lag_seconds(lag, since, now));
        }
    }

    /// Folds the partitions this instance holds of `table`'s projection until
    /// shutdown: a run per set of leases, started again whenever the set
    /// changes, after a failure, or when a commit was fenced.
    async fn keep_running(self: Arc<Self>, table: Table) {
        let runner = self.runner(table);
        let holding = self.member.holding(table);
        let progress = match table {
            Table::Live => Arc::clone(&self.live),
            Table::Rebuild => Arc::new(watch::Sender::new(0)),
        };
        let mut changes = holding.leases.subscribe();
        while !self.shutdown.is_cancelled() {
            let leases = changes.borrow_and_update().clone();
            if leases.is_empty() {
                tokio::select! {
                    () = self.shutdown.cancelled() => return,
                    changed = changes.changed() => if changed.is_err() { return },
                }
                continue;
            }
            // The run stops when the leases change, and lands its commit first.
            let run = self.shutdown.child_token();
            let stop = {
                let (run, mut changed) = (run.clone(), holding.leases.subscribe());
                tokio::spawn(async move {
                    let _ = changed.changed().await;
                    run.cancel();
                })
            };
            holding.running.send_replace(leases.iter().map(|l| l.partition).collect());
            let result = runner.run(&leases, &progress, &run).await;
            holding.running.send_replace(Vec::new());
            stop.abort();
            match result {
                Err(ProjectionError::Fenced { projection, partitions }) => {
                    tracing::warn!(
                        projection,
                        ?partitions,
                        "commit fenced: the partitions changed hands; folding on without them"
                    );
                    metrics::counter!("nudge_projection_fenced_commits_total", "projection" => table.checkpoint())
                        .increment(1);
                    holding.lost(&partitions);
                }
                result => self.settle(table, result).await,
            }
        }
    }

    /// Records a failed run and waits before the next one.
    async fn settle(&self, table: Table, result: Result<(), ProjectionError>) {
        let Err(error) = result else { return };
        tracing::error!(projection = table.checkpoint(), %error, "projection failed; restarting from its checkpoint");
        metrics::counter!("nudge_projection_failures_total", "projection" => table.checkpoint()).increment(1);
        *lock(&self.error) = Some(format!("{}: {error}", table.checkpoint()));
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            () = tokio::time::sleep(RESTART_AFTER) => {}
        }
    }
}
