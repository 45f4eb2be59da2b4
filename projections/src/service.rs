//! The feature projection as a service: keeps the live run going, runs rebuilds
//! beside it, and reports where both are.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ml::ActiveModel;
use serde::Serialize;
use store::EventStore;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectionConfig, ProjectionError,
    pausable::Pausable,
    read_model::{ReadModel, Table},
    runtime::Runner,
};

/// How long a failed run waits before it starts again from its checkpoint.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// How often the lag is looked at.
const LAG_TICK: Duration = Duration::from_millis(500);

/// What a projection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionState {
    /// Following the store.
    Running,
    /// Following the store while a rebuild from position 0 runs beside it.
    Rebuilding,
    /// The last run failed; it starts again from its checkpoint shortly.
    Failed,
}

/// Where a projection is, for `GET /v1/projections`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: &'static str,
    /// What it is doing.
    pub state: ProjectionState,
    /// Why the last run failed, while it is failed.
    pub error: Option<String>,
    /// Global position of the last event committed to the rows served.
    pub checkpoint: u64,
    /// Global position of the last event in the store.
    pub head: u64,
    /// Logical partitions players are spread over, fixed when the database was made.
    pub partitions: u32,
    /// Events appended and not projected yet.
    pub lag_events: u64,
    /// How long since the projection last had nothing left to project (to half a
    /// second), 0 when it has nothing left now.
    pub lag_seconds: f64,
    /// The rebuild in progress, if any.
    pub rebuild: Option<RebuildStatus>,
}

/// A rebuild in progress: it replaces the served rows once it reaches their checkpoint.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RebuildStatus {
    /// Global position it has rebuilt up to.
    pub checkpoint: u64,
    /// Events between it and the served rows' checkpoint.
    pub remaining_events: u64,
    /// What is served meanwhile.
    pub serving: &'static str,
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
    live: Arc<watch::Sender<u64>>,
    rebuild: watch::Sender<Option<u64>>,
    /// Why the last run failed; cleared by the next commit.
    error: Arc<Mutex<Option<String>>>,
    /// The latest moment the live run had nothing left to project.
    caught_up_at: Mutex<Instant>,
    /// The live run: a promotion or an erasure stops it and holds it stopped.
    live_run: Pausable,
    /// The rebuild's run: an erasure stops it and holds it stopped.
    rebuild_run: Pausable,
    shutdown: CancellationToken,
}

impl FeatureProjection {
    /// The name it reports and labels its metrics with.
    pub const NAME: &'static str = "features";

    /// Starts the projection (and a rebuild left unfinished by a previous
    /// process); it decides with whatever model `active` holds at each batch.
    pub async fn start(
        store: Arc<dyn EventStore>,
        read_model: ReadModel,
        config: ProjectionConfig,
        active: ActiveModel,
        shutdown: CancellationToken,
    ) -> Result<Self, ProjectionError> {
        let checkpoint = read_model.checkpoint(Table::Live).await?.unwrap_or_default();
        let rebuild = read_model.checkpoint(Table::Rebuild).await?;
        let partitions = read_model.logical_partitions(config.logical_partitions).await?;
        let inner = Arc::new(Inner {
            store,
            read_model,
            config,
            partitions,
            active,
            live: Arc::new(watch::Sender::new(checkpoint)),
            rebuild: watch::Sender::new(rebuild),
            error: Arc::new(Mutex::new(None)),
            caught_up_at: Mutex::new(Instant::now()),
            live_run: Pausable::default(),
            rebuild_run: Pausable::default(),
            shutdown,
        });
        tokio::spawn(inner.clone().keep_live());
        tokio::spawn(inner.clone().watch_lag());
        if rebuild.is_some() {
            tokio::spawn(inner.clone().rebuild());
        }
        Ok(Self { inner })
    }

    /// Where it is now.
    pub async fn status(&self) -> Result<ProjectionStatus, ProjectionError> {
        let inner = &self.inner;
        let head = inner.store.head().await?;
        let checkpoint = *inner.live.borrow();
        let lag_events = head.saturating_sub(checkpoint);
        let caught_up_at = *lock(&inner.caught_up_at);
        let error = lock(&inner.error).clone();
        let rebuild = (*inner.rebuild.borrow()).map(|position| RebuildStatus {
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
            lag_seconds: lag_seconds(lag_events, caught_up_at),
            rebuild,
        })
    }

    /// The live rows' checkpoint.
    pub fn checkpoint(&self) -> u64 {
        *self.inner.live.borrow()
    }

    /// Waits up to `timeout` for the live rows to include position `position`.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let mut live = self.inner.live.subscribe();
        tokio::time::timeout(timeout, live.wait_for(|checkpoint| *checkpoint >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Starts a rebuild from position 0; false when one is already running.
    pub async fn rebuild(&self) -> Result<bool, ProjectionError> {
        if self.inner.rebuild.borrow().is_some() {
            return Ok(false);
        }
        self.inner.read_model.start_rebuild().await?;
        self.inner.rebuild.send_replace(Some(0));
        tokio::spawn(self.inner.clone().rebuild());
        Ok(true)
    }

    /// Forgets a player whose stream was deleted: stops the live run and any
    /// rebuild (each lands its commit in flight), deletes the player's rows,
    /// recommendations and unrouted outbox rows, and lets the runs start again
    /// from their checkpoints. A run that had read the player's events before
    /// the delete (into a batch, a partition's memory or the subscription's
    /// buffer) is gone with them, and its successor reads a store without them.
    pub async fn erase(&self, player_id: &str) -> Result<(), ProjectionError> {
        // Always live first, then rebuild: the one order every holder takes.
        let _live = self.inner.live_run.hold().await;
        let _rebuild = self.inner.rebuild_run.hold().await;
        self.inner.read_model.erase(player_id).await
    }

    /// The read model it writes.
    pub fn read_model(&self) -> &ReadModel {
        &self.inner.read_model
    }
}

/// How long a projection `lag_events` behind has been behind: 0 when caught up,
/// else the time since it last was, at `caught_up_at`.
fn lag_seconds(lag_events: u64, caught_up_at: Instant) -> f64 {
    if lag_events == 0 { 0.0 } else { caught_up_at.elapsed().as_secs_f64() }
}

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
        }
    }

    /// Notes, twice a second, the lag and when the projection last had nothing left to do.
    async fn watch_lag(self: Arc<Self>) {
        let mut tick = tokio::time::interval(LAG_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.shutdown.is_cancelled() {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Ok(head) = self.store.head().await else { continue };
            let lag = head.saturating_sub(*self.live.borrow());
            let caught_up_at = {
                let mut at = lock(&self.caught_up_at);
                if lag == 0 {
                    *at = Instant::now();
                }
                *at
            };
            metrics::gauge!("nudge_projection_lag_events", "projection" => FeatureProjection::NAME).set(lag as f64);
            metrics::gauge!("nudge_projection_lag_seconds", "projection" => FeatureProjection::NAME)
                .set(lag_seconds(lag, caught_up_at));
        }
    }

    /// Runs the live projection until shutdown, restarting it after a failure or a promotion.
    async fn keep_live(self: Arc<Self>) {
        let runner = self.runner(Table::Live);
        while !self.shutdown.is_cancelled() {
            let (gate, run) = self.live_run.enter(&self.shutdown).await;
            let result = runner.run(&self.live, &run, |_| false).await;
            drop(gate);
            self.settle(Table::Live, result).await;
        }
    }

    /// Rebuilds from position 0 until it reaches the live checkpoint, then replaces the live rows.
    async fn rebuild(self: Arc<Self>) {
        let runner = self.runner(Table::Rebuild);
        let progress = Arc::new(watch::Sender::new(0));
        let mut follow = progress.subscribe();
        let rebuild = self.rebuild.clone();
        tokio::spawn(async move {
            while follow.changed().await.is_ok() {
                let position = *follow.borrow_and_update();
                rebuild.send_if_modified(|r| r.replace(position) != Some(position));
            }
        });
        loop {
            let caught_up = |position: u64| position >= *self.live.borrow();
            let (gate, run) = self.rebuild_run.enter(&self.shutdown).await;
            let result = runner.run(&progress, &run, caught_up).await;
            drop(gate);
            if self.shutdown.is_cancelled() {
                return;
            }
            if run.is_cancelled() {
                // Stopped by an erasure: go on from the checkpoint.
                continue;
            }
            match result {
                Ok(()) => match self.promote().await {
                    Ok(()) => return,
                    Err(error) => self.settle(Table::Rebuild, Err(error)).await,
                },
                Err(error) => self.settle(Table::Rebuild, Err(error)).await,
            }
        }
    }

    /// Stops the live run, swaps the rebuilt rows in, and lets the live run restart on them.
    async fn promote(&self) -> Result<(), ProjectionError> {
        let _live = self.live_run.hold().await;
        self.read_model.promote_rebuild().await?;
        let checkpoint = self.read_model.checkpoint(Table::Live).await?.unwrap_or_default();
        self.live.send_replace(checkpoint);
        self.rebuild.send_replace(None);
        tracing::info!(projection = FeatureProjection::NAME, checkpoint, "rebuild replaced the live rows");
        Ok(())
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
