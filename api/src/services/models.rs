//! Model versions in the running service: the registry, the active model, and
//! training jobs run in the background, recorded in the database so that every
//! instance sees them and one runs at a time across all of them.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::Utc;
use ml::{ActiveModel, MlError, ModelEntry, Progress, Registry, Scorer, TrainConfig};
use store::EventStore;
use uuid::Uuid;

use super::training_jobs::TrainingJobs;
pub use super::training_jobs::{Job, JobState};

/// How often a running training job's progress is written.
const JOB_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(1);

/// How often an instance looks for activations made by another, in case a
/// signal was lost.
const ACTIVATION_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The registry, the active model and the training jobs.
#[derive(Clone)]
pub struct Models {
    registry: Registry,
    active: ActiveModel,
    store: Arc<dyn EventStore>,
    jobs: TrainingJobs,
}

impl Models {
    /// The models of `registry`, with its active version loaded; training jobs
    /// this instance runs are recorded in `jobs`.
    pub async fn load(registry: Registry, store: Arc<dyn EventStore>, jobs: TrainingJobs) -> Result<Self, MlError> {
        let active = ActiveModel::load(&registry).await?;
        Ok(Self { registry, active, store, jobs })
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
    /// `shutdown`: as each is signalled (PostgreSQL), and every half second in
    /// case a signal was lost, it compares the registry's active version with
    /// the one scoring here, and loads the other when they differ.
    pub async fn follow_activations(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(ACTIVATION_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut activations = self.registry.activations();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
                () = activations.next() => {}
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

    /// Starts a training job; `None` while another one runs on any instance.
    pub async fn start_training(&self, config: TrainConfig, activate: bool) -> Result<Option<Job>, MlError> {
        let Some(job) = self.jobs.start(activate).await? else { return Ok(None) };
        let models = self.clone();
        let running = job.clone();
        tokio::spawn(async move { models.train(running, config).await });
        Ok(Some(job))
    }

    /// Trains, writing the job's progress every second and its outcome at the end.
    async fn train(self, job: Job, config: TrainConfig) {
        let (id, activate) = (job.id, job.activate);
        let job = Arc::new(Mutex::new(job));
        let seen = Arc::clone(&job);
        let progress = Arc::new(move |progress: Progress| {
            let mut job = seen.lock().unwrap_or_else(PoisonError::into_inner);
            match progress {
                Progress::Replaying { events, of } => (job.events_replayed, job.events_to_replay) = (events, of),
                Progress::Fitting(step) => (job.phase, job.step) = ("fitting".to_owned(), step),
            }
        });
        let heartbeat = {
            let (jobs, job) = (self.jobs.clone(), Arc::clone(&job));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(JOB_HEARTBEAT);
                loop {
                    tick.tick().await;
                    let snapshot = job.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    if let Err(error) = jobs.save(&snapshot).await {
                        tracing::warn!(%id, %error, "cannot record the training job's progress");
                    }
                }
            })
        };
        let trained = ml::train_from_store(Arc::clone(&self.store), &self.registry, config, progress).await;
        let outcome = match trained {
            Ok(artifact) if activate => self.activate(&artifact.version).await.map(|_| artifact.version),
            Ok(artifact) => Ok(artifact.version),
            Err(error) => Err(error),
        };
        heartbeat.abort();
        let finished = {
            let mut job = job.lock().unwrap_or_else(PoisonError::into_inner);
            job.finished_at = Some(Utc::now());
            job.phase = "done".to_owned();
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
            job.clone()
        };
        if let Err(error) = self.jobs.save(&finished).await {
            tracing::error!(%id, %error, "cannot record how the training job ended");
        }
    }

    /// A job, whichever instance runs or ran it.
    pub async fn job(&self, id: Uuid) -> Result<Option<Job>, MlError> {
        self.jobs.get(id).await
    }
}
