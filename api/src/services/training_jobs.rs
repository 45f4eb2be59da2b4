//! Training jobs in the read-model database, so that every instance sharing it
//! sees the same ones and one runs at a time across all of them. This module
//! owns `training_jobs`.

use chrono::{DateTime, TimeZone, Utc};
use database::{Database, query};
use ml::MlError;
use serde::Serialize;
use uuid::Uuid;

/// A running job whose instance has not written for this long lost its instance.
const STALE_MS: i64 = 10_000;

/// A training job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    /// The job.
    pub id: Uuid,
    /// `running`, `succeeded` or `failed`.
    pub state: JobState,
    /// `replaying`, `fitting` or `done`.
    pub phase: String,
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

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            _ => Self::Failed,
        }
    }
}

/// The jobs table, written by this instance as `instance`.
#[derive(Debug, Clone)]
pub struct TrainingJobs {
    database: Database,
    instance: String,
}

type JobRow = (String, String, String, i64, i64, String, Option<String>, bool, Option<String>, i64, Option<i64>);

const COLUMNS: &str = "id, state, phase, events_replayed, events_to_replay, step, version, activate, error, \
                       started_ms, finished_ms";

fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn job(row: JobRow) -> Job {
    let (id, state, phase, replayed, to_replay, step, version, activate, error, started, finished) = row;
    Job {
        id: id.parse().unwrap_or_default(),
        state: JobState::parse(&state),
        phase,
        events_replayed: count(replayed),
        events_to_replay: count(to_replay),
        step,
        version,
        activate,
        error,
        started_at: time(started),
        finished_at: finished.map(time),
    }
}

/// Whether a write failed on a unique index.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

impl TrainingJobs {
    /// The jobs in `database`, written as `instance`.
    pub fn new(database: Database, instance: String) -> Self {
        Self { database, instance }
    }

    /// Records a new running job; `None` while one runs on any instance (a
    /// running job whose instance stopped writing is marked failed first).
    pub async fn start(&self, activate: bool) -> Result<Option<Job>, MlError> {
        let now = self.database.backend().clock_ms();
        let abandon = format!(
            "UPDATE training_jobs SET state = 'failed', phase = 'done', finished_ms = {now}, \
             error = 'the instance running it stopped' \
             WHERE state = 'running' AND heartbeat_ms < {now} - {STALE_MS}"
        );
        query(&abandon).execute(self.database.writer()).await?;
        let insert = format!(
            "INSERT INTO training_jobs (id, state, phase, events_replayed, events_to_replay, step, activate, \
             started_ms, instance, heartbeat_ms) \
             VALUES ($1, 'running', 'replaying', 0, 0, 'replaying the event store', $2, {now}, $3, {now}) \
             RETURNING {COLUMNS}"
        );
        let id = Uuid::now_v7().to_string();
        let inserted: Result<Option<JobRow>, sqlx::Error> = query(&insert)
            .bind(id.as_str())
            .bind(activate)
            .bind(self.instance.as_str())
            .fetch_optional(self.database.writer())
            .await;
        match inserted {
            Ok(row) => Ok(row.map(job)),
            Err(error) if is_unique_violation(&error) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes a job's progress, or how it ended, with this instance's heartbeat.
    pub async fn save(&self, job: &Job) -> Result<(), MlError> {
        let now = self.database.backend().clock_ms();
        let finished = if job.state == JobState::Running { "NULL".to_owned() } else { now.to_owned() };
        let sql = format!(
            "UPDATE training_jobs SET state = $2, phase = $3, events_replayed = $4, events_to_replay = $5, \
             step = $6, version = $7, error = $8, finished_ms = {finished}, heartbeat_ms = {now} WHERE id = $1"
        );
        query(&sql)
            .bind(job.id.to_string())
            .bind(job.state.as_str())
            .bind(job.phase.as_str())
            .bind(stored(job.events_replayed))
            .bind(stored(job.events_to_replay))
            .bind(job.step.as_str())
            .bind(&job.version)
            .bind(&job.error)
            .execute(self.database.writer())
            .await?;
        Ok(())
    }

    /// A job, whichever instance runs or ran it.
    pub async fn get(&self, id: Uuid) -> Result<Option<Job>, MlError> {
        let sql = format!("SELECT {COLUMNS} FROM training_jobs WHERE id = $1");
        let row: Option<JobRow> = query(&sql).bind(id.to_string()).fetch_optional(self.database.writer()).await?;
        Ok(row.map(job))
    }
}
