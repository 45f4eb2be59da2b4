//! One subscription's worker: claims due deliveries (the oldest pending one of
//! each player), sends them with bounded concurrency and hands the answers to
//! the recorder.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Settled, Signal};
use crate::{
    Claimed, Database, Mode, Next, Outcome, RetrySchedule, Sender, Settlement, Subscription, client::Answer,
    database::SlotRequest,
};

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
    let permits = Arc::new(Semaphore::new(context.concurrency));
    let mut woken = context.work.subscribe();
    let id = subscription.borrow().id;
    let mut slots_added = false;
    loop {
        if stop.is_cancelled() {
            return;
        }
        let free = permits.available_permits();
        let current = subscription.borrow().clone();
        let per_request = if current.mode == Mode::Batch { BATCH_SIZE } else { 1 };
        woken.borrow_and_update();
        // Claim in bunches: wait for half the permits to come free while requests are in flight.
        let requests = if free * 2 < context.concurrency {
            Vec::new()
        } else {
            slots_added = slots_added || add_slots(&context, id).await;
            claim(&context, id, free, per_request).await
        };
        if requests.is_empty() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(context.poll) => {}
                _ = woken.changed() => {}
            }
            continue;
        }
        for (slot, group) in requests {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { return };
            let (context, subscription) = (context.clone(), current.clone());
            let span_id = span_id();
            let span = delivery_span(id, &group, span_id);
            tokio::spawn(
                async move {
                    attempt(&context, &subscription, group, slot, span_id).await;
                    drop(permit);
                    context.work.raise();
                }
                .instrument(span),
            );
        }
    }
}

/// Gives the subscription its slot rows; whether they are there.
async fn add_slots(context: &Context, id: uuid::Uuid) -> bool {
    match context.database.add_slots(id, context.concurrency).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(subscription = %id, %error, "cannot add webhook request slots");
            false
        }
    }
}

/// Claims the due deliveries of up to `free` requests: each request its group
/// of deliveries and, on PostgreSQL, the slot it holds across instances.
async fn claim(context: &Context, id: uuid::Uuid, free: usize, per_request: usize) -> Vec<(Option<i32>, Vec<Claimed>)> {
    let now = Utc::now();
    let lease = context.sender.leased_until(now);
    let request = SlotRequest { subscription: id, concurrency: context.concurrency, wanted: free };
    let slots = match context.database.take_slots(request, now, lease).await {
        Ok(Some(slots)) if slots.is_empty() => return Vec::new(),
        Ok(slots) => slots,
        Err(error) => {
            tracing::error!(subscription = %id, %error, "cannot take webhook request slots");
            return Vec::new();
        }
    };
    let wanted = slots.as_ref().map_or(free, Vec::len);
    let claimed = match context.database.claim(id, wanted * per_request, now, lease).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::error!(subscription = %id, %error, "cannot claim webhook deliveries");
            Vec::new()
        }
    };
    let groups: Vec<Vec<Claimed>> = claimed.chunks(per_request).map(<[Claimed]>::to_vec).collect();
    let Some(slots) = slots else { return groups.into_iter().map(|group| (None, group)).collect() };
    let unused: Vec<(uuid::Uuid, i32)> = slots[groups.len().min(slots.len())..].iter().map(|s| (id, *s)).collect();
    if let Err(error) = context.database.free_slots(&unused).await {
        tracing::error!(subscription = %id, %error, "cannot free webhook request slots; they lapse with their lease");
    }
    slots.into_iter().map(Some).zip(groups).collect()
}

/// The span of one attempt. Its `traceparent` field names the trace its
/// events share (none when they are of several), and `span_id` the id its
/// requests name as their parent: the telemetry set-up exports the span so.
fn delivery_span(subscription: uuid::Uuid, group: &[Claimed], span_id: Option<[u8; 8]>) -> tracing::Span {
    let first = group.first().and_then(|c| c.event.traceparent);
    let shared =
        first.filter(|t| group.iter().all(|c| c.event.traceparent.map(|o| o.trace_id()) == Some(t.trace_id())));
    let traceparent = shared.map(|t| t.to_string()).unwrap_or_default();
    let span_id = span_id.map(|id| domain::to_hex(&id)).unwrap_or_default();
    tracing::info_span!(
        "webhook_delivery",
        subscription = %subscription,
        events = group.len(),
        traceparent = %traceparent,
        span_id = %span_id,
    )
}

/// Sends one request and hands its outcome to the recorder.
async fn attempt(
    context: &Context,
    subscription: &Subscription,
    claimed: Vec<Claimed>,
    slot: Option<i32>,
    span_id: Option<[u8; 8]>,
) {
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
    let _ = context.settled.send(Settled { subscription: subscription.id, outcomes, gone: answer.gone(), slot });
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
