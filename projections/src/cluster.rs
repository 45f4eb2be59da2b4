//! Membership: this instance registers and heartbeats in the read-model
//! database, and takes, renews and hands over the logical partitions of each
//! projection, so that they spread evenly over the instances alive
//! (rendezvous hashing: a join or a leave moves about 1/N of them).
//!
//! The runs fold what [`Holding::leases`] says; a partition is handed over only
//! once the run has let go of it (its commit in flight landed first), and a
//! clean stop releases every lease at once.

use std::{
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use database::Signal;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    ProjectionError,
    feature_cache::FeatureCache,
    read_model::{Instance, Lease, ReadModel, Table},
};

/// What this instance holds of one projection, as its runs see it.
pub(crate) struct Holding {
    table: Table,
    /// The leases held: a run folds these, and starts again when they change.
    pub(crate) leases: watch::Sender<Vec<Lease>>,
    /// The partitions the current run folds; empty between runs.
    pub(crate) running: watch::Sender<Vec<u32>>,
    /// The feature rows served from memory, trusted only while these leases are.
    cache: Option<Arc<FeatureCache>>,
}

impl Holding {
    fn new(table: Table) -> Self {
        Self { table, leases: watch::Sender::new(Vec::new()), running: watch::Sender::new(Vec::new()), cache: None }
    }

    /// Forgets leases found fenced, so that no run folds them again before the
    /// next tick takes them afresh (if they are still this instance's to take).
    pub(crate) fn lost(&self, partitions: &[u32]) {
        if let Some(cache) = &self.cache {
            cache.drop_partitions(partitions);
        }
        self.leases.send_if_modified(|leases| {
            let before = leases.len();
            leases.retain(|l| !partitions.contains(&l.partition));
            leases.len() != before
        });
    }

    /// Waits (at most `patience`) until the run no longer folds any of `partitions`.
    async fn let_go(&self, partitions: &[u32], patience: Duration) {
        let mut running = self.running.subscribe();
        let released = running.wait_for(|r| !r.iter().any(|p| partitions.contains(p)));
        if tokio::time::timeout(patience, released).await.is_err() {
            tracing::warn!(projection = self.table.checkpoint(), ?partitions, "run did not let go in time; releasing");
        }
    }
}

/// This instance as a member of the cluster.
pub(crate) struct Member {
    read_model: ReadModel,
    instance: Instance,
    ttl: Duration,
    partitions: NonZeroU32,
    pub(crate) live: Holding,
    pub(crate) rebuild: Holding,
}

impl Member {
    pub(crate) fn new(read_model: ReadModel, instance: Instance, ttl: Duration, partitions: NonZeroU32) -> Self {
        Self {
            read_model,
            instance,
            ttl,
            partitions,
            live: Holding::new(Table::Live),
            rebuild: Holding::new(Table::Rebuild),
        }
    }

    /// Keeps `cache` trusting exactly the live leases this member holds.
    pub(crate) fn with_cache(mut self, cache: Option<Arc<FeatureCache>>) -> Self {
        self.live.cache = cache;
        self
    }

    /// This instance's id.
    pub(crate) fn id(&self) -> &str {
        &self.instance.id
    }

    /// The holding of `table`'s projection.
    pub(crate) fn holding(&self, table: Table) -> &Holding {
        match table {
            Table::Live => &self.live,
            Table::Rebuild => &self.rebuild,
        }
    }

    /// Heartbeats and balances until `shutdown`, then lets every run finish
    /// its commit, releases every lease and leaves.
    pub(crate) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.ttl / 10);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Another instance leaving or joining says so, and this one balances at
        // once instead of at its next tick.
        let mut changes = self.read_model.database().listen(Signal::Leases);
        let mut joined = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
                () = changes.next() => {}
            }
            match self.tick().await {
                Ok(()) if !joined => joined = self.announce().await,
                Ok(()) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot renew or balance the partition leases; retrying");
                    metrics::counter!("nudge_projection_lease_errors_total").increment(1);
                }
            }
        }
        self.leave().await;
    }

    /// Tells the other instances that this one has joined, so that they hand
    /// its share over now; answers whether that was said.
    async fn announce(&self) -> bool {
        match self.read_model.database().signal(Signal::Leases).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, "cannot tell the other instances that this one joined; they see it at their next tick");
                false
            }
        }
    }

    /// One heartbeat, and each projection's leases renewed and balanced.
    async fn tick(&self) -> Result<(), ProjectionError> {
        let alive = self.read_model.heartbeat(&self.instance, self.ttl).await?;
        let desired: Vec<u32> = (0..self.partitions.get())
            .filter(|p| domain::owner_of(*p, &alive) == Some(self.instance.id.as_str()))
            .collect();
        self.balance(&self.live, &desired).await?;
        let rebuilding = self.read_model.has_leases(Table::Rebuild.checkpoint()).await?;
        if rebuilding || !self.rebuild.leases.borrow().is_empty() {
            self.balance(&self.rebuild, if rebuilding { &desired } else { &[] }).await?;
        }
        if rebuilding && !self.rebuild.leases.borrow().is_empty() && self.read_model.promote_rebuild().await? {
            if let Some(cache) = &self.live.cache {
                cache.clear();
            }
            tracing::info!("rebuild replaced the live rows");
        }
        metrics::gauge!("nudge_projection_partitions_owned", "projection" => Table::Live.checkpoint())
            .set(self.live.leases.borrow().len() as f64);
        Ok(())
    }

    /// Renews what `holding` holds, takes what is `desired` and free, and hands
    /// over what another instance should have.
    async fn balance(&self, holding: &Holding, desired: &[u32]) -> Result<(), ProjectionError> {
        let (name, me) = (holding.table.checkpoint(), self.instance.id.as_str());
        let held = holding.leases.borrow().clone();
        let sent = Instant::now();
        let renewed = self.read_model.renew(name, me, &held, self.ttl).await?;
        let (kept, lost): (Vec<Lease>, Vec<Lease>) = held.into_iter().partition(|l| renewed.contains(&l.partition));
        let (mut next, leaving): (Vec<Lease>, Vec<Lease>) =
            kept.into_iter().partition(|l| desired.contains(&l.partition));
        let wanted: Vec<u32> = desired.iter().copied().filter(|p| !next.iter().any(|l| l.partition == *p)).collect();
        let taken = self.read_model.acquire(name, me, &wanted, self.ttl).await?;
        if let Some(cache) = &holding.cache {
            cache.hold(&[next.as_slice(), &taken].concat(), sent, self.ttl);
        }
        if lost.is_empty() && leaving.is_empty() && taken.is_empty() {
            return Ok(());
        }
        metrics::counter!("nudge_projection_leases_lost_total", "projection" => name).increment(lost.len() as u64);
        tracing::info!(
            projection = name,
            took = ?taken.iter().map(|l| l.partition).collect::<Vec<_>>(),
            lost = ?lost.iter().map(|l| l.partition).collect::<Vec<_>>(),
            handing_over = ?leaving.iter().map(|l| l.partition).collect::<Vec<_>>(),
            "partition leases changed"
        );
        next.extend(taken);
        next.sort_by_key(|l| l.partition);
        holding.leases.send_replace(next);
        if !leaving.is_empty() {
            let partitions: Vec<u32> = leaving.iter().map(|l| l.partition).collect();
            holding.let_go(&partitions, self.ttl).await;
            self.read_model.release(name, me, &leaving).await?;
        }
        Ok(())
    }

    /// Stops every run (each lands its commit first), leaves the instances
    /// alive and releases every lease, in that order: the others, told of the
    /// release, take the partitions over at once.
    async fn leave(&self) {
        let mut released = Vec::new();
        for holding in [&self.live, &self.rebuild] {
            let held = holding.leases.send_replace(Vec::new());
            if let Some(cache) = &holding.cache {
                cache.clear();
            }
            let partitions: Vec<u32> = held.iter().map(|l| l.partition).collect();
            holding.let_go(&partitions, self.ttl).await;
            released.push((holding.table, held));
        }
        if let Err(error) = self.read_model.leave(self.id()).await {
            tracing::warn!(%error, "cannot leave the instances alive; the heartbeat expires instead");
        }
        for (table, held) in released {
            if let Err(error) = self.read_model.release(table.checkpoint(), self.id(), &held).await {
                tracing::warn!(%error, "cannot release the partition leases; they expire instead");
            }
        }
        tracing::info!(instance = self.id(), "released every partition lease");
    }
}
