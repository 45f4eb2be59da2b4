//! Model versions in the running service: the registry, the active model, and
//! training jobs run in the background (kept in memory: a restart forgets the
//! jobs, never the versions they registered).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use chrono::{DateTime, Utc};
use ml::{ActiveModel, MlError, ModelEntry, Progress, Registry, Scorer, TrainConfig};
use serde::Serialize;
use store::EventStore;
use uuid::Uuid;

/// How often an instance looks for activations made by another.
const ACTIVATION_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The registry, the active model and the training jobs.
#[derive(Clone)]
pub struct Models {
    registry: Registry,
    active: ActiveModel,
    store: Arc<dyn EventStore>,
    jobs: Arc<Mutex<HashMap<Uuid, Job>>>,
}

/// A training job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    /// The job.
    pub id: Uuid,
    /// `running`, `succeeded` or `failed`.
    pub state: JobState,
    /// `replaying`, `fitting` or `done`.
    pub phase: &'static str,
    /// Events replayed so far.
    pub events_replayed: u64,
    /// Events to replay (the store's head when the job began).
    pub events_to_replay: u64,
    /// What the job is doing now.
    pub step: String,
    /// The version trained, once done.
    pub version: Option<String>,
    /// Whether the version is activated when trained.
    pub activate: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Replaying or fitting.
    Running,
    /// A version is registered.
    Succeeded,
    /// See `error`.
    Failed,
}

impl Models {
    /// The models of `registry`, with its active version loaded.
    pub async fn load(registry: Registry, store: Arc<dyn EventStore>) -> Result<Self, MlError> {
        let active = ActiveModel::load(&registry).await?;
        Ok(Self { registry, active, store, jobs: Arc::default() })
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The active model, shared with the projection.
    pub fn active(&self) -> &ActiveModel {
        &self.active
    }

    /// Makes `version` the one that scores, now; `None` when there is no such version.
    pub async fn activate(&self, version: &str) -> Result<Option<ModelEntry>, MlError> {
        if !self.registry.activate(version, Utc::now()).await? {
            return Ok(None);
        }
        let entry = self.registry.get(version).await?;
        if let Some(entry) = &entry {
            self.active.set(Some(Scorer::new(entry.artifact.clone())));
            tracing::info!(version, "model activated");
        }
        Ok(entry)
    }

    /// Follows activations made by any instance sharing the registry until
    /// `shutdown`: every half second it compares the registry's active version
    /// with the one scoring here, and loads the other when they differ.
    pub async fn follow_activations(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(ACTIVATION_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(error) = self.catch_up_activation().await {
                tracing::warn!(%error, "cannot read the active model version; retrying");
            }
        }
    }

    /// Loads the registry's active version if another one scores here.
    async fn catch_up_activation(&self) -> Result<(), MlError> {
        let wanted = self.registry.active_version().await?;
        let scoring = self.active.get().map(|scorer| scorer.version().to_owned());
        if wanted == scoring {
            return Ok(());
        }
        let entry = match &wanted {
            Some(version) => self.registry.get(version).await?,
            None => None,
        };
        tracing::info!(version = ?wanted, was = ?scoring, "model activated by another instance");
        self.active.set(entry.map(|entry| Scorer::new(entry.artifact)));
        Ok(())
    }

    /// Starts a training job; `None` while another one runs.
    pub fn start_training(&self, config: TrainConfig, activate: bool) -> Option<Job> {
        let id = Uuid::now_v7();
        let job = Job {
            id,
            state: JobState::Running,
            phase: "replaying",
            events_replayed: 0,
            events_to_replay: 0,
            step: "replaying the event store".to_owned(),
            version: None,
            activate,
            error: None,
            started_at: Utc::now(),
            finished_at: None,
        };
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            if jobs.values().any(|j| j.state == JobState::Running) {
                return None;
            }
            jobs.insert(id, job.clone());
        }
        let models = self.clone();
        tokio::spawn(async move { models.train(id, config, activate).await });
        Some(job)
    }

    async fn train(self, id: Uuid, config: TrainConfig, activate: bool) {
        let jobs = Arc::clone(&self.jobs);
        let progress = Arc::new(move |progress: Progress| {
            let mut jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(job) = jobs.get_mut(&id) {
                match progress {
                    Progress::Replaying { events, of } => (job.events_replayed, job.events_to_replay) = (events, of),
                    Progress::Fitting(step) => (job.phase, job.step) = ("fitting", step),
                }
            }
        });
        let trained = ml::train_from_store(Arc::clone(&self.store), &self.registry, config, progress).await;
        let outcome = match trained {
            Ok(artifact) if activate => self.activate(&artifact.version).await.map(|_| artifact.version),
            Ok(artifact) => Ok(artifact.version),
            Err(error) => Err(error),
        };
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(job) = jobs.get_mut(&id) {
            job.finished_at = Some(Utc::now());
            job.phase = "done";
            match outcome {
                Ok(version) => {
                    tracing::info!(%id, version, "training job succeeded");
                    (job.state, job.step, job.version) = (JobState::Succeeded, "registered".to_owned(), Some(version));
                }
                Err(error) => {
                    tracing::warn!(%id, %error, "training job failed");
                    (job.state, job.error) = (JobState::Failed, Some(error.to_string()));
                }
            }
        }
    }

    /// A job, while nudge runs.
    pub fn job(&self, id: Uuid) -> Option<Job> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner).get(&id).cloned()
    }
}
