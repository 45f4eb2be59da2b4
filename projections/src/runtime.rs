//! One run of a projection: from its stored checkpoint, micro-batch after
//! micro-batch, until cancelled or told it has caught up.
//!
//! Batches are pipelined: while one batch's transaction commits, the next is
//! read and folded. Commits still happen one at a time and in order, each with
//! its checkpoint, so a crash anywhere leaves a consistent read model.
//!
//! Rows are written behind the fold ([`ProjectionConfig::write_behind`]): a
//! batch that decided nothing is committed with later ones, at most a tenth of
//! that wait later, and the checkpoint stays below every row not yet written.
//! A restart folds those players' events again from their stored rows; the
//! decisions it makes again are the ones already stored (a recommendation is
//! stored once per triggering event), so it queues nothing twice.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use ml::ActiveModel;
use store::{EventStore, RecordedEvent};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    ProjectionConfig, ProjectionError,
    batches::Batches,
    feature_cache::FeatureCache,
    partition::{self, Folded, Residency, Write},
    pending::Pending,
    player::Decider,
    read_model::{Changes, Fence, Lease, ReadModel, Table},
};

/// Where a run is: the checkpoint it committed last.
pub(crate) type Progress = Arc<watch::Sender<u64>>;

/// What a run needs.
pub(crate) struct Runner {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) read_model: ReadModel,
    pub(crate) config: ProjectionConfig,
    pub(crate) table: Table,
    /// Why a run last failed: each commit clears it.
    pub(crate) failure: Arc<Mutex<Option<String>>>,
    /// The model that scores, read at the start of each batch.
    pub(crate) active: ActiveModel,
    /// This instance's id, as its leases name it.
    pub(crate) owner: Arc<str>,
    /// Logical partitions players are spread over.
    pub(crate) logical: std::num::NonZeroU32,
    /// The feature rows served from memory (live table only), filled as the
    /// batches are folded.
    pub(crate) cache: Option<Arc<FeatureCache>>,
}

/// How often a run whose own partitions are quiet moves their checkpoints on
/// to where its feed has read.
const THROUGH_EVERY: Duration = Duration::from_millis(50);

/// How long the checkpoints of partitions no batch touched may stay behind.
///
/// A batch fences, and moves the checkpoint of, only the partitions it writes:
/// fencing all of them cost a lease-row update per partition per batch, about
/// four per event when batches are small. At least this often a commit (or,
/// when idle, an empty one) fences and moves them all, which bounds what a
/// restart or a new owner folds again.
const FENCE_ALL_EVERY: Duration = Duration::from_millis(50);

/// A commit in flight; answers the checkpoint it wrote.
type Committing = JoinHandle<Result<u64, ProjectionError>>;

impl Runner {
    /// Projects the logical partitions of `leases`, each from its checkpoint,
    /// until `cancel` fires; publishes every commit on `progress`. Every commit
    /// is fenced on the leases' epochs: once another instance has taken one of
    /// them, the run fails with [`ProjectionError::Fenced`] and writes nothing more.
    /// A run that ends without failing writes every row still waiting first.
    pub(crate) async fn run(
        &self,
        leases: &[Lease],
        progress: &Progress,
        cancel: &CancellationToken,
    ) -> Result<(), ProjectionError> {
        let name = self.table.checkpoint();
        let leases = &self.committed(leases).await?;
        let Some(start) = leases.iter().map(|l| l.checkpoint).min() else { return Ok(()) };
        progress.send_replace(start);
        let owned = Owned::new(leases, self.logical);
        let fence =
            Arc::new(Fence { owner: Arc::clone(&self.owner), leases: leases.to_vec(), ttl: self.config.lease_ttl });
        let residency = Residency {
            capacity: self.config.players_in_memory / self.config.partitions.max(1),
            idle: self.config.idle,
            write_behind: self.config.write_behind,
        };
        let partitions: Vec<_> =
            (0..self.config.partitions.max(1)).map(|i| partition::spawn(i, name, residency)).collect();
        let held: Vec<u32> = leases.iter().map(|l| l.partition).collect();
        let feed =
            self.store.subscribe_partitions(Some(start).filter(|p| *p > 0), domain::STREAM_PREFIX, &held, self.logical);
        let through = feed.through;
        let wait = (self.config.batch_wait, self.config.batch_wait_max);
        let mut batches = Batches::new(feed.events, self.config.batch_events, wait, name);
        tracing::info!(projection = name, checkpoint = start, partitions = leases.len(), "projection started");
        let mut folding =
            Folding { runner: self, partitions: &partitions, fence: &fence, folds: 0, committing: 0, landed: 0 };
        let commit_every = self.config.write_behind / 10;
        let mut committing: Option<Committing> = None;
        let mut pending = Pending::default();
        // The last position folded; the checkpoint handed to the latest commit,
        // and to the latest that fenced every partition.
        let (mut read, mut planned, mut fenced_all) = (start, start, start);
        let (mut fenced_all_at, mut committed_at) = (Instant::now(), Instant::now());
        // Whether a batch came since the last quiet tick; whether the commit
        // in flight writes recommendations or answers.
        let (mut busy, mut deciding) = (false, false);
        let mut quiet = tokio::time::interval(THROUGH_EVERY);
        quiet.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                () = cancel.cancelled() => break Ok(()),
                // While none of its own events come, the feed still says how far
                // it has read: the checkpoints move on with it. Once no batch
                // came for a tick, every row still waiting is written.
                _ = quiet.tick(), if committing.is_none() => {
                    let idle = !std::mem::replace(&mut busy, false) && !batches.has_pending();
                    if idle && pending.waiting() {
                        match folding.fold(Vec::new(), true).await {
                            Ok(folded) => pending.add(folded, 0, &[]),
                            Err(error) => break Err(error),
                        }
                    }
                    // Looked at here, not in the guard: the subscription may have
                    // handed events over in this very round, and `through` covers them.
                    let reached = *through.borrow();
                    let to = pending.checkpoint(if batches.has_pending() { read } else { reached.max(read) });
                    let due = !pending.is_empty() && (idle || committed_at.elapsed() >= commit_every);
                    if to > fenced_all || due {
                        (planned, fenced_all, fenced_all_at, committed_at) = (to, to, Instant::now(), Instant::now());
                        let taken = pending.take();
                        let commit = self.commit(taken.changes, to, taken.events, Arc::clone(&fence), progress.clone());
                        (committing, folding.committing) = (Some(tokio::spawn(commit)), folding.folds);
                    }
                }
                committed = landed(&mut committing), if committing.is_some() => {
                    match committed {
                        Ok(_) => (folding.landed, deciding) = (folding.committing, false),
                        Err(error) => break Err(error),
                    }
                    // A batch that decides commits at once: nothing else waits.
                    self.decided(read);
                }
                batch = batches.next() => {
                    let batch = match batch {
                        Ok(batch) => batch,
                        Err(error) => break Err(error),
                    };
                    let Some(last) = batch.last().map(|e| e.position) else { break Ok(()) };
                    (read, busy) = (read.max(last).max(planned), true);
                    let batch = owned.filter(batch);
                    let (size, touched) = (batch.len(), owned.touched(&batch));
                    let span = tracing::info_span!("projection_batch", projection = name, events = size, last = read);
                    match folding.fold(batch, false).instrument(span.clone()).await {
                        Ok(folded) => pending.add(folded, size, &touched),
                        Err(error) => break Err(error),
                    }
                    if !pending.decided() && !deciding {
                        self.decided(read);
                    }
                    if !pending.decided() && committed_at.elapsed() < commit_every {
                        continue;
                    }
                    // One commit at a time, in order: the previous one lands first.
                    if committing.is_some() {
                        match landed(&mut committing).await {
                            Ok(_) => folding.landed = folding.committing,
                            Err(error) => break Err(error),
                        }
                    }
                    let to = pending.checkpoint(read);
                    deciding = pending.decided();
                    let taken = pending.take();
                    let fence = if fenced_all_at.elapsed() >= FENCE_ALL_EVERY {
                        (fenced_all, fenced_all_at) = (to, Instant::now());
                        Arc::clone(&fence)
                    } else {
                        Arc::new(fence.only(&taken.touched))
                    };
                    (planned, committed_at) = (to, Instant::now());
                    let commit = self.commit(taken.changes, to, taken.events, fence, progress.clone()).instrument(span);
                    (committing, folding.committing) = (Some(tokio::spawn(commit)), folding.folds);
                }
            }
        };
        // Never leave a commit behind: whoever runs next must find it landed or failed.
        let last = if committing.is_some() { landed(&mut committing).await.map(drop) } else { Ok(()) };
        let result = result.and(last);
        if result.is_err() || (pending.is_empty() && !pending.waiting()) {
            return result;
        }
        // Stopping, not failing: what waits is written now, so whoever folds
        // these partitions next starts where this run got to.
        let folded = folding.fold(Vec::new(), true).await?;
        pending.add(folded, 0, &[]);
        let taken = pending.take();
        self.commit(taken.changes, pending.checkpoint(read), taken.events, Arc::clone(&fence), progress.clone())
            .await?;
        Ok(())
    }

    /// Tells the feature cache that what the events up to `through` decided is committed.
    fn decided(&self, through: u64) {
        if let Some(cache) = &self.cache {
            cache.decided(through);
        }
    }

    /// `leases` with the checkpoints committed since they were taken: a lease
    /// carries the checkpoint it was taken at, and a run that starts again
    /// (when the set of leases changes) must not fold again what an earlier
    /// run of this instance committed.
    async fn committed(&self, leases: &[Lease]) -> Result<Vec<Lease>, ProjectionError> {
        let stored = self.read_model.partition_checkpoints(self.table.checkpoint()).await?;
        Ok(leases
            .iter()
            .map(|lease| {
                let found = stored.iter().find(|(partition, _)| *partition == lease.partition);
                let checkpoint = found.map_or(lease.checkpoint, |(_, c)| (*c).max(lease.checkpoint));
                Lease { checkpoint, ..*lease }
            })
            .collect())
    }

    /// Writes a batch's changes and checkpoint behind the fence, then publishes the checkpoint.
    fn commit(
        &self,
        changes: Changes,
        last: u64,
        events: usize,
        fence: Arc<Fence>,
        progress: Progress,
    ) -> impl Future<Output = Result<u64, ProjectionError>> + Send + 'static {
        let (read_model, table, failure) = (self.read_model.clone(), self.table, self.failure.clone());
        async move {
            let name = table.checkpoint();
            let started = Instant::now();
            read_model.commit(table, &changes, last, &fence).await?;
            metrics::histogram!("nudge_projection_commit_seconds", "projection" => name).record(started.elapsed());
            if events > 0 {
                metrics::histogram!("nudge_projection_batch_events", "projection" => name).record(events as f64);
                metrics::histogram!("nudge_projection_batch_rows", "projection" => name)
                    .record(changes.rows.len() as f64);
            }
            if table == Table::Live {
                for recommendation in &changes.recommendations {
                    let kind = recommendation.kind.as_str();
                    metrics::counter!("nudge_recommendations_total", "kind" => kind, "rule" => recommendation.rule.as_str())
                        .increment(1);
                }
            }
            metrics::counter!("nudge_projection_events_total", "projection" => name).increment(events as u64);
            progress.send_replace(last);
            *failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
            Ok(last)
        }
    }
}

/// What a run folds with: its partitions, the fence whose leases the feature
/// cache files the folded rows under, and which folds' rows are committed.
struct Folding<'a> {
    runner: &'a Runner,
    partitions: &'a [tokio::sync::mpsc::Sender<partition::Work>],
    fence: &'a Fence,
    /// Folds so far.
    folds: u64,
    /// The fold whose rows the commit in flight writes, and the last whose commit landed.
    committing: u64,
    landed: u64,
}

impl Folding<'_> {
    /// Folds `batch` with the active model, handing over the rows due (every
    /// row waiting, if `all`), and puts the folded rows in the feature cache.
    async fn fold(&mut self, batch: Vec<RecordedEvent>, all: bool) -> Result<Folded, ProjectionError> {
        let runner = self.runner;
        let decider = Arc::new(Decider { scorer: runner.active.get(), policy: runner.config.policy });
        self.folds += 1;
        let write = Write { all, current: runner.cache.is_some(), fold: self.folds, landed: self.landed };
        let mut folded =
            partition::fold(batch, decider, self.partitions, &runner.read_model, (runner.table, write)).await?;
        if let Some(cache) = &runner.cache {
            cache.fill(&std::mem::take(&mut folded.current), &self.fence.leases);
        }
        Ok(folded)
    }
}

/// The partitions a run owns, with the checkpoint each had when the run took it.
struct Owned {
    logical: std::num::NonZeroU32,
    /// Checkpoint by partition; `None` for a partition another instance folds.
    checkpoints: Vec<Option<u64>>,
}

impl Owned {
    fn new(leases: &[Lease], logical: std::num::NonZeroU32) -> Self {
        let mut checkpoints = vec![None; logical.get() as usize];
        for lease in leases {
            if let Some(slot) = checkpoints.get_mut(lease.partition as usize) {
                *slot = Some(lease.checkpoint);
            }
        }
        Self { logical, checkpoints }
    }

    /// The events of `batch` this run folds: its own partitions', past their checkpoints.
    fn filter(&self, mut batch: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        batch.retain(|event| {
            let partition = self.partition(event) as usize;
            self.checkpoints.get(partition).copied().flatten().is_some_and(|checkpoint| event.position > checkpoint)
        });
        batch
    }

    /// The partitions `batch` holds events of.
    fn touched(&self, batch: &[RecordedEvent]) -> Vec<u32> {
        let mut touched: Vec<u32> = batch.iter().map(|event| self.partition(event)).collect();
        touched.sort_unstable();
        touched.dedup();
        touched
    }

    fn partition(&self, event: &RecordedEvent) -> u32 {
        let player = event.stream.strip_prefix(domain::STREAM_PREFIX).unwrap_or(&event.stream);
        domain::partition_of(player, self.logical)
    }
}

/// Waits for the commit in flight, if any, to land; answers its checkpoint.
async fn landed(committing: &mut Option<Committing>) -> Result<u64, ProjectionError> {
    match committing.as_mut() {
        Some(commit) => {
            let result = commit.await.map_err(|e| ProjectionError::Crashed(format!("read-model commit: {e}")));
            *committing = None;
            result?
        }
        None => std::future::pending().await,
    }
}
