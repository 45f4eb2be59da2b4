//! The dispatcher: routes the outbox to the subscriptions, runs one worker per
//! deliverable subscription (so a slow or failing subscriber delays only
//! itself), runs the validation handshakes, settles attempts and keeps the
//! backlog metrics.

mod handshakes;
mod worker;

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{ClientConfig, Database, Outcome, RetrySchedule, Sender, Subscription, WebhookError};

/// How the dispatcher works.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// The HTTP client's settings.
    pub client: ClientConfig,
    /// When failed deliveries are tried again.
    pub schedule: RetrySchedule,
    /// Requests in flight per subscription.
    pub concurrency: usize,
    /// How often an idle dispatcher looks at the outbox and the subscriptions.
    pub poll: Duration,
}

impl Default for DispatcherConfig {
    /// The default client and schedule, 64 requests in flight per subscription,
    /// the outbox looked at every 100 ms when idle.
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            schedule: RetrySchedule::default(),
            concurrency: 64,
            poll: Duration::from_millis(100),
        }
    }
}

/// A settled attempt, for the recorder.
#[derive(Debug)]
pub(crate) struct Settled {
    pub(crate) subscription: Uuid,
    pub(crate) outcomes: Vec<Outcome>,
    /// The subscriber answered `410 Gone`.
    pub(crate) gone: bool,
    /// The request slot it held across instances, freed once it is recorded.
    pub(crate) slot: Option<i32>,
}

/// A wake-up that many tasks wait on; one raised while a task is busy is seen
/// when it next waits.
#[derive(Clone)]
pub(crate) struct Signal(Arc<watch::Sender<u64>>);

impl Signal {
    fn new() -> Self {
        Self(Arc::new(watch::channel(0).0))
    }

    /// Wakes every task waiting on it.
    pub(crate) fn raise(&self) {
        self.0.send_modify(|generation| *generation += 1);
    }

    /// A receiver whose `changed()` completes once the signal is raised.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// The running dispatcher; [`Dispatcher::wake`] has it look at once.
#[derive(Clone)]
pub struct Dispatcher {
    /// Raised when deliveries may be due: routed, settled, retried, queued.
    work: Signal,
    /// Raised when subscriptions may have changed.
    subscriptions: Signal,
}

impl Dispatcher {
    /// Starts routing and delivering until `shutdown`.
    pub fn start(
        database: Database,
        config: DispatcherConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, WebhookError> {
        let sender = Sender::new(config.client.clone())?;
        let (work, subscriptions) = (Signal::new(), Signal::new());
        let (settled_tx, settled_rx) = mpsc::unbounded_channel();
        let context = worker::Context {
            database: database.clone(),
            sender,
            schedule: config.schedule.clone(),
            concurrency: config.concurrency.max(1),
            poll: config.poll,
            settled: settled_tx,
            work: work.clone(),
            subscriptions: subscriptions.clone(),
        };
        tokio::spawn(route(database.clone(), work.clone(), config.poll, shutdown.clone()));
        tokio::spawn(record(database.clone(), settled_rx, work.clone(), subscriptions.clone()));
        tokio::spawn(supervise(context, shutdown.clone()));
        tokio::spawn(measure(database, shutdown));
        Ok(Self { work, subscriptions })
    }

    /// Has the dispatcher look at the subscriptions and the due deliveries now.
    pub fn wake(&self) {
        self.subscriptions.raise();
        self.work.raise();
    }
}

/// Moves the outbox into deliveries: at once while it holds rows, else when the
/// projection has queued more, or every `poll` (another process's projection
/// queues without waking this one).
async fn route(database: Database, work: Signal, poll: Duration, shutdown: CancellationToken) {
    loop {
        match database.route(1_000, Utc::now()).instrument(tracing::info_span!("webhook_route")).await {
            Ok(0) => {}
            Ok(_) => {
                work.raise();
                continue;
            }
            Err(error) => tracing::error!(%error, "cannot route the webhook outbox"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = database.outbox().queued() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Writes settled attempts in batches; keeps them until they are written.
async fn record(
    database: Database,
    mut settled: mpsc::UnboundedReceiver<Settled>,
    work: Signal,
    subscriptions: Signal,
) {
    let mut pending: Vec<Settled> = Vec::new();
    loop {
        if pending.is_empty() {
            match settled.recv().await {
                Some(one) => pending.push(one),
                None => return,
            }
        }
        while pending.len() < 1_000 {
            match settled.try_recv() {
                Ok(one) => pending.push(one),
                Err(_) => break,
            }
        }
        let outcomes: Vec<Outcome> = pending.iter().flat_map(|s| s.outcomes.iter().cloned()).collect();
        let span = tracing::info_span!("webhook_settle", outcomes = outcomes.len());
        if let Err(error) = database.settle(&outcomes).instrument(span).await {
            tracing::error!(%error, "cannot record webhook attempts; trying again");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let slots: Vec<(Uuid, i32)> =
            pending.iter().filter_map(|s| s.slot.map(|slot| (s.subscription, slot))).collect();
        if let Err(error) = database.free_slots(&slots).await {
            tracing::error!(%error, "cannot free webhook request slots; they lapse with their lease");
        }
        for gone in pending.iter().filter(|s| s.gone) {
            let reason = "the receiver answered 410 Gone";
            match database.disable(gone.subscription, reason, Utc::now()).await {
                Ok(()) => tracing::warn!(subscription = %gone.subscription, "webhook subscription disabled: {reason}"),
                Err(error) => tracing::error!(%error, "cannot disable a webhook subscription"),
            }
            subscriptions.raise();
        }
        pending.clear();
        work.raise();
    }
}

/// Keeps one worker per deliverable subscription and runs the handshakes of
/// those waiting for one.
async fn supervise(context: worker::Context, shutdown: CancellationToken) {
    let mut workers: HashMap<Uuid, (watch::Sender<Subscription>, CancellationToken)> = HashMap::new();
    let mut woken = context.subscriptions.subscribe();
    loop {
        match context.database.subscriptions().await {
            Ok(subscriptions) => {
                let current: HashMap<Uuid, Subscription> = subscriptions.into_iter().map(|s| (s.id, s)).collect();
                workers.retain(|id, (_, stop)| {
                    let keep = current.get(id).is_some_and(Subscription::deliverable);
                    if !keep {
                        stop.cancel();
                    }
                    keep
                });
                for subscription in current.values() {
                    if subscription.deliverable() {
                        match workers.get(&subscription.id) {
                            Some((latest, _)) => {
                                latest.send_if_modified(|s| {
                                    let changed = s != subscription;
                                    if changed {
                                        *s = subscription.clone();
                                    }
                                    changed
                                });
                            }
                            None => {
                                let (latest, watched) = watch::channel(subscription.clone());
                                let stop = shutdown.child_token();
                                tokio::spawn(worker::run(context.clone(), watched, stop.clone()));
                                workers.insert(subscription.id, (latest, stop));
                            }
                        }
                    } else if subscription.enabled {
                        handshakes::due(subscription, &context);
                    }
                }
            }
            Err(error) => tracing::error!(%error, "cannot read the webhook subscriptions"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(context.poll * 10) => {}
            _ = woken.changed() => {}
        }
    }
}

/// Publishes the backlog and the age of the oldest pending delivery per
/// subscription, and the outbox length, every few seconds.
async fn measure(database: Database, shutdown: CancellationToken) {
    let mut known: Vec<Uuid> = Vec::new();
    loop {
        if let (Ok(backlog), Ok(outbox)) = (database.backlog().await, database.outbox_len().await) {
            let now = Utc::now();
            for id in known.iter().filter(|id| !backlog.contains_key(id)) {
                metrics::gauge!("nudge_webhook_backlog", "subscription" => id.to_string()).set(0.0);
                metrics::gauge!("nudge_webhook_oldest_pending_seconds", "subscription" => id.to_string()).set(0.0);
            }
            for (id, (count, oldest)) in &backlog {
                let age = (now - *oldest).num_milliseconds().max(0) as f64 / 1_000.0;
                metrics::gauge!("nudge_webhook_backlog", "subscription" => id.to_string()).set(*count as f64);
                metrics::gauge!("nudge_webhook_oldest_pending_seconds", "subscription" => id.to_string()).set(age);
            }
            metrics::gauge!("nudge_webhook_outbox").set(outbox as f64);
            known = backlog.into_keys().collect();
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
