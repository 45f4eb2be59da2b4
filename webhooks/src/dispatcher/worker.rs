//! One subscription's worker: claims due deliveries (the oldest pending one of
//! each player), sends them with bounded concurrency and hands the answers to
//! the recorder.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Settled, Signal};
use crate::{Claimed, Database, Mode, Next, Outcome, RetrySchedule, Sender, Settlement, Subscription, client::Answer};

/// Events per batch request.
pub const BATCH_SIZE: usize = 100;

/// What every worker shares.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) database: Database,
    pub(crate) sender: Sender,
    pub(crate) schedule: RetrySchedule,
    pub(crate) concurrency: usize,
    pub(crate) poll: Duration,
    pub(crate) settled: mpsc::UnboundedSender<Settled>,
    /// Raised when deliveries may be due.
    pub(crate) work: Signal,
    /// Raised when subscriptions may have changed.
    pub(crate) subscriptions: Signal,
}

/// Delivers one subscription's events until `stop`; requests in flight finish.
pub(crate) async fn run(context: Context, subscription: watch::Receiver<Subscription>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(context.concurrency));
    let mut woken = context.work.subscribe();
    let id = subscription.borrow().id;
    loop {
        if stop.is_cancelled() {
            return;
        }
        let free = slots.available_permits();
        let current = subscription.borrow().clone();
        let per_request = if current.mode == Mode::Batch { BATCH_SIZE } else { 1 };
        woken.borrow_and_update();
        // Claim in bunches: wait for half the slots to come free while requests are in flight.
        let claimed = if free * 2 < context.concurrency {
            Vec::new()
        } else {
            let now = Utc::now();
            let lease = chrono::Duration::from_std(context.sender.lease()).unwrap_or(chrono::Duration::MAX);
            match context.database.claim(id, free * per_request, now, now + lease).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!(subscription = %id, %error, "cannot claim webhook deliveries");
                    Vec::new()
                }
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(context.poll) => {}
                _ = woken.changed() => {}
            }
            continue;
        }
        for group in claimed.chunks(per_request) {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
            let (context, subscription, group) = (context.clone(), current.clone(), group.to_vec());
            let span_id = span_id();
            let span = delivery_span(id, &group, span_id);
            tokio::spawn(
                async move {
                    attempt(&context, &subscription, group, span_id).await;
                    drop(slot);
                    context.work.raise();
                }
                .instrument(span),
            );
        }
    }
}

/// The span of one attempt. Its `traceparent` field names the trace its
/// events share (none when they are of several), and `span_id` the id its
/// requests name as their parent: the telemetry set-up exports the span so.
fn delivery_span(subscription: uuid::Uuid, group: &[Claimed], span_id: Option<[u8; 8]>) -> tracing::Span {
    let first = group.first().and_then(|c| c.event.traceparent);
    let shared =
        first.filter(|t| group.iter().all(|c| c.event.traceparent.map(|o| o.trace_id()) == Some(t.trace_id())));
    let traceparent = shared.map(|t| t.to_string()).unwrap_or_default();
    let span_id = span_id.map(|id| id.iter().map(|b| format!("{b:02x}")).collect::<String>()).unwrap_or_default();
    tracing::info_span!(
        "webhook_delivery",
        subscription = %subscription,
        events = group.len(),
        traceparent = %traceparent,
        span_id = %span_id,
    )
}

/// Sends one request and hands its outcome to the recorder.
async fn attempt(context: &Context, subscription: &Subscription, claimed: Vec<Claimed>, span_id: Option<[u8; 8]>) {
    let events: Vec<_> = claimed.iter().map(|c| c.event.sent_by(span_id)).collect();
    let answer = context.sender.deliver(subscription, &events, Utc::now()).await;
    let label = subscription.id.to_string();
    metrics::histogram!("nudge_webhook_delivery_duration_seconds", "subscription" => label.clone())
        .record(answer.latency.as_secs_f64());
    let at = Utc::now();
    let random = random_fraction();
    let outcomes: Vec<Outcome> = claimed.iter().map(|c| outcome(&context.schedule, c, &answer, at, random)).collect();
    for o in &outcomes {
        let result = match o.settlement {
            Settlement::Delivered => "delivered",
            Settlement::RetryAt(_) if answer.gone() => "gone",
            Settlement::RetryAt(_) => "failed",
            Settlement::Dead => "dead",
        };
        metrics::counter!("nudge_webhook_deliveries_total", "subscription" => label.clone(), "outcome" => result)
            .increment(1);
    }
    if let Some(error) = &answer.error {
        tracing::debug!(subscription = %subscription.id, %error, "webhook attempt failed");
    }
    // The recorder outlives the workers; if it is gone the process is stopping
    // and the lease brings the deliveries back.
    let _ = context.settled.send(Settled { subscription: subscription.id, outcomes, gone: answer.gone() });
}

/// Where an answer leaves one delivery: a `410 Gone` keeps it pending, due
/// again, for when the subscription is enabled again.
fn outcome(schedule: &RetrySchedule, claimed: &Claimed, answer: &Answer, at: DateTime<Utc>, random: f64) -> Outcome {
    let settlement = if answer.delivered() {
        Settlement::Delivered
    } else if answer.gone() {
        Settlement::RetryAt(at)
    } else {
        match schedule.next(claimed.attempts, at, claimed.retry_from, answer.retry_after, random) {
            Next::At(next) => Settlement::RetryAt(next),
            Next::DeadLetter => Settlement::Dead,
        }
    };
    Outcome {
        seq: claimed.seq,
        subscription: claimed.subscription,
        player_id: claimed.event.subject.clone(),
        settlement,
        status: answer.status.map(|s| s.as_u16()),
        error: answer.error.clone(),
        latency_ms: answer.latency.as_millis() as u64,
        at,
    }
}

/// A new span id for an attempt, the parent its requests name in their trace.
fn span_id() -> Option<[u8; 8]> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok().map(|()| bytes)
}

/// A number in [0, 1) for the jitter.
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}
