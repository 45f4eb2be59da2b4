//! Each player's current feature row, in memory, for reads that need no
//! database round trip: filled as this instance folds its own partitions'
//! events, and answered only for partitions it holds under a lease it knows
//! to be current.
//!
//! The rules that keep it from ever answering older data than the read model
//! holds (it may answer newer: rows are written behind the fold, and what it
//! answers is a fold of events already stored):
//! - a partition is trusted only until the instant its lease's last renewal was
//!   *sent*, plus the TTL, minus [`MARGIN`] of the TTL: the database's expiry
//!   is at least that late, and no other instance writes the partition before it;
//! - a player's row is filed as its events are folded, under the epoch of the
//!   lease its run holds: the row a commit writes later is that fold or an
//!   older one, never newer;
//! - losing, handing over or no longer being sure of a partition drops it, and
//!   an erasure or a rebuild's promotion drops what it touches.
//!
//! When it is full, a new player filed takes the place of the player filed
//! longest ago (first in, first out; filing a player again keeps its place).
//! Evicting only removes rows, so it never breaks the rules above.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use domain::Features;

use crate::read_model::Lease;

/// The share of the lease TTL a trusted partition stops being trusted before
/// the renewal would lapse: room for a clock running slower here than in the database.
const MARGIN: u32 = 4;

/// A player's row as the cache answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedRow {
    /// Stream revision of the last event folded in.
    pub revision: u64,
    /// Global position of the last event folded in.
    pub position: u64,
    /// The features.
    pub features: Features,
}

/// One player's entry: the row, the lease epoch it was committed under, and
/// the number its insertion was given in the eviction order.
struct Entry {
    partition: u32,
    epoch: u64,
    row: Arc<CachedRow>,
    inserted: u64,
}

/// A partition held under a lease: its epoch and until when it is trusted.
#[derive(Debug, Clone, Copy)]
struct Trust {
    epoch: u64,
    until: Instant,
}

#[derive(Default)]
struct State {
    players: HashMap<String, Entry>,
    /// Players in the order they were inserted, each with its insertion's
    /// number: the first is evicted first. An item whose player is gone, or
    /// was inserted again since under a later number, is stale and skipped.
    order: VecDeque<(u64, String)>,
    /// The number the next insertion is given.
    next: u64,
    /// By logical partition; `None` for one not trusted.
    trusted: Vec<Option<Trust>>,
}

/// Whether the order's item `(inserted, player_id)` is the player's live insertion.
fn is_live(players: &HashMap<String, Entry>, inserted: u64, player_id: &str) -> bool {
    players.get(player_id).is_some_and(|entry| entry.inserted == inserted)
}

impl State {
    /// Evicts the players filed longest ago until fewer than `capacity` are
    /// held (every player held has a live item in the order).
    fn make_room(&mut self, capacity: usize) {
        while self.players.len() >= capacity {
            let Some((inserted, player_id)) = self.order.pop_front() else { return };
            if is_live(&self.players, inserted, &player_id) {
                self.players.remove(&player_id);
            }
        }
    }

    /// Inserts a player not held, last in the eviction order, and drops the
    /// order's stale items once it holds more than twice `capacity` items.
    fn insert(&mut self, player_id: &str, partition: u32, epoch: u64, row: Arc<CachedRow>, capacity: usize) {
        let inserted = self.next;
        self.next += 1;
        self.players.insert(player_id.to_owned(), Entry { partition, epoch, row, inserted });
        self.order.push_back((inserted, player_id.to_owned()));
        if self.order.len() > capacity.saturating_mul(2) {
            let players = &self.players;
            self.order.retain(|(inserted, id)| is_live(players, *inserted, id));
        }
    }
}

/// The cache of current feature rows. Cheap to share behind an `Arc`.
pub struct FeatureCache {
    state: Mutex<State>,
    /// Marked changed whenever rows are filed or `decided` moves, for reads
    /// waiting on a position.
    filed: tokio::sync::watch::Sender<()>,
    /// Position through which every recommendation and answer folded is committed.
    decided: std::sync::atomic::AtomicU64,
    capacity: usize,
    partitions: std::num::NonZeroU32,
    hits: metrics::Counter,
    misses: metrics::Counter,
}

impl std::fmt::Debug for FeatureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl FeatureCache {
    /// A cache of at most `capacity` players spread over `partitions` logical partitions.
    pub fn new(capacity: usize, partitions: std::num::NonZeroU32) -> Self {
        let state = State { trusted: vec![None; partitions.get() as usize], ..State::default() };
        Self {
            state: Mutex::new(state),
            filed: tokio::sync::watch::Sender::new(()),
            decided: std::sync::atomic::AtomicU64::new(0),
            capacity,
            partitions,
            hits: metrics::counter!("nudge_feature_cache_reads_total", "result" => "hit"),
            misses: metrics::counter!("nudge_feature_cache_reads_total", "result" => "miss"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The player's current row, if cached under a lease still trusted now;
    /// `None` sends the read to the database.
    pub fn get(&self, player_id: &str) -> Option<Arc<CachedRow>> {
        let found = self.lookup(player_id);
        if found.is_some() {
            self.hits.increment(1)
        } else {
            self.misses.increment(1)
        }
        found
    }

    /// The player's current row under a lease still trusted now, uncounted.
    fn lookup(&self, player_id: &str) -> Option<Arc<CachedRow>> {
        let now = Instant::now();
        let state = self.lock();
        state.players.get(player_id).and_then(|entry| {
            let trust = state.trusted.get(entry.partition as usize).copied().flatten()?;
            (trust.epoch == entry.epoch && now < trust.until).then(|| Arc::clone(&entry.row))
        })
    }

    /// Waits until the player's row, trusted, has folded in the event at
    /// `position`, and what the events up to it decided is committed; answers
    /// the row then. Never ends while it does not: the caller bounds the wait.
    pub(crate) async fn reached(&self, player_id: &str, position: u64) -> Arc<CachedRow> {
        let mut filed = self.filed.subscribe();
        loop {
            let decided = self.decided.load(std::sync::atomic::Ordering::Acquire) >= position;
            if let Some(row) = self.lookup(player_id).filter(|row| decided && row.position >= position) {
                self.hits.increment(1);
                return row;
            }
            // The sender lives as long as `self`: `changed` cannot fail here.
            let _ = filed.changed().await;
        }
    }

    /// Every recommendation and answer of the events up to `through` is committed.
    pub(crate) fn decided(&self, through: u64) {
        self.decided.fetch_max(through, std::sync::atomic::Ordering::AcqRel);
        self.filed.send_replace(());
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().players.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Trusts exactly `leases`, each until `renewal_sent + ttl` less the margin,
    /// and drops every other partition with its entries (and entries of an
    /// older epoch of a lease taken again).
    pub(crate) fn hold(&self, leases: &[Lease], renewal_sent: Instant, ttl: Duration) {
        let until = renewal_sent + ttl.saturating_sub(ttl / MARGIN);
        let mut state = self.lock();
        let mut trusted = vec![None; state.trusted.len()];
        for lease in leases {
            if let Some(slot) = trusted.get_mut(lease.partition as usize) {
                *slot = Some(Trust { epoch: lease.epoch, until });
            }
        }
        state.players.retain(|_, entry| {
            trusted.get(entry.partition as usize).copied().flatten().is_some_and(|t| t.epoch == entry.epoch)
        });
        state.trusted = trusted;
    }

    /// Stops trusting `partitions` and drops their entries.
    pub(crate) fn drop_partitions(&self, partitions: &[u32]) {
        let mut state = self.lock();
        for partition in partitions {
            if let Some(slot) = state.trusted.get_mut(*partition as usize) {
                *slot = None;
            }
        }
        state.players.retain(|_, entry| !partitions.contains(&entry.partition));
    }

    /// Stops trusting every partition and drops every entry.
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.players.clear();
        state.order.clear();
        state.trusted.iter_mut().for_each(|slot| *slot = None);
    }

    /// Files the rows of players just folded by a run holding `leases`: only
    /// those of a partition trusted under the same epoch. A player held is
    /// updated in place and keeps its place in the eviction order; a new one,
    /// into a full cache, evicts the player filed longest ago.
    pub(crate) fn fill(&self, rows: &[(String, CachedRow)], leases: &[Lease]) {
        if rows.is_empty() || self.capacity == 0 {
            return;
        }
        let mut state = self.lock();
        for (player_id, row) in rows {
            let partition = domain::partition_of(player_id, self.partitions);
            let Some(lease) = leases.iter().find(|l| l.partition == partition) else { continue };
            let trusted = state.trusted.get(partition as usize).copied().flatten();
            if trusted.is_none_or(|t| t.epoch != lease.epoch) {
                continue;
            }
            let row = Arc::new(row.clone());
            if let Some(entry) = state.players.get_mut(player_id) {
                entry.epoch = lease.epoch;
                entry.row = row;
            } else {
                state.make_room(self.capacity);
                state.insert(player_id, partition, lease.epoch, row, self.capacity);
            }
        }
        drop(state);
        self.filed.send_replace(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(5);

    fn partitions() -> std::num::NonZeroU32 {
        std::num::NonZeroU32::new(8).unwrap_or(std::num::NonZeroU32::MIN)
    }

    /// A folded row of `player` at `revision`, and its lease at `epoch`.
    fn row(player: &str, revision: u64, epoch: u64) -> ((String, CachedRow), Lease) {
        let row = CachedRow { revision, position: revision * 10, features: Features::default() };
        (
            (player.to_owned(), row),
            Lease { partition: domain::partition_of(player, partitions()), epoch, checkpoint: 0 },
        )
    }

    #[test]
    fn a_folded_row_is_answered_while_its_lease_is_trusted() {
        let cache = FeatureCache::new(10, partitions());
        let (update, lease) = row("ann", 3, 1);
        cache.fill(std::slice::from_ref(&update), &[lease]);
        assert_eq!(cache.get("ann"), None, "filled before any lease is trusted");
        cache.hold(&[lease], Instant::now(), TTL);
        cache.fill(std::slice::from_ref(&update), &[lease]);
        assert_eq!(cache.get("ann").map(|r| r.revision), Some(3));
    }

    #[test]
    fn trust_ends_before_the_renewal_sent_would_lapse() {
        let cache = FeatureCache::new(10, partitions());
        let (update, lease) = row("ann", 3, 1);
        // A renewal sent three quarters of a TTL ago: the margin has run out.
        let sent = Instant::now().checked_sub(TTL - TTL / MARGIN).unwrap_or_else(Instant::now);
        cache.hold(&[lease], sent, TTL);
        cache.fill(&[update], &[lease]);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("ann"), None);
    }

    #[test]
    fn a_lease_lost_or_taken_again_drops_its_rows() {
        let cache = FeatureCache::new(10, partitions());
        let (update, lease) = row("ann", 3, 1);
        cache.hold(&[lease], Instant::now(), TTL);
        cache.fill(std::slice::from_ref(&update), &[lease]);
        let again = Lease { epoch: 2, ..lease };
        cache.hold(&[again], Instant::now(), TTL);
        assert_eq!(cache.get("ann"), None, "a row of the older epoch");
        cache.fill(std::slice::from_ref(&update), &[lease]);
        assert_eq!(cache.get("ann"), None, "a fold under the older epoch");
        cache.fill(std::slice::from_ref(&update), &[again]);
        assert!(cache.get("ann").is_some());
        cache.hold(&[], Instant::now(), TTL);
        assert!(cache.is_empty(), "a partition handed over");
        cache.hold(&[again], Instant::now(), TTL);
        cache.fill(std::slice::from_ref(&update), &[again]);
        cache.drop_partitions(&[again.partition]);
        assert_eq!(cache.get("ann"), None, "a partition fenced or erased from");
    }

    #[test]
    fn a_full_cache_evicts_the_player_filed_longest_ago() {
        let cache = FeatureCache::new(2, partitions());
        let (ann, ann_lease) = row("ann", 1, 1);
        let (bob, bob_lease) = row("bob", 1, 1);
        let (cat, cat_lease) = row("cat", 1, 1);
        let (dan, dan_lease) = row("dan", 1, 1);
        assert_ne!(bob_lease.partition, cat_lease.partition, "dropping bob's partition must keep cat");
        let leases = [ann_lease, bob_lease, cat_lease, dan_lease];
        cache.hold(&leases, Instant::now(), TTL);
        cache.fill(&[ann, bob.clone()], &leases);
        let (newer, _) = row("ann", 2, 1);
        cache.fill(&[newer], &leases);
        assert_eq!(cache.get("ann").map(|r| r.revision), Some(2), "a player held is updated in place");
        cache.fill(&[cat], &leases);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("ann"), None, "filed first, and filing it again kept its place");
        assert!(cache.get("bob").is_some() && cache.get("cat").is_some());

        cache.drop_partitions(&[bob_lease.partition]);
        cache.hold(&leases, Instant::now(), TTL);
        cache.fill(&[bob], &leases);
        cache.fill(&[dan], &leases);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("cat"), None, "bob's place from before the drop is stale and skipped");
        assert!(cache.get("bob").is_some() && cache.get("dan").is_some());
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let cache = FeatureCache::new(0, partitions());
        let (ann, ann_lease) = row("ann", 1, 1);
        cache.hold(&[ann_lease], Instant::now(), TTL);
        cache.fill(&[ann], &[ann_lease]);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_eviction_order_stays_bounded() {
        let cache = FeatureCache::new(2, partitions());
        let leases: Vec<Lease> =
            (0..partitions().get()).map(|partition| Lease { partition, epoch: 1, checkpoint: 0 }).collect();
        cache.hold(&leases, Instant::now(), TTL);
        for n in 0..50 {
            let (player, _) = row(&format!("p{n}"), 1, 1);
            cache.fill(&[player], &leases);
            assert_eq!(cache.len(), 1);
            assert!(cache.lock().order.len() <= 5, "stale items are compacted past twice the capacity");
            cache.drop_partitions(&leases.iter().map(|l| l.partition).collect::<Vec<_>>());
            cache.hold(&leases, Instant::now(), TTL);
        }
    }
}
