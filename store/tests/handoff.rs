//! The SQL stores hand this process's own appends to its readers from
//! memory: they must read exactly what the database holds.
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use store::{
    EventStore, ExpectedRevision, NewEvent, RecordedEvent, StreamAppend,
    testing::{PgSchema, TempSqlite},
};

fn bet(player: u32, n: u32) -> domain::PlayerEvent {
    let json = serde_json::json!({
        "specversion": "1.0", "id": format!("b{player}-{n}"), "source": "/casino", "type": "player.bet.placed",
        "subject": player.to_string(), "time": "2026-11-24T12:00:00Z",
        "data": {"bet_id": format!("b{player}-{n}"), "game_id": "g1", "stake": 100 + n, "currency": "EUR"},
    });
    domain::PlayerEvent::from_json(&json).unwrap()
}

fn appends(players: u32, per_player: u32) -> Vec<StreamAppend> {
    (0..players)
        .map(|p| StreamAppend {
            stream: format!("player-{p}"),
            expected: ExpectedRevision::Any,
            events: (0..per_player).map(|n| NewEvent::try_from(bet(p, n)).unwrap()).collect(),
        })
        .collect()
}

/// The events as the file holds them: what decoding them would give, and where.
fn stored(events: &[RecordedEvent]) -> Vec<(String, u64, u64, String, Option<domain::PlayerEvent>)> {
    events
        .iter()
        .map(|e| (e.stream.clone(), e.revision, e.position, e.id.clone(), e.decode().map(|d| d.into_owned())))
        .collect()
}

#[tokio::test]
async fn a_subscription_reads_this_process_appends_as_the_file_holds_them() {
    let db = TempSqlite::new().unwrap();
    let store = db.open().await.unwrap();
    store.append(appends(3, 2)).await.unwrap();
    store.append(appends(2, 3)).await.unwrap();
    // Subscribed once the appends are in: a subscription's read that races a
    // commit (after the file holds it, before memory does) reads the file,
    // which gives the same events, parsed again.
    let mut feed = store.subscribe_all(None, "player-");
    let mut read = Vec::new();
    while read.len() < 8 {
        read.push(feed.next().await.unwrap().unwrap());
    }
    assert!(read.iter().all(|e| e.decoded.is_some()), "handed on from memory, not parsed again");
    let payloads: Vec<_> = read.iter().map(|e| e.payload.clone()).collect();

    let reopened = db.open().await.unwrap();
    let from_file = reopened.read_all(None, 100, "player-").await.unwrap();
    assert!(from_file.iter().all(|e| e.decoded.is_none()), "read from the file");
    assert_eq!(stored(&read), stored(&from_file));
    assert_eq!(payloads, from_file.iter().map(|e| e.payload.clone()).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_deleted_stream_is_not_read_from_memory_either() {
    let db = TempSqlite::new().unwrap();
    let store = db.open().await.unwrap();
    store.append(appends(3, 2)).await.unwrap();
    assert_eq!(store.delete_stream("player-1").await.unwrap(), 2);
    let from_memory = store.read_all(None, 100, "player-").await.unwrap();
    assert!(from_memory.iter().all(|e| e.decoded.is_some()));
    let from_file = db.open().await.unwrap().read_all(None, 100, "player-").await.unwrap();
    assert_eq!(stored(&from_memory), stored(&from_file));
    assert!(from_file.iter().all(|e| e.stream != "player-1"));
    assert_eq!(from_file.len(), 4);
}

/// An erasure in another process deletes a stream this one committed and
/// keeps in memory: a subscription that starts after it must not see it.
#[tokio::test]
async fn a_stream_another_process_deleted_is_not_read_from_memory() {
    let schema = PgSchema::new().await.unwrap();
    let store = schema.open().await.unwrap();
    store.append(appends(3, 2)).await.unwrap();
    assert_eq!(schema.open().await.unwrap().delete_stream("player-1").await.unwrap(), 2);
    let mut feed = store.subscribe_all(None, "player-");
    let mut read = Vec::new();
    while read.len() < 4 {
        read.push(feed.next().await.unwrap().unwrap());
    }
    let streams: Vec<&str> = read.iter().map(|e| e.stream.as_str()).collect();
    assert_eq!(streams, ["player-0", "player-0", "player-2", "player-2"]);
}
