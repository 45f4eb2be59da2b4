//! The training set, built by replaying every player stream through the same
//! [`PlayerFeatures`] fold the projection runs: one point at each session end and
//! each succeeded deposit, with its features as of that event only, labelled from
//! what the player did afterwards.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use domain::{EventData, PlayerEvent, PlayerFeatures, STREAM_PREFIX};
use store::{EventStore, StoreError};
use tokio::sync::mpsc;

use crate::{
    MlError,
    inputs::{INPUTS, inputs},
};

const HOUR: i64 = 3_600_000;
/// A point is harm-positive when the player excludes themselves within this.
pub const HARM_HORIZON: i64 = 7 * 24 * HOUR;
/// A point is churn-positive when the player stops playing within this: the
/// last session start before a quiet spell long enough to be a stop (see
/// [`stop_quiet`]) comes within it.
pub const CHURN_HORIZON: i64 = 7 * 24 * HOUR;
/// The shortest quiet spell after a session start that counts as stopping.
pub const CHURN_QUIET: i64 = 7 * 24 * HOUR;
/// A quiet spell counts as stopping only when it is also this many times the
/// player's usual gap between session starts.
pub const CHURN_QUIET_GAPS: i64 = 4;
/// Games kept per category in the catalogue.
const GAMES_PER_CATEGORY: usize = 10;
/// Events read from the store at a time.
const PAGE: usize = 5_000;

/// One sample: a player's model inputs right after an event, and what followed.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The player's index in the replay.
    pub player: u32,
    /// The event's time, in milliseconds since the epoch.
    pub time: i64,
    /// The event's global position.
    pub position: u64,
    /// The model inputs as of the event.
    pub inputs: [f64; INPUTS],
    /// Excluded themselves within 7 days; unknown when less than 7 days of data
    /// follow (a later exclusion could not be seen, so a negative would be a guess).
    pub harm: Option<bool>,
    /// Stopped playing within 7 days (see [`stops`]); unknown when the data that
    /// follow cannot tell, or when the player excludes themselves before it is told.
    pub churn: Option<bool>,
}

/// Every point of a replay, and what the replay saw.
#[derive(Debug, Clone, Default)]
pub struct TrainingSet {
    /// The points, in global order.
    pub points: Vec<Point>,
    /// Positions of the first and the last event replayed.
    pub positions: (u64, u64),
    /// Events replayed.
    pub events: u64,
    /// Stored events that did not read as player events, left out.
    pub unreadable: u64,
    /// Players seen.
    pub players: usize,
    /// The latest event time, in milliseconds since the epoch.
    pub end: i64,
    /// Per game category, its games by how many players launched them, most first.
    pub games: BTreeMap<String, Vec<String>>,
    /// Each player's id, by the index the points carry.
    pub player_ids: Vec<String>,
    /// Each player's first self-exclusion, in milliseconds since the epoch.
    pub exclusions: Vec<Option<i64>>,
}

impl TrainingSet {
    /// The training set of `events`, taken as in global order from position 1
    /// (for sets built in memory rather than read from a store).
    pub fn of(events: &[PlayerEvent]) -> Self {
        let mut replay = Replay::new();
        for (position, event) in (1..).zip(events) {
            replay.push(position, event);
        }
        replay.finish()
    }
}

/// What the replay keeps of one player.
#[derive(Default)]
struct Player {
    fold: PlayerFeatures,
    session_starts: Vec<i64>,
    exclusions: Vec<i64>,
    games: HashSet<String>,
}

/// A training set in the making: fed events in global order, then finished.
#[derive(Default)]
struct Replay {
    index: HashMap<String, u32>,
    players: Vec<Player>,
    categories: HashMap<String, String>,
    set: TrainingSet,
}

impl Replay {
    /// An empty replay.
    fn new() -> Self {
        Self::default()
    }

    /// Folds one event in; events must come in global order.
    fn push(&mut self, position: u64, event: &PlayerEvent) {
        let next = self.players.len() as u32;
        let index = *self.index.entry(event.player_id.as_str().to_owned()).or_insert(next);
        if index == next {
            self.players.push(Player::default());
        }
        let player = &mut self.players[index as usize];
        player.fold.apply(event);
        let time = event.time.timestamp_millis();
        match &event.data {
            EventData::SessionStarted { .. } => player.session_starts.push(time),
            EventData::SelfExcluded { .. } => player.exclusions.push(time),
            EventData::GameLaunched { game_id, category } if player.games.insert(game_id.clone()) => {
                self.categories.entry(game_id.clone()).or_insert_with(|| category.clone());
            }
            _ => {}
        }
        if matches!(event.data, EventData::SessionEnded | EventData::DepositSucceeded { .. }) {
            let inputs = inputs(&player.fold.features());
            self.set.points.push(Point { player: index, time, position, inputs, harm: None, churn: None });
        }
        if self.set.events == 0 {
            self.set.positions.0 = position;
        }
        self.set.positions.1 = position;
        self.set.events += 1;
        self.set.end = self.set.end.max(time);
    }

    /// Notes a stored event that did not read as a player event.
    fn skip(&mut self) {
        self.set.unreadable += 1;
    }

    /// Labels every point from its player's later events, and ranks the games.
    fn finish(mut self) -> TrainingSet {
        let end = self.set.end;
        for point in &mut self.set.points {
            let player = &self.players[point.player as usize];
            let t = point.time;
            let within = |times: &[i64], horizon: i64| {
                let after = times.partition_point(|x| *x <= t);
                times.get(after).is_some_and(|x| *x <= t + horizon)
            };
            point.harm = (t + HARM_HORIZON <= end).then(|| within(&player.exclusions, HARM_HORIZON));
            point.churn = stops(&player.session_starts, &player.exclusions, t, end);
        }
        let mut players_per_game: HashMap<&str, usize> = HashMap::new();
        for game in self.players.iter().flat_map(|p| &p.games) {
            *players_per_game.entry(game).or_default() += 1;
        }
        let mut ranked: Vec<(&str, usize)> = players_per_game.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (game, _) in ranked {
            if let Some(category) = self.categories.get(game) {
                let games = self.set.games.entry(category.clone()).or_default();
                if games.len() < GAMES_PER_CATEGORY {
                    games.push(game.to_owned());
                }
            }
        }
        self.set.players = self.players.len();
        self.set.exclusions = self.players.iter().map(|p| p.exclusions.first().copied()).collect();
        self.set.player_ids = vec![String::new(); self.players.len()];
        for (id, index) in self.index {
            if let Some(slot) = self.set.player_ids.get_mut(index as usize) {
                *slot = id;
            }
        }
        self.set
    }
}

/// How long a player whose latest session start is `last`, the `count`-th since
/// their first at `first`, must start none to have stopped playing: at least
/// [`CHURN_QUIET`], and [`CHURN_QUIET_GAPS`] times their mean gap between
/// starts so far, so that a player who often pauses for a week has not
/// stopped by pausing for one. `nudge backtest` counts a stop the same way.
pub fn stop_quiet(first: i64, last: i64, count: usize) -> i64 {
    let usual = if count > 1 { (last - first).max(0) / (count as i64 - 1) } else { 0 };
    CHURN_QUIET.max(usual.saturating_mul(CHURN_QUIET_GAPS))
}

/// Whether a player active at `t` stops playing within [`CHURN_HORIZON`]: their
/// latest session start by `t`, or one of the session `starts` (in time order)
/// within the horizon, is followed by none for longer than [`stop_quiet`].
/// `None` when the data, ending at `end`, cannot tell, when no session started
/// by then, or when the player excludes themselves before it is told (that is
/// no churn).
pub fn stops(starts: &[i64], exclusions: &[i64], t: i64, end: i64) -> Option<bool> {
    let first = *starts.first()?;
    let quiet_after = |i: usize| stop_quiet(first, starts[i], i + 1);
    let after = starts.partition_point(|s| *s <= t);
    // A start by `t` whose quiet spell already ran out before it cannot be the stop: the player is back.
    let mut latest = after.checked_sub(1).filter(|l| starts[*l] + quiet_after(*l) >= t);
    let mut told = None;
    for (i, start) in starts.iter().enumerate().skip(after) {
        if let Some(l) = latest
            && start - starts[l] > quiet_after(l)
        {
            told = Some((true, starts[l] + quiet_after(l)));
            break;
        }
        if *start > t + CHURN_HORIZON {
            told = Some((false, *start));
            break;
        }
        latest = Some(i);
    }
    let (stopped, at) = match (told, latest) {
        (Some(told), _) => told,
        (None, Some(l)) if end - starts[l] > quiet_after(l) => (true, starts[l] + quiet_after(l)),
        _ => return None,
    };
    (!exclusions.iter().any(|e| (t + 1..=at).contains(e))).then_some(stopped)
}

/// Replays every player stream of `store` up to its head at the start, telling
/// `progress` (events replayed, head) after each page.
pub async fn replay(store: Arc<dyn EventStore>, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<TrainingSet, MlError> {
    let mut replay = Replay::new();
    for_each_event(store, progress, |position, event| match event {
        Some(event) => replay.push(position, event),
        None => replay.skip(),
    })
    .await?;
    Ok(replay.finish())
}

/// Hands every player event of `store` up to its head at the start to `visit`
/// in global order (`None` for a stored event that no longer validates, skipped
/// by the rule of [`store::RecordedEvent::decode`]),
/// telling `progress` (events read, head) after each page. The next page is
/// read while `visit` works through the last.
pub async fn for_each_event(
    store: Arc<dyn EventStore>,
    progress: &(dyn Fn(u64, u64) + Sync),
    mut visit: impl FnMut(u64, Option<&PlayerEvent>),
) -> Result<(), MlError> {
    let head = store.head().await?;
    let (pages, mut received) = mpsc::channel(2);
    let reader = tokio::spawn(async move {
        let mut after = None;
        while after.is_none_or(|p| p < head) {
            let page = store.read_all(after, PAGE, STREAM_PREFIX).await?;
            if page.is_empty() {
                break;
            }
            after = page.last().map(|r| r.position);
            if pages.send(page).await.is_err() {
                break;
            }
        }
        Ok::<_, StoreError>(())
    });
    while let Some(page) = received.recv().await {
        for recorded in page.iter().filter(|r| r.position <= head) {
            visit(recorded.position, recorded.decode().as_deref());
        }
        progress(page.last().map_or(head, |r| r.position.min(head)), head);
    }
    reader.await.map_err(|e| MlError::Reader(e.to_string()))??;
    Ok(())
}

#[cfg(test)]
mod tests;
