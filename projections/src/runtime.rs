//! One run of a projection: from its stored checkpoint, micro-batch after
//! micro-batch, until cancelled or told it has caught up.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use store::{EventStore, EventStream, RecordedEvent};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    ProjectionConfig, ProjectionError,
    partition::{self, Residency, Work},
    read_model::{ReadModel, Table},
};

/// Where a run is: the checkpoint it committed last.
pub(crate) type Progress = tokio::sync::watch::Sender<u64>;

/// What a run needs.
pub(crate) struct Runner {
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) read_model: ReadModel,
    pub(crate) config: ProjectionConfig,
    pub(crate) table: Table,
    /// Why a run last failed: each commit clears it.
    pub(crate) failure: Arc<std::sync::Mutex<Option<String>>>,
}

impl Runner {
    /// Projects from the stored checkpoint until `cancel` fires or `done` says
    /// the committed checkpoint is far enough; publishes every commit on `progress`.
    pub(crate) async fn run(
        &self,
        progress: &Progress,
        cancel: &CancellationToken,
        done: impl Fn(u64) -> bool,
    ) -> Result<(), ProjectionError> {
        let name = self.table.checkpoint();
        let start = self.read_model.checkpoint(self.table).await?;
        progress.send_replace(start.unwrap_or_default());
        if done(start.unwrap_or_default()) {
            return Ok(());
        }
        let residency = Residency {
            capacity: self.config.players_in_memory / self.config.partitions.max(1),
            idle: self.config.idle,
        };
        let partitions: Vec<_> = (0..self.config.partitions.max(1))
            .map(|i| partition::spawn(i, name, self.read_model.clone(), self.table, residency))
            .collect();
        let mut events = self.store.subscribe_all(start.filter(|p| *p > 0), domain::STREAM_PREFIX);
        tracing::info!(projection = name, checkpoint = start, "projection started");
        loop {
            let batch = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                batch = next_batch(&mut events, self.config.batch_events, self.config.batch_wait) => batch?,
            };
            let Some(last) = batch.last().map(|e| e.position) else { return Ok(()) };
            let span = tracing::info_span!("projection_batch", projection = name, events = batch.len(), last);
            self.project(batch, &partitions, last).instrument(span).await?;
            progress.send_replace(last);
            *self.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            if done(last) {
                return Ok(());
            }
        }
    }

    /// Folds one micro-batch across the partitions and commits it with the checkpoint.
    async fn project(
        &self,
        batch: Vec<RecordedEvent>,
        partitions: &[tokio::sync::mpsc::Sender<Work>],
        last: u64,
    ) -> Result<(), ProjectionError> {
        let name = self.table.checkpoint();
        let size = batch.len();
        let mut routed: Vec<Vec<RecordedEvent>> = vec![Vec::new(); partitions.len()];
        for event in batch {
            routed[partition::partition_of(&event.stream, partitions.len())].push(event);
        }
        let mut replies = Vec::new();
        for (partition, events) in partitions.iter().zip(routed).filter(|(_, events)| !events.is_empty()) {
            let (reply, answer) = oneshot::channel();
            partition.send(Work { events, reply }).await.map_err(|_| ProjectionError::PartitionStopped)?;
            replies.push(answer);
        }
        let mut rows = Vec::new();
        for answer in replies {
            rows.extend(answer.await.map_err(|_| ProjectionError::PartitionStopped)??);
        }
        let started = Instant::now();
        self.read_model.commit(self.table, &rows, last).await?;
        metrics::histogram!("nudge_projection_commit_seconds", "projection" => name).record(started.elapsed());
        metrics::histogram!("nudge_projection_batch_events", "projection" => name).record(size as f64);
        metrics::histogram!("nudge_projection_batch_rows", "projection" => name).record(rows.len() as f64);
        metrics::counter!("nudge_projection_events_total", "projection" => name).increment(size as u64);
        Ok(())
    }
}

/// Takes the next micro-batch: waits for one event, then takes more until `max`
/// events or `wait` after the first.
async fn next_batch(
    events: &mut EventStream,
    max: usize,
    wait: Duration,
) -> Result<Vec<RecordedEvent>, ProjectionError> {
    let mut batch = Vec::new();
    match events.next().await {
        Some(event) => batch.push(event?),
        None => return Ok(batch),
    }
    let deadline = tokio::time::Instant::now() + wait;
    while batch.len() < max.max(1) {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(event)) => batch.push(event?),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(batch)
}
