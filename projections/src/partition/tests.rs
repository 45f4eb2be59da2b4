//! The partition's fold and memory: when rows go out, and who stays in memory.

use chrono::{TimeZone, Utc};
use domain::{EventData, PlayerEvent, PlayerId};

use super::*;

/// A session end of `player`, as the store hands it over decoded.
fn event(player: &str, revision: u64, position: u64) -> RecordedEvent {
    let time = Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).single().unwrap_or_default();
    let event = PlayerEvent {
        id: format!("{player}-{revision}"),
        source: "/test".to_owned(),
        player_id: PlayerId::parse(player).unwrap(),
        time,
        data: EventData::SessionEnded,
        extra: Default::default(),
        extensions: Default::default(),
    };
    RecordedEvent {
        stream: format!("{STREAM_PREFIX}{player}"),
        revision,
        position,
        event_id: uuid::Uuid::nil(),
        source: event.source.clone(),
        id: event.id.clone(),
        event_type: "player.session.ended".to_owned(),
        payload: Arc::from("{}"),
        decoded: Some(Arc::new(event)),
    }
}

fn partition(capacity: usize, idle: Duration, write_behind: Duration) -> Partition {
    let residency = Residency { capacity, idle, write_behind };
    Partition { residency, players: HashMap::new(), swept: Instant::now(), waiting: VecDeque::new(), unwritten: 0 }
}

fn write(all: bool, fold: u64, landed: u64) -> Write {
    Write { all, current: true, fold, landed }
}

/// Folds `events` into `partition`, activating their players afresh.
fn fold(partition: &mut Partition, events: Vec<RecordedEvent>, write: Write) -> Folded {
    partition.activate(&events, Vec::new());
    partition.fold(events, &Decider::default(), write).unwrap()
}

fn rows(folded: &Folded) -> Vec<(&str, u64, u64)> {
    folded.changes.rows.iter().map(|r| (r.player_id.as_str(), r.revision, r.position)).collect()
}

#[test]
fn a_changed_row_waits_and_then_goes_out_once_with_its_latest_fold() {
    let mut partition = partition(100, Duration::from_secs(3600), Duration::from_secs(3600));
    let folded = fold(&mut partition, vec![event("ann", 0, 1), event("bob", 0, 2)], write(false, 1, 0));
    assert!(rows(&folded).is_empty(), "nothing is due an hour early");
    assert_eq!(folded.oldest_unwritten, Some(1));
    assert_eq!(folded.current.len(), 2, "the cache sees every player folded");
    let folded = fold(&mut partition, vec![event("ann", 1, 3)], write(false, 2, 0));
    assert_eq!(folded.oldest_unwritten, Some(1), "ann still waits from her first event");
    let folded = fold(&mut partition, Vec::new(), write(true, 3, 0));
    assert_eq!(rows(&folded), [("ann", 1, 3), ("bob", 0, 2)]);
    assert_eq!((folded.oldest_unwritten, partition.unwritten), (None, 0));
    let folded = fold(&mut partition, Vec::new(), write(true, 4, 0));
    assert!(rows(&folded).is_empty(), "a row goes out once");
}

#[test]
fn with_no_wait_every_changed_row_goes_out_with_its_batch() {
    let mut partition = partition(100, Duration::from_secs(3600), Duration::ZERO);
    let folded = fold(&mut partition, vec![event("ann", 0, 1), event("ann", 1, 2)], write(false, 1, 0));
    assert_eq!(rows(&folded), [("ann", 1, 2)]);
    assert_eq!(folded.oldest_unwritten, None);
}

#[test]
fn rows_waiting_for_more_than_half_the_room_go_out_early() {
    let mut partition = partition(4, Duration::from_secs(3600), Duration::from_secs(3600));
    let events = (0..5).map(|p| event(&format!("p{p}"), 0, p + 1)).collect();
    let folded = fold(&mut partition, events, write(false, 1, 0));
    assert_eq!(rows(&folded), [("p0", 0, 1), ("p1", 0, 2), ("p2", 0, 3)], "the oldest, down to two waiting");
    assert_eq!((folded.oldest_unwritten, partition.unwritten), (Some(4), 2));
}

#[test]
fn a_player_stays_in_memory_until_its_row_is_committed() {
    // Idle at once: only a row not yet stored keeps a player.
    let mut partition = partition(4, Duration::ZERO, Duration::from_secs(3600));
    fold(&mut partition, vec![event("ann", 0, 1), event("bob", 0, 2)], write(false, 1, 0));
    partition.evict(0);
    assert_eq!(partition.players.len(), 2, "rows still waiting");
    fold(&mut partition, Vec::new(), write(true, 2, 0));
    partition.evict(1);
    assert_eq!(partition.players.len(), 2, "rows handed over in fold 2, not committed");
    partition.evict(2);
    assert!(partition.players.is_empty(), "committed: letting go loses nothing");
}
