//! A partition: the players routed to it, each a virtual actor activated from
//! the read model on its first event and evicted when idle or crowded out.
//!
//! A player's row is written behind the fold: the first event folded in since
//! the row was last written starts a wait of [`Residency::write_behind`], and
//! the row goes out with the first batch after it (or at once when the run
//! asks for every row). Until then the player stays in memory and holds the
//! checkpoint below that event, so a restart folds it again.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
    time::{Duration, Instant},
};

use domain::STREAM_PREFIX;
use store::RecordedEvent;
use tokio::sync::{mpsc, oneshot};

use crate::{
    ProjectionError,
    feature_cache::CachedRow,
    player::{Decider, Effect, PlayerState},
    read_model::{Changes, PlayerRow, ReadModel, RowUpdate, Table},
};

/// The partition a stream's events go to: fixed for a given count.
pub(crate) fn partition_of(stream: &str, partitions: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    stream.hash(&mut hasher);
    (hasher.finish() % partitions.max(1) as u64) as usize
}

/// Events for one partition, in global order, what to decide with, and where to
/// send what changed.
///
/// The partition first says which of the events' players it does not hold
/// (`missing`), then waits for their stored rows (`stored`) if there were any:
/// the runner reads them for every partition of a batch at once.
pub(crate) struct Work {
    pub(crate) events: Vec<RecordedEvent>,
    pub(crate) decider: Arc<Decider>,
    pub(crate) missing: oneshot::Sender<Vec<String>>,
    pub(crate) stored: oneshot::Receiver<Vec<PlayerRow>>,
    pub(crate) reply: oneshot::Sender<Result<Folded, ProjectionError>>,
    pub(crate) write: Write,
}

/// What a fold answers: the changes to write, the folded rows for the cache,
/// and where the oldest row still waiting starts.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// Recommendations, answers, and the rows handed over to be written.
    pub(crate) changes: Changes,
    /// The folded row of every player the events changed, when asked for.
    pub(crate) current: Vec<(String, CachedRow)>,
    /// Position of the first event of the oldest row not handed over: the
    /// checkpoint stays below it.
    pub(crate) oldest_unwritten: Option<u64>,
}

impl Folded {
    /// Adds another partition's fold.
    fn extend(&mut self, other: Folded) {
        self.changes.extend(other.changes);
        self.current.extend(other.current);
        self.oldest_unwritten = match (self.oldest_unwritten, other.oldest_unwritten) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Which rows a fold hands back to be written, beside what it decided.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Write {
    /// Every row not yet written, due or not: the run is idle or stopping.
    pub(crate) all: bool,
    /// Also the folded row of every player the events changed, for the feature cache.
    pub(crate) current: bool,
    /// This fold's number in the run, counted from 1.
    pub(crate) fold: u64,
    /// The last fold whose rows have been committed: a player whose row was
    /// handed over after it is kept in memory, for its stored row is older.
    pub(crate) landed: u64,
}

/// A player held in memory.
struct Actor {
    state: PlayerState,
    /// Revision of the last event folded in; `None` before the first.
    revision: Option<u64>,
    position: u64,
    last_used: Instant,
    /// Position of the first event folded in since the row was last handed
    /// over to be written; `None` while there is none.
    unwritten: Option<u64>,
    /// The fold that last handed the row over (0: none did).
    handed: u64,
}

impl Actor {
    fn new(state: PlayerState, revision: Option<u64>, position: u64, now: Instant) -> Self {
        Self { state, revision, position, last_used: now, unwritten: None, handed: 0 }
    }
}

/// A row waiting to be written, in the order players first changed.
struct Waiting {
    since: Instant,
    /// The actor's `unwritten` when it was queued: a later one makes this stale.
    position: u64,
    player_id: String,
}

/// How a partition keeps its players.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Residency {
    /// Most players held at once.
    pub(crate) capacity: usize,
    /// A player untouched this long is let go.
    pub(crate) idle: Duration,
    /// How long a changed player's row may wait in memory before it is written.
    pub(crate) write_behind: Duration,
}

/// Starts a partition; it stops when the sender is dropped.
pub(crate) fn spawn(index: usize, name: &'static str, residency: Residency) -> mpsc::Sender<Work> {
    let (tx, mut rx) = mpsc::channel::<Work>(1);
    tokio::spawn(async move {
        let mut partition = Partition {
            residency,
            players: HashMap::new(),
            swept: Instant::now(),
            waiting: VecDeque::new(),
            unwritten: 0,
        };
        let labels = [("projection", name.to_owned()), ("partition", index.to_string())];
        let gauge = metrics::gauge!("nudge_projection_players_in_memory", &labels);
        let unwritten = metrics::gauge!("nudge_projection_rows_unwritten", &labels);
        while let Some(work) = rx.recv().await {
            let missing = partition.missing(&work.events);
            let asked = !missing.is_empty();
            // The runner may have given up on this batch; nothing to do then.
            if work.missing.send(missing).is_err() {
                continue;
            }
            let stored =
                if asked { work.stored.await.map_err(|_| ProjectionError::PartitionStopped) } else { Ok(Vec::new()) };
            let result = stored.and_then(|stored| {
                partition.activate(&work.events, stored);
                partition.fold(work.events, &work.decider, work.write)
            });
            partition.evict(work.write.landed);
            gauge.set(partition.players.len() as f64);
            unwritten.set(partition.unwritten as f64);
            let _ = work.reply.send(result);
        }
        gauge.set(0.0);
        unwritten.set(0.0);
    });
    tx
}

/// Folds one micro-batch across the partitions, in parallel, with one read of
/// the stored rows of the players none of them holds; answers what changed
/// and the rows `write` asks for. Every partition takes part, events or not,
/// so that its rows come due.
pub(crate) async fn fold(
    batch: Vec<RecordedEvent>,
    decider: Arc<Decider>,
    partitions: &[mpsc::Sender<Work>],
    read_model: &ReadModel,
    (table, write): (Table, Write),
) -> Result<Folded, ProjectionError> {
    let mut routed: Vec<Vec<RecordedEvent>> = vec![Vec::new(); partitions.len()];
    for event in batch {
        routed[partition_of(&event.stream, partitions.len())].push(event);
    }
    let mut asked = Vec::new();
    for (partition, events) in partitions.iter().zip(routed) {
        let ((missing, asks), (stored, rows), (reply, answer)) =
            (oneshot::channel(), oneshot::channel(), oneshot::channel());
        let work = Work { events, decider: Arc::clone(&decider), missing, stored: rows, reply, write };
        partition.send(work).await.map_err(|_| ProjectionError::PartitionStopped)?;
        asked.push((asks, stored, answer));
    }
    // Every partition says whom it lacks before any is sent their rows.
    let (mut wanted, mut askers, mut senders, mut answers) = (Vec::new(), HashMap::new(), Vec::new(), Vec::new());
    for (asks, stored, answer) in asked {
        let missing = asks.await.map_err(|_| ProjectionError::PartitionStopped)?;
        if !missing.is_empty() {
            askers.extend(missing.iter().map(|player| (player.clone(), senders.len())));
            wanted.extend(missing);
            senders.push((stored, Vec::new()));
        }
        answers.push(answer);
    }
    if !wanted.is_empty() {
        for row in read_model.load(table, &wanted).await? {
            if let Some(&asker) = askers.get(&row.player_id) {
                senders[asker].1.push(row);
            }
        }
        for (sender, rows) in senders {
            sender.send(rows).map_err(|_| ProjectionError::PartitionStopped)?;
        }
    }
    let mut folded = Folded::default();
    for answer in answers {
        folded.extend(answer.await.map_err(|_| ProjectionError::PartitionStopped)??);
    }
    // Partitions answer in their own order: write recommendations in event order.
    folded.changes.recommendations.sort_by_key(|r| r.triggered_by.position);
    Ok(folded)
}

struct Partition {
    residency: Residency,
    players: HashMap<String, Actor>,
    swept: Instant,
    /// Rows to write, oldest change first; an entry whose actor moved on is stale.
    waiting: VecDeque<Waiting>,
    /// Players whose row is not written yet.
    unwritten: usize,
}

impl Partition {
    /// Folds the events into their players, deciding after each, and answers
    /// the recommendations and answers, the rows that came due (all of them
    /// when `write.all`), and where the oldest row still waiting starts.
    fn fold(&mut self, events: Vec<RecordedEvent>, decider: &Decider, write: Write) -> Result<Folded, ProjectionError> {
        let now = Instant::now();
        let mut changed = HashSet::new();
        let mut folded = Folded::default();
        let changes = &mut folded.changes;
        for recorded in events {
            let Some(player_id) = recorded.stream.strip_prefix(STREAM_PREFIX) else { continue };
            let Some(actor) = self.players.get_mut(player_id) else { continue };
            actor.last_used = now;
            if actor.revision.is_some_and(|r| recorded.revision <= r) {
                // Already folded in: a redelivery changes nothing.
                if recorded.position <= actor.position {
                    continue;
                }
                // A later event at an earlier revision: the stream was erased (by
                // this process or another) and started again: fold it afresh.
                if actor.unwritten.is_some() {
                    self.unwritten -= 1;
                }
                *actor = Actor::new(PlayerState::default(), None, 0, now);
            }
            // A stored event that no longer validates is skipped (logged by
            // `decode`, counted here); the player's later events still fold.
            match recorded.decode() {
                Some(event) => match actor.state.apply(&event, recorded.position, decider) {
                    Some(Effect::Recommended(recommendation)) => changes.recommendations.push(*recommendation),
                    Some(Effect::Answered(answer)) => changes.answers.push(answer),
                    None => {}
                },
                None => metrics::counter!("nudge_projection_events_skipped_total").increment(1),
            }
            actor.revision = Some(recorded.revision);
            actor.position = recorded.position;
            if actor.unwritten.is_none() {
                actor.unwritten = Some(recorded.position);
                self.unwritten += 1;
                let waiting = Waiting { since: now, position: recorded.position, player_id: player_id.to_owned() };
                self.waiting.push_back(waiting);
            }
            if write.current && !changed.contains(player_id) {
                changed.insert(player_id.to_owned());
            }
        }
        for player_id in changed {
            if let Some(actor) = self.players.get(&player_id) {
                let row = CachedRow {
                    revision: actor.revision.unwrap_or_default(),
                    position: actor.position,
                    features: actor.state.fold.features(),
                };
                folded.current.push((player_id, row));
            }
        }
        self.write_due(now, write, &mut folded.changes)?;
        folded.oldest_unwritten = self.waiting.front().map(|waiting| waiting.position);
        Ok(folded)
    }

    /// Hands over the rows waiting since [`Residency::write_behind`] before
    /// `now` (every one, if `write.all`), oldest first, and drops stale entries.
    /// Rows waiting for more than half the partition's room go out early: a
    /// player waiting cannot leave memory.
    fn write_due(&mut self, now: Instant, write: Write, changes: &mut Changes) -> Result<(), ProjectionError> {
        while let Some(front) = self.waiting.front() {
            let stale = self.players.get(&front.player_id).is_none_or(|a| a.unwritten != Some(front.position));
            let crowded = self.unwritten > self.residency.capacity / 2;
            if !stale && !write.all && !crowded && now.duration_since(front.since) < self.residency.write_behind {
                break;
            }
            let Some(waiting) = self.waiting.pop_front() else { break };
            let Some(actor) = self.players.get_mut(&waiting.player_id).filter(|_| !stale) else { continue };
            (actor.unwritten, actor.handed) = (None, write.fold);
            self.unwritten -= 1;
            let revision = actor.revision.unwrap_or_default();
            changes.rows.push(RowUpdate::of(waiting.player_id, revision, actor.position, &actor.state)?);
        }
        Ok(())
    }

    /// The players of `events` not in memory, once each.
    fn missing(&self, events: &[RecordedEvent]) -> Vec<String> {
        let mut asked = HashSet::new();
        events
            .iter()
            .filter_map(|event| event.stream.strip_prefix(STREAM_PREFIX))
            .filter(|player_id| !self.players.contains_key(*player_id) && asked.insert(*player_id))
            .map(str::to_owned)
            .collect()
    }

    /// Brings the players of `events` not in memory in: from their `stored`
    /// rows, afresh for those with none.
    fn activate(&mut self, events: &[RecordedEvent], stored: Vec<PlayerRow>) {
        let now = Instant::now();
        for row in stored {
            self.players.insert(row.player_id, Actor::new(row.state, Some(row.revision), row.position, now));
        }
        for player_id in events.iter().filter_map(|event| event.stream.strip_prefix(STREAM_PREFIX)) {
            if !self.players.contains_key(player_id) {
                self.players.insert(player_id.to_owned(), Actor::new(PlayerState::default(), None, 0, now));
            }
        }
    }

    /// Lets go of idle players, and of the least recently used beyond capacity,
    /// but never of one whose row is not committed yet (after fold `landed`):
    /// letting go writes nothing.
    fn evict(&mut self, landed: u64) {
        let pinned = |actor: &Actor| actor.unwritten.is_some() || actor.handed > landed;
        let now = Instant::now();
        if now.duration_since(self.swept) >= self.residency.idle / 4 {
            self.swept = now;
            let idle = self.residency.idle;
            self.players.retain(|_, actor| pinned(actor) || now.duration_since(actor.last_used) < idle);
        }
        let capacity = self.residency.capacity.max(1);
        if self.players.len() > capacity {
            // Down to 90% of capacity, so this runs once per many batches.
            let keep = capacity - capacity / 10;
            let mut uses: Vec<Instant> = self.players.values().map(|a| a.last_used).collect();
            let cut = uses.len() - keep;
            let (_, oldest_kept, _) = uses.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            self.players.retain(|_, actor| pinned(actor) || actor.last_used >= oldest_kept);
        }
    }
}

#[cfg(test)]
mod tests;
