//! Many writers appending at once while a live subscriber reads, on SQLite
//! and on PostgreSQL (several stores on one database, as several nudge
//! processes would be).
#![allow(clippy::unwrap_used)]

use std::{collections::HashMap, sync::Arc};

use futures::StreamExt;
use store::{
    EventStore, ExpectedRevision, NewEvent, StreamAppend,
    testing::{PgSchema, TempSqlite},
};
use uuid::Uuid;

/// Many writers (several stores on one database, as several nudge processes would
/// be) append concurrently while a live subscriber reads: it must see every event
/// exactly once, each stream in revision order, positions rising.
async fn concurrent_appenders_are_seen_once_in_order(
    stores: Vec<Arc<dyn EventStore>>,
    subscriber: Arc<dyn EventStore>,
) {
    const WRITERS_PER_STORE: usize = 4;
    const CALLS: usize = 60;
    let writers = stores.len() * WRITERS_PER_STORE;
    let total = writers * CALLS * 2;

    let mut feed = subscriber.subscribe_all(None, "player-");
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(total);
        while seen.len() < total {
            seen.push(feed.next().await.expect("the subscription ended").expect("read failed"));
        }
        seen
    });

    let mut tasks = Vec::new();
    for (w, store) in stores.iter().cycle().take(writers).enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for c in 0..CALLS {
                let stream = format!("player-{}", (w * 7 + c) % 13);
                let events = (0..2)
                    .map(|e| {
                        let id = format!("{w}-{c}-{e}");
                        NewEvent {
                            event_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, id.as_bytes()),
                            source: "/concurrency".to_owned(),
                            id: id.clone(),
                            event_type: "player.bet.placed".to_owned(),
                            time: chrono::Utc::now(),
                            payload: serde_json::json!({ "id": id }).to_string().into(),
                            decoded: None,
                        }
                    })
                    .collect();
                store.append(vec![StreamAppend { stream, expected: ExpectedRevision::Any, events }]).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seen = reader.await.unwrap();

    let mut ids: Vec<&str> = seen.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "every event exactly once");
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position), "positions rise");
    let mut next: HashMap<&str, u64> = HashMap::new();
    for event in &seen {
        let expected = next.entry(&event.stream).or_insert(0);
        assert_eq!(event.revision, *expected, "stream {} in order", event.stream);
        *expected += 1;
    }
    assert!(subscriber.read_all(seen.last().map(|e| e.position), 10, "player-").await.unwrap().is_empty());
}

/// `n` stores on one schema, as `n` nudge processes would have.
async fn postgres_stores(schema: &PgSchema, n: usize) -> Vec<Arc<dyn EventStore>> {
    let mut stores: Vec<Arc<dyn EventStore>> = Vec::new();
    for _ in 0..n {
        stores.push(Arc::new(schema.open().await.unwrap()));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_appenders_never_let_a_subscriber_skip() {
    let schema = PgSchema::new().await.unwrap();
    let subscriber = Arc::new(schema.open().await.unwrap());
    concurrent_appenders_are_seen_once_in_order(postgres_stores(&schema, 4).await, subscriber).await;
}

/// The subscriber appends too: its own commits come from memory, the others'
/// from the database, and none is seen twice or skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_subscriber_that_appends_too_sees_every_event_once_in_order() {
    let schema = PgSchema::new().await.unwrap();
    let stores = postgres_stores(&schema, 3).await;
    let subscriber = Arc::clone(&stores[0]);
    concurrent_appenders_are_seen_once_in_order(stores, subscriber).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_appenders_never_let_a_subscriber_skip() {
    let db = TempSqlite::new().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(db.open().await.unwrap());
    concurrent_appenders_are_seen_once_in_order(vec![store.clone()], store).await;
}
