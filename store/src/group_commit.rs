//! Group commit: concurrent appends share one transaction and one sync.
//!
//! Each SQL adapter owns one writer task. Callers queue their appends; the writer
//! takes everything queued (up to a bound), writes it in one transaction and
//! answers every caller once it has committed. While a transaction commits, the
//! next group gathers, so throughput grows with concurrency and every answer still
//! means durable.
//!
//! The writer runs on a thread of its own, with a runtime of its own. Every
//! append waits on it, so it must never wait itself: on the server's runtime,
//! the wake-up of a finished commit queued behind the request tasks already
//! runnable, and under load each group waited there before it was answered
//! and before the next was written (one event a request went 10 to 30 % faster
//! once the writer left, BENCHMARKS.md).

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::{Appended, StoreError, StreamAppend};

/// The answer to one call.
pub(crate) type CallResult = Result<Vec<Vec<Appended>>, StoreError>;

/// Most events written in one transaction.
const MAX_GROUP_EVENTS: usize = 8_192;

/// Most times the writer yields to let a group grow.
const MAX_YIELDS: usize = 2;

/// Calls that may wait for the writer before callers are held back.
const QUEUE_DEPTH: usize = 4_096;

/// A group commit slower than this is a warning, as a slow statement is.
const SLOW: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes a group of independent calls in one transaction.
#[async_trait]
pub(crate) trait GroupWriter: Send + 'static {
    /// Commits the group: `Ok` holds each call's own answer (a call may fail on its
    /// expected revision while the others commit); `Err` means nothing was written.
    /// The group is shared, so that this process's subscribers keep its events
    /// (`Recent`) without a copy.
    async fn write_group(&mut self, calls: Arc<[Vec<StreamAppend>]>) -> Result<Vec<CallResult>, StoreError>;

    /// Runs once a group's callers are answered, before the next group.
    async fn answered(&mut self) {}
}

struct Job {
    call: Vec<StreamAppend>,
    reply: oneshot::Sender<CallResult>,
}

/// The handle callers queue their appends through.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer on a thread of its own; it ends when every handle is
    /// dropped. Whatever the writer connects to is driven by that thread.
    pub(crate) fn spawn(writer: impl GroupWriter) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        let cannot_start = |e: std::io::Error| StoreError::Writer(format!("the group-commit writer cannot start: {e}"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(cannot_start)?;
        std::thread::Builder::new()
            .name("nudge-writer".to_owned())
            .spawn(move || runtime.block_on(run(writer, queue)))
            .map_err(cannot_start)?;
        Ok(Self { jobs })
    }

    /// Queues one call and waits until it is durable (or refused).
    pub(crate) async fn append(&self, call: Vec<StreamAppend>) -> CallResult {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { call, reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(mut writer: impl GroupWriter, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut events = size(&first);
        let mut jobs = vec![first];
        // Yield while calls keep arriving, so those being queued by request
        // tasks running meanwhile (woken by the last commit) join this group:
        // it grows without a timer.
        for _ in 0..MAX_YIELDS {
            let before = jobs.len();
            tokio::task::yield_now().await;
            while events < MAX_GROUP_EVENTS {
                let Ok(job) = queue.try_recv() else { break };
                events += size(&job);
                jobs.push(job);
            }
            if jobs.len() == before || events >= MAX_GROUP_EVENTS {
                break;
            }
        }
        let span = tracing::debug_span!("group_commit", calls = jobs.len(), events);
        write(&mut writer, jobs, events).instrument(span).await;
    }
}

fn size(job: &Job) -> usize {
    job.call.iter().map(|a| a.events.len()).sum()
}

/// Writes the group; when the transaction as a whole fails and holds more than
/// one call, each call is retried alone so that one bad call fails only itself.
async fn write(writer: &mut impl GroupWriter, jobs: Vec<Job>, events: usize) {
    let (calls, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.call, j.reply)).unzip();
    metrics::histogram!("nudge_store_group_commit_calls").record(calls.len() as f64);
    let calls: Arc<[Vec<StreamAppend>]> = calls.into();
    let started = std::time::Instant::now();
    let written = writer.write_group(Arc::clone(&calls)).await;
    let took = started.elapsed();
    metrics::histogram!("nudge_store_group_commit_seconds").record(took);
    if took > SLOW {
        tracing::warn!(calls = calls.len(), events, elapsed_ms = took.as_millis() as u64, "slow group commit");
    }
    match written {
        Ok(results) => answer(replies, results),
        Err(error) if calls.len() == 1 => answer(replies, vec![Err(error)]),
        Err(error) => {
            tracing::warn!(%error, calls = calls.len(), "group commit failed, retrying each call alone");
            for (call, reply) in calls.iter().zip(replies) {
                match writer.write_group(Arc::from([call.clone()])).await {
                    Ok(results) => answer(vec![reply], results),
                    Err(error) => answer(vec![reply], vec![Err(error)]),
                }
            }
        }
    }
    writer.answered().await;
}

fn answer(replies: Vec<oneshot::Sender<CallResult>>, results: Vec<CallResult>) {
    for (reply, result) in replies.into_iter().zip(results) {
        // A caller that gave up (its request was cancelled) no longer listens:
        // its events are committed all the same, and a retry finds them as duplicates.
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::Notify;

    use super::*;
    use crate::{Appended, ExpectedRevision, testing};

    /// Answers every call with one appended event, and waits in `answered`
    /// until told to go on.
    struct Answering {
        go_on: Arc<Notify>,
        answered: mpsc::UnboundedSender<()>,
    }

    #[async_trait]
    impl GroupWriter for Answering {
        async fn write_group(&mut self, calls: Arc<[Vec<StreamAppend>]>) -> Result<Vec<CallResult>, StoreError> {
            let appended = Appended { position: 1, revision: 0, duplicate: false };
            Ok(calls.iter().map(|_| Ok(vec![vec![appended]])).collect())
        }

        async fn answered(&mut self) {
            let _ = self.answered.send(());
            self.go_on.notified().await;
        }
    }

    /// Far longer than an answer takes: only a call answered after `answered` reaches it.
    const NEVER: std::time::Duration = std::time::Duration::from_secs(60);

    fn call(id: &str) -> Vec<StreamAppend> {
        let events = vec![testing::event("/group-commit", id)];
        vec![StreamAppend { stream: "player-p1".to_owned(), expected: ExpectedRevision::Any, events }]
    }

    /// The writer's after-answer work waits for no caller: the call is
    /// answered while it runs, and the next group is written after it.
    #[tokio::test]
    async fn callers_are_answered_before_the_writer_runs_its_after_answer_work() {
        let (answered, mut ran) = mpsc::unbounded_channel();
        let go_on = Arc::new(Notify::new());
        let appends = GroupCommit::spawn(Answering { go_on: Arc::clone(&go_on), answered }).unwrap();
        let first = tokio::time::timeout(NEVER, appends.append(call("e1"))).await;
        assert!(first.expect("answered only after `answered`").is_ok());
        ran.recv().await.unwrap();
        let next = tokio::spawn({
            let appends = appends.clone();
            async move { appends.append(call("e2")).await }
        });
        go_on.notify_one();
        assert!(next.await.unwrap().is_ok());
        ran.recv().await.unwrap();
        go_on.notify_one();
    }
}
