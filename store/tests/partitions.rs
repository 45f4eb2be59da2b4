//! The PostgreSQL store reads an owner's logical partitions from the index:
//! exactly their events, in global order, with rows written without a
//! partition (by an older nudge) among them, and says how far it has read
//! while none of theirs come.
#![allow(clippy::unwrap_used)]

use std::{num::NonZeroU32, time::Duration};

use futures::StreamExt;
use store::{
    EventStore, ExpectedRevision, NewEvent, StreamAppend,
    testing::{self, PgSchema},
};

fn event(player: u32, n: u32) -> NewEvent {
    testing::event("/test", &format!("{player}-{n}"))
}

#[tokio::test]
async fn postgres_an_owner_reads_its_partitions_and_only_theirs() {
    let schema = PgSchema::new().await.unwrap();
    let store = schema.open().await.unwrap();
    let count = NonZeroU32::new(64).unwrap();
    assert_eq!(store.partitions(), Some(count));
    for n in 0..5 {
        let appends = (0..300)
            .map(|p| StreamAppend {
                stream: format!("player-p{p}"),
                expected: ExpectedRevision::Any,
                events: vec![event(p, n)],
            })
            .collect();
        store.append(appends).await.unwrap();
    }
    // One row as an older nudge wrote it, with no partition: every owner reads it.
    let pool = sqlx::PgPool::connect_with(schema.options().unwrap()).await.unwrap();
    sqlx::query("UPDATE events SET partition = NULL WHERE position = 7").execute(&pool).await.unwrap();

    let owned: Vec<u32> = (0..64).filter(|p| p % 3 == 0).collect();
    let all = store.read_all(None, 10_000, "player-").await.unwrap();
    let expected: Vec<u64> = all
        .iter()
        .filter(|e| {
            let player = e.stream.strip_prefix("player-").unwrap();
            owned.contains(&domain::partition_of(player, count)) || e.position == 7
        })
        .map(|e| e.position)
        .collect();
    assert!(expected.len() > 200 && expected.len() < all.len() / 2, "{} of {}", expected.len(), all.len());

    let feed = store.subscribe_partitions(None, "player-", &owned, count);
    let read = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let read = read.clone();
        tokio::spawn(feed.events.for_each(move |e| {
            read.lock().unwrap().push(e.unwrap().position);
            futures::future::ready(())
        }))
    };
    let head = store.head().await.unwrap();
    let mut through = feed.through;
    let reached = tokio::time::timeout(Duration::from_secs(30), through.wait_for(|t| *t >= head)).await;
    assert!(reached.is_ok(), "the feed never said it had read up to the head {head}");
    reader.abort();
    assert_eq!(*read.lock().unwrap(), expected);
}
