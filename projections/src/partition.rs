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
    read_model::{Changes, ReadModel, RowUpdate, Table},
};

/// The partition a stream's events go to: fixed for a given count.
pub(crate) fn partition_of(stream: &str, partitions: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    stream.hash(&mut hasher);
    (hasher.finish() % partitions.max(1) as u64) as usize
}

/// Events for one partition, in global order, what to decide with, and where to
/// send what changed.
pub(crate) struct Work {
    pub(crate) events: Vec<RecordedEvent>,
    pub(crate) decider: Arc<Decider>,
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
pub(crate) fn spawn(
    index: usize,
    name: &'static str,
    read_model: ReadModel,
    table: Table,
    residency: Residency,
) -> mpsc::Sender<Work> {
    let (tx, mut rx) = mpsc::channel::<Work>(1);
    tokio::spawn(async move {
        let mut partition = Partition { read_model, table, residency, players: HashMap::new(), swept: Instant::now() };
        let gauge = metrics::gauge!("nudge_projection_players_in_memory", "projection" => name, "partition" => index.to_string());
        while let Some(work) = rx.recv().await {
            let result = partition.fold(work.events, &work.decider).await;
            partition.evict();
            gauge.set(partition.players.len() as f64);
            // The runner may have given up on this batch; nothing to do then.
            let _ = work.reply.send(result);
        }
        gauge.set(0.0);
    });
    tx
}

struct Partition {
    read_model: ReadModel,
    table: Table,
    residency: Residency,
    players: HashMap<String, Actor>,
    swept: Instant,
}

impl Partition {
    /// Folds the events into their players, deciding after each, and answers the
    /// rows that changed with the recommendations and answers.
    async fn fold(&mut self, events: Vec<RecordedEvent>, decider: &Decider) -> Result<Changes, ProjectionError> {
        self.activate(&events).await?;
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

    /// Brings the players of `events` that are not in memory in from the read model.
    async fn activate(&mut self, events: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let mut missing: Vec<String> = Vec::new();
        let mut asked = HashSet::new();
        for event in events {
            if let Some(player_id) = event.stream.strip_prefix(STREAM_PREFIX)
                && !self.players.contains_key(player_id)
                && asked.insert(player_id)
            {
                missing.push(player_id.to_owned());
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        for row in self.read_model.load(self.table, &missing).await? {
            let actor =
                Actor { state: row.state, revision: Some(row.revision), position: row.position, last_used: now };
            self.players.insert(row.player_id, actor);
        }
        for player_id in missing {
            self.players.entry(player_id).or_insert_with(|| Actor {
                state: PlayerState::default(),
                revision: None,
                position: 0,
                last_used: now,
            });
        }
        Ok(())
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
