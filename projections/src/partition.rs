//! A partition: the players routed to it, each a virtual actor activated from
//! the read model on its first event and evicted when idle or crowded out.

use std::{
    collections::{HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
    time::{Duration, Instant},
};

use domain::STREAM_PREFIX;
use store::RecordedEvent;
use tokio::sync::{mpsc, oneshot};

use crate::{
    ProjectionError,
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
    pub(crate) reply: oneshot::Sender<Result<Changes, ProjectionError>>,
}

/// A player held in memory.
struct Actor {
    state: PlayerState,
    /// Revision of the last event folded in; `None` before the first.
    revision: Option<u64>,
    position: u64,
    last_used: Instant,
}

/// How a partition keeps its players.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Residency {
    /// Most players held at once.
    pub(crate) capacity: usize,
    /// A player untouched this long is let go.
    pub(crate) idle: Duration,
}

/// Starts a partition; it stops when the sender is dropped.
pub(crate) fn spawn(index: usize, name: &'static str, residency: Residency) -> mpsc::Sender<Work> {
    let (tx, mut rx) = mpsc::channel::<Work>(1);
    tokio::spawn(async move {
        let mut partition = Partition { residency, players: HashMap::new(), swept: Instant::now() };
        let gauge = metrics::gauge!("nudge_projection_players_in_memory", "projection" => name, "partition" => index.to_string());
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
                partition.fold(work.events, &work.decider)
            });
            partition.evict();
            gauge.set(partition.players.len() as f64);
            let _ = work.reply.send(result);
        }
        gauge.set(0.0);
    });
    tx
}

/// Folds one micro-batch across the partitions, in parallel, with one read of
/// the stored rows of the players none of them holds; answers what changed.
pub(crate) async fn fold(
    batch: Vec<RecordedEvent>,
    decider: Arc<Decider>,
    partitions: &[mpsc::Sender<Work>],
    read_model: &ReadModel,
    table: Table,
) -> Result<Changes, ProjectionError> {
    let mut routed: Vec<Vec<RecordedEvent>> = vec![Vec::new(); partitions.len()];
    for event in batch {
        routed[partition_of(&event.stream, partitions.len())].push(event);
    }
    let mut asked = Vec::new();
    for (partition, events) in partitions.iter().zip(routed).filter(|(_, events)| !events.is_empty()) {
        let ((missing, asks), (stored, rows), (reply, answer)) =
            (oneshot::channel(), oneshot::channel(), oneshot::channel());
        let work = Work { events, decider: Arc::clone(&decider), missing, stored: rows, reply };
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
    let mut changes = Changes::default();
    for answer in answers {
        changes.extend(answer.await.map_err(|_| ProjectionError::PartitionStopped)??);
    }
    // Partitions answer in their own order: write recommendations in event order.
    changes.recommendations.sort_by_key(|r| r.triggered_by.position);
    Ok(changes)
}

struct Partition {
    residency: Residency,
    players: HashMap<String, Actor>,
    swept: Instant,
}

impl Partition {
    /// Folds the events into their players, deciding after each, and answers the
    /// rows that changed with the recommendations and answers.
    fn fold(&mut self, events: Vec<RecordedEvent>, decider: &Decider) -> Result<Changes, ProjectionError> {
        let now = Instant::now();
        let mut changed = HashSet::new();
        let mut changes = Changes::default();
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
                *actor = Actor { state: PlayerState::default(), revision: None, position: 0, last_used: now };
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
            if !changed.contains(player_id) {
                changed.insert(player_id.to_owned());
            }
        }
        for player_id in changed {
            if let Some(actor) = self.players.get(&player_id) {
                let revision = actor.revision.unwrap_or_default();
                changes.rows.push(RowUpdate::of(player_id, revision, actor.position, &actor.state)?);
            }
        }
        Ok(changes)
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
            let actor =
                Actor { state: row.state, revision: Some(row.revision), position: row.position, last_used: now };
            self.players.insert(row.player_id, actor);
        }
        for player_id in events.iter().filter_map(|event| event.stream.strip_prefix(STREAM_PREFIX)) {
            if !self.players.contains_key(player_id) {
                let actor = Actor { state: PlayerState::default(), revision: None, position: 0, last_used: now };
                self.players.insert(player_id.to_owned(), actor);
            }
        }
    }

    /// Lets go of idle players, and of the least recently used beyond capacity.
    /// Their rows are already stored, so letting go writes nothing.
    fn evict(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.swept) >= self.residency.idle / 4 {
            self.swept = now;
            let idle = self.residency.idle;
            self.players.retain(|_, actor| now.duration_since(actor.last_used) < idle);
        }
        let capacity = self.residency.capacity.max(1);
        if self.players.len() > capacity {
            // Down to 90% of capacity, so this runs once per many batches.
            let keep = capacity - capacity / 10;
            let mut uses: Vec<Instant> = self.players.values().map(|a| a.last_used).collect();
            let cut = uses.len() - keep;
            let (_, oldest_kept, _) = uses.select_nth_unstable(cut);
            let oldest_kept = *oldest_kept;
            self.players.retain(|_, actor| actor.last_used >= oldest_kept);
        }
    }
}
