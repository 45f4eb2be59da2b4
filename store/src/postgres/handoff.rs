//! The pages of a subscription to every event: this process's own commits
//! from memory ([`Recent`]), everything else from the database.
//!
//! Other processes share the database, and one of them may delete a stream
//! (an erasure) whose events this process committed and still keeps. Its next
//! commit notices the moved head and starts the buffer over, but a
//! subscription may read before that. So a subscription takes from memory
//! only what was committed after it started: the head row then (which a
//! delete moves too) bounds what it reads from the database. A stream deleted
//! later is the erasure's to fence: it moves the partition's epoch, so a batch
//! that folded the events read before cannot commit, and the run that starts
//! again reads the database.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use async_trait::async_trait;
use sqlx::postgres::PgPool;
use tokio::sync::OnceCell;

use super::reads;
use crate::{
    StoreError,
    recent::Recent,
    subscription::{PAGE, Page, Pages},
};

/// Every event of the streams named `prefix...`, this process's own handed over.
pub(super) struct Handed {
    pool: PgPool,
    recent: Arc<Recent>,
    prefix: String,
    /// The head row when the subscription first read: memory serves only past it.
    started: OnceCell<u64>,
}

impl Handed {
    pub(super) fn new(pool: PgPool, recent: Arc<Recent>, prefix: &str) -> Self {
        Self { pool, recent, prefix: prefix.to_owned(), started: OnceCell::new() }
    }
}

#[async_trait]
impl Pages for Handed {
    async fn page(&self, after: Option<u64>) -> Result<Page, StoreError> {
        let started = *self.started.get_or_try_init(|| reads::head_row(&self.pool)).await?;
        let after = after.unwrap_or(0);
        if after >= started
            && let Some(events) = self.recent.read(after, PAGE, &self.prefix)
        {
            return Ok(Page { events, through: None });
        }
        Ok(Page { events: reads::read_all(&self.pool, Some(after), PAGE, &self.prefix).await?, through: None })
    }
}

/// How far this process's writer is committing. Its commits notify every
/// process, this one too; the listener leaves those up to here to the writer,
/// which announces them once [`Recent`] holds them. Announced first by the
/// listener, a commit woke the subscription before memory held it, and the
/// subscription read it back from the database. An insert refused because
/// another process moved the head leaves it ahead of that process's
/// notifications; the writer's retry then moves the head past them, and a
/// subscription reads them from the database.
#[derive(Debug, Default)]
pub(super) struct Committing(AtomicU64);

impl Committing {
    /// The writer is about to commit up to `head`.
    pub(super) fn to(&self, head: u64) {
        self.0.fetch_max(head, Ordering::Release);
    }

    /// Whether a notification of `position` is the writer's own to announce.
    pub(super) fn covers(&self, position: u64) -> bool {
        position <= self.0.load(Ordering::Acquire)
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use crate::{EventStore, ExpectedRevision, NewEvent, StreamAppend, testing::PgSchema};

    use super::*;

    /// One bet of each player, made from the event so that it carries it decoded.
    fn bets(players: &[u32], n: u32) -> Vec<StreamAppend> {
        let bet = |player: u32| {
            let json = serde_json::json!({
                "specversion": "1.0", "id": format!("b{player}-{n}"), "source": "/casino",
                "type": "player.bet.placed", "subject": player.to_string(), "time": "2026-11-24T12:00:00Z",
                "data": {"bet_id": format!("b{player}-{n}"), "game_id": "g1", "stake": 100, "currency": "EUR"},
            });
            domain::PlayerEvent::from_json(&json)
                .map(|event| NewEvent::try_from(event).unwrap_or_else(|e| panic!("{e}")))
        };
        players
            .iter()
            .map(|p| StreamAppend {
                stream: format!("player-{p}"),
                expected: ExpectedRevision::Any,
                events: bet(*p).into_iter().collect(),
            })
            .collect()
    }

    /// Where each event of a page came from: memory (`true`) or the database.
    async fn page(pages: &Handed, after: u64) -> Vec<(u64, bool)> {
        let page = pages.page(Some(after)).await.unwrap_or_else(|e| panic!("{e}"));
        page.events.iter().map(|e| (e.position, e.decoded.is_some())).collect()
    }

    #[tokio::test]
    async fn this_process_commits_come_from_memory_and_another_ones_from_the_database() {
        let schema = PgSchema::new().await.unwrap_or_else(|e| panic!("{e}"));
        let store = schema.open().await.unwrap_or_else(|e| panic!("{e}"));
        let other = schema.open().await.unwrap_or_else(|e| panic!("{e}"));
        let append = |store: &crate::postgres::PostgresStore, players: &[u32], n: u32| {
            let (store, appends) = (store.clone(), bets(players, n));
            async move { store.append(appends).await.unwrap_or_else(|e| panic!("{e}")) }
        };
        append(&other, &[9], 0).await;
        let pages = Handed::new(store.pool.clone(), Arc::clone(&store.recent), "player-");
        assert_eq!(page(&pages, 0).await, [(1, false)], "before the subscription started");
        append(&store, &[1, 2, 3], 0).await;
        assert_eq!(page(&pages, 1).await, [(2, true), (3, true), (4, true)]);
        append(&other, &[8], 0).await;
        assert_eq!(page(&pages, 4).await, [(5, false)], "another process's");
        append(&store, &[1, 4], 1).await;
        assert_eq!(page(&pages, 5).await, [(6, true), (7, true)], "after the gap, memory again");
        assert_eq!(page(&pages, 1).await.len(), 6, "behind the gap: the database");
    }

    #[tokio::test]
    async fn a_subscription_reads_this_process_commits_from_memory_though_notified_of_them() {
        use futures::StreamExt;

        let schema = PgSchema::new().await.unwrap_or_else(|e| panic!("{e}"));
        let store = schema.open().await.unwrap_or_else(|e| panic!("{e}"));
        let other = schema.open().await.unwrap_or_else(|e| panic!("{e}"));
        other.append(bets(&[99], 0)).await.unwrap_or_else(|e| panic!("{e}"));
        let mut events = store.subscribe_all(None, "player-");
        let first = events.next().await.and_then(Result::ok).map(|e| e.position);
        assert_eq!(first, Some(1), "the subscription has started");
        for n in 0..100 {
            store.append(bets(&[n % 7], n)).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let read: Vec<(u64, bool)> = events
            .take(100)
            .map(|e| e.map(|e| (e.position, e.decoded.is_some())).unwrap_or_else(|e| panic!("{e}")))
            .collect()
            .await;
        let expected: Vec<(u64, bool)> = (2..102).map(|position| (position, true)).collect();
        assert_eq!(read, expected, "every one from memory: none read back and parsed again");
    }
}
