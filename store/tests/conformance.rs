//! One behaviour suite, run against every event store adapter.
#![allow(clippy::unwrap_used)]
//!
//! SQLite and PostgreSQL get a fresh database per test; KurrentDB runs when
//! `NUDGE_TEST_KURRENTDB_URL` is set and is otherwise skipped (said on stderr).
//! Every test names its own streams and sources, so KurrentDB needs no reset.

use std::sync::Arc;

use futures::StreamExt;
use store::{
    EventStore, ExpectedRevision, NewEvent, StoreError, StreamAppend,
    testing::{self, PgSchema, TempSqlite},
};
use uuid::Uuid;

/// A fresh store plus what keeps its database alive.
struct Fixture {
    store: Arc<dyn EventStore>,
    /// Unique per test: stream names start with it, sources contain it.
    prefix: String,
    _db: Box<dyn std::any::Any + Send>,
}

impl Fixture {
    fn stream(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn event(&self, id: &str) -> NewEvent {
        testing::event(&format!("/test/{}", self.prefix), id)
    }

    fn append(&self, stream: &str, expected: ExpectedRevision, ids: &[&str]) -> StreamAppend {
        StreamAppend { stream: self.stream(stream), expected, events: ids.iter().map(|id| self.event(id)).collect() }
    }
}

async fn sqlite() -> Option<Fixture> {
    let db = TempSqlite::new().ok()?;
    let store = db.open().await.ok()?;
    Some(Fixture { store: Arc::new(store), prefix: "player-".to_owned(), _db: Box::new(db) })
}

async fn postgres() -> Option<Fixture> {
    let schema = PgSchema::new().await.ok()?;
    let store = schema.open().await.ok()?;
    Some(Fixture { store: Arc::new(store), prefix: "player-".to_owned(), _db: Box::new(schema) })
}

#[cfg(feature = "kurrentdb")]
async fn kurrentdb() -> Option<Fixture> {
    let Ok(url) = std::env::var("NUDGE_TEST_KURRENTDB_URL") else {
        eprintln!("skipped: NUDGE_TEST_KURRENTDB_URL is not set (docker compose up kurrentdb gives a server)");
        return None;
    };
    let store = store::kurrentdb::KurrentStore::connect(&url).await.unwrap();
    let prefix = format!("t{}-", Uuid::new_v4().simple());
    Some(Fixture { store: Arc::new(store), prefix, _db: Box::new(()) })
}

/// Opens a fixture; a backend that must run (sqlite, postgres) fails the test when it cannot open.
macro_rules! fixture {
    ($open:ident, $required:expr) => {
        match $open().await {
            Some(f) => f,
            None if $required => panic!("could not open a {} store", stringify!($open)),
            None => return,
        }
    };
}

macro_rules! suite {
    ($backend:ident, required = $required:expr, atomic = $atomic:expr, restarts = $restarts:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn appends_get_revisions_and_positions_and_read_back_in_order() {
                cases::append_and_read(fixture!($backend, $required)).await;
            }

            #[tokio::test]
            async fn expected_revision_is_enforced() {
                cases::expected_revision(fixture!($backend, $required)).await;
            }

            #[tokio::test]
            async fn a_repeated_event_is_stored_once_and_answers_the_original() {
                cases::duplicates(fixture!($backend, $required)).await;
            }

            #[tokio::test]
            async fn reading_a_stream_pages_and_a_missing_stream_is_not_found() {
                cases::read_stream_paging(fixture!($backend, $required)).await;
            }

            #[tokio::test]
            async fn read_all_is_global_order_after_a_position_filtered_by_prefix() {
                cases::read_all(fixture!($backend, $required)).await;
            }

            #[tokio::test]
            async fn subscription_catches_up_then_follows_live() {
                cases::subscription(fixture!($backend, $required)).await;
            }

            #[tokio::test]
            async fn a_deleted_stream_leaves_every_read_and_starts_afresh() {
                cases::delete_stream(fixture!($backend, $required), $restarts).await;
            }

            #[tokio::test]
            async fn a_multi_stream_append_is_all_or_nothing() {
                if $atomic {
                    cases::multi_stream_atomic(fixture!($backend, $required)).await;
                }
            }
        }
    };
}

// `restarts`: a stream appended to after its delete starts again at revision 0
// (KurrentDB goes on from the deleted stream's revisions).
suite!(sqlite, required = true, atomic = true, restarts = true);
suite!(postgres, required = true, atomic = true, restarts = true);
#[cfg(feature = "kurrentdb")]
suite!(kurrentdb, required = false, atomic = false, restarts = false);

mod cases {
    use super::*;

    pub async fn append_and_read(f: Fixture) {
        let first = f.store.append(vec![f.append("a", ExpectedRevision::NoStream, &["1", "2"])]).await.unwrap();
        let second = f.store.append(vec![f.append("a", ExpectedRevision::Exact(1), &["3"])]).await.unwrap();
        let answers: Vec<_> = first.into_iter().chain(second).flatten().collect();
        assert_eq!(answers.iter().map(|a| a.revision).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(answers.windows(2).all(|w| w[0].position < w[1].position));
        assert!(answers.iter().all(|a| !a.duplicate));

        let events = f.store.read_stream(&f.stream("a"), 0, 100).await.unwrap();
        assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        for (event, answer) in events.iter().zip(&answers) {
            assert_eq!((event.revision, event.position), (answer.revision, answer.position));
            assert_eq!(event.stream, f.stream("a"));
        }
        let sent = f.event("2");
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(json(&events[1].payload), json(&sent.payload), "the same JSON, whatever its spacing");
        assert_eq!((events[1].event_id, &events[1].source), (sent.event_id, &sent.source));
        assert_eq!(events[1].event_type, "player.session.started");
    }

    pub async fn expected_revision(f: Fixture) {
        f.store.append(vec![f.append("b", ExpectedRevision::Any, &["1"])]).await.unwrap();
        let no_stream = f.store.append(vec![f.append("b", ExpectedRevision::NoStream, &["2"])]).await;
        assert!(matches!(no_stream, Err(StoreError::WrongExpectedRevision { actual: Some(0), .. })), "{no_stream:?}");
        let stale = f.store.append(vec![f.append("b", ExpectedRevision::Exact(5), &["3"])]).await;
        assert!(matches!(stale, Err(StoreError::WrongExpectedRevision { actual: Some(0), .. })), "{stale:?}");
        let missing = f.store.append(vec![f.append("c", ExpectedRevision::Exact(0), &["4"])]).await;
        assert!(matches!(missing, Err(StoreError::WrongExpectedRevision { actual: None, .. })), "{missing:?}");
        f.store.append(vec![f.append("b", ExpectedRevision::Exact(0), &["5"])]).await.unwrap();

        let ids: Vec<_> = f.store.read_stream(&f.stream("b"), 0, 10).await.unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["1", "5"]);
        assert!(matches!(f.store.read_stream(&f.stream("c"), 0, 10).await, Err(StoreError::StreamNotFound(_))));
    }

    pub async fn duplicates(f: Fixture) {
        let original = f.store.append(vec![f.append("d", ExpectedRevision::Any, &["1", "2"])]).await.unwrap();
        let again = f.store.append(vec![f.append("d", ExpectedRevision::Any, &["2", "3", "3"])]).await.unwrap();
        let (original, again) = (&original[0], &again[0]);
        assert!(again[0].duplicate);
        assert_eq!((again[0].revision, again[0].position), (original[1].revision, original[1].position));
        assert!(!again[1].duplicate);
        assert_eq!(again[1].revision, 2);
        assert!(again[2].duplicate, "the same event twice in one call is stored once");
        assert_eq!(again[2].position, again[1].position);

        // A retried call with a now-stale expected revision still answers as before.
        let retry = f.store.append(vec![f.append("d", ExpectedRevision::NoStream, &["1"])]).await.unwrap();
        assert!(retry[0][0].duplicate);
        assert_eq!(retry[0][0].position, original[0].position);

        let ids: Vec<_> = f.store.read_stream(&f.stream("d"), 0, 10).await.unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["1", "2", "3"]);
    }

    pub async fn read_stream_paging(f: Fixture) {
        let ids: Vec<String> = (0..7).map(|i| i.to_string()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        f.store.append(vec![f.append("p", ExpectedRevision::Any, &ids)]).await.unwrap();
        let page = f.store.read_stream(&f.stream("p"), 2, 3).await.unwrap();
        assert_eq!(page.iter().map(|e| e.revision).collect::<Vec<_>>(), [2, 3, 4]);
        let tail = f.store.read_stream(&f.stream("p"), 5, 100).await.unwrap();
        assert_eq!(tail.iter().map(|e| e.revision).collect::<Vec<_>>(), [5, 6]);
        assert!(f.store.read_stream(&f.stream("p"), 7, 100).await.unwrap().is_empty());
        let missing = f.store.read_stream(&f.stream("nobody"), 0, 100).await;
        assert!(matches!(missing, Err(StoreError::StreamNotFound(_))), "{missing:?}");
    }

    pub async fn read_all(f: Fixture) {
        f.store.append(vec![f.append("x", ExpectedRevision::Any, &["1", "2"])]).await.unwrap();
        let other =
            StreamAppend { stream: format!("other-{}", f.prefix), ..f.append("o", ExpectedRevision::Any, &["o"]) };
        f.store.append(vec![other]).await.unwrap();
        f.store.append(vec![f.append("y", ExpectedRevision::Any, &["3"])]).await.unwrap();

        let all = f.store.read_all(None, 100, &f.prefix).await.unwrap();
        assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        assert!(all.windows(2).all(|w| w[0].position < w[1].position));
        let after = f.store.read_all(Some(all[0].position), 100, &f.prefix).await.unwrap();
        assert_eq!(after.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["2", "3"]);
        let limited = f.store.read_all(None, 2, &f.prefix).await.unwrap();
        assert_eq!(limited.len(), 2);
        assert!(f.store.read_all(Some(all[2].position), 100, &f.prefix).await.unwrap().is_empty());
    }

    pub async fn subscription(f: Fixture) {
        f.store.append(vec![f.append("s", ExpectedRevision::Any, &["1", "2"])]).await.unwrap();
        let mut from_start = f.store.subscribe_all(None, &f.prefix);
        let first = from_start.next().await.unwrap().unwrap();
        assert_eq!(first.id, "1");
        assert_eq!(from_start.next().await.unwrap().unwrap().id, "2");

        let mut from_first = f.store.subscribe_all(Some(first.position), &f.prefix);
        f.store.append(vec![f.append("t", ExpectedRevision::Any, &["3"])]).await.unwrap();
        assert_eq!(from_start.next().await.unwrap().unwrap().id, "3");
        let ids: Vec<String> = from_first.by_ref().take(2).map(|e| e.unwrap().id).collect().await;
        assert_eq!(ids, ["2", "3"]);
    }

    pub async fn delete_stream(f: Fixture, restarts: bool) {
        f.store.append(vec![f.append("gone", ExpectedRevision::Any, &["1", "2"])]).await.unwrap();
        f.store.append(vec![f.append("kept", ExpectedRevision::Any, &["3"])]).await.unwrap();
        f.store.append(vec![f.append("gone", ExpectedRevision::Exact(1), &["4"])]).await.unwrap();

        assert_eq!(f.store.delete_stream(&f.stream("gone")).await.unwrap(), 3);
        let missing = f.store.read_stream(&f.stream("gone"), 0, 10).await;
        assert!(matches!(missing, Err(StoreError::StreamNotFound(_))), "{missing:?}");
        assert_eq!(f.store.delete_stream(&f.stream("gone")).await.unwrap(), 0, "nothing left to delete");
        let ids = |events: Vec<store::RecordedEvent>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(f.store.read_all(None, 100, &f.prefix).await.unwrap()), ["3"]);

        // `Any`: on PostgreSQL the writer plans from the revisions it remembers
        // unless the delete moved the head.
        let again = f.store.append(vec![f.append("gone", ExpectedRevision::Any, &["5"])]).await.unwrap();
        if restarts {
            assert_eq!(again[0][0].revision, 0, "the stream starts afresh");
        }
        assert_eq!(ids(f.store.read_stream(&f.stream("gone"), 0, 10).await.unwrap()), ["5"]);
        assert_eq!(ids(f.store.read_stream(&f.stream("kept"), 0, 10).await.unwrap()), ["3"]);
        assert_eq!(ids(f.store.read_all(None, 100, &f.prefix).await.unwrap()), ["3", "5"]);
        let fed: Vec<String> = f.store.subscribe_all(None, &f.prefix).take(2).map(|e| e.unwrap().id).collect().await;
        assert_eq!(fed, ["3", "5"]);
        assert_eq!(f.store.head().await.unwrap(), again[0][0].position);
    }

    pub async fn multi_stream_atomic(f: Fixture) {
        f.store.append(vec![f.append("m", ExpectedRevision::Any, &["1"])]).await.unwrap();
        let call =
            vec![f.append("n", ExpectedRevision::Any, &["2"]), f.append("m", ExpectedRevision::NoStream, &["3"])];
        assert!(f.store.append(call).await.is_err());
        assert!(matches!(f.store.read_stream(&f.stream("n"), 0, 10).await, Err(StoreError::StreamNotFound(_))));

        let call =
            vec![f.append("n", ExpectedRevision::NoStream, &["2"]), f.append("m", ExpectedRevision::Exact(0), &["3"])];
        let answers = f.store.append(call).await.unwrap();
        assert_eq!(answers.iter().map(|a| a[0].revision).collect::<Vec<_>>(), [0, 1]);
    }
}

/// A stream deleted through one store (one nudge process) and appended to through
/// another that remembers its revisions starts again at revision 0: the delete
/// moved the head, so the appending writer does not plan from memory.
#[tokio::test]
async fn postgres_a_delete_makes_every_writer_forget_the_stream() {
    let schema = PgSchema::new().await.unwrap();
    let (writer, deleter) = (schema.open().await.unwrap(), schema.open().await.unwrap());
    let append = |ids: &[&str]| {
        let events = ids
            .iter()
            .map(|id| NewEvent {
                event_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, id.as_bytes()),
                source: "/erasure".to_owned(),
                id: (*id).to_owned(),
                event_type: "player.session.ended".to_owned(),
                time: chrono::Utc::now(),
                payload: serde_json::json!({ "id": id }).to_string().into(),
                decoded: None,
            })
            .collect();
        vec![StreamAppend { stream: "player-a".to_owned(), expected: ExpectedRevision::Any, events }]
    };
    writer.append(append(&["1", "2"])).await.unwrap();
    writer.append(append(&["3"])).await.unwrap();
    assert_eq!(deleter.delete_stream("player-a").await.unwrap(), 3);
    let again = writer.append(append(&["4"])).await.unwrap();
    assert_eq!(again[0][0].revision, 0);
    let stored: Vec<u64> = writer.read_stream("player-a", 0, 10).await.unwrap().iter().map(|e| e.revision).collect();
    assert_eq!(stored, [0]);
}

/// KurrentDB has no unique index: an append checks the stream's last 1,000
/// events for a repeat, so one within them is stored once (the suite above),
/// and one sent again after 1,000 more events of the same player is stored a
/// second time, as docs/DESIGN.md ("Idempotent ingest") says.
#[cfg(feature = "kurrentdb")]
#[tokio::test]
async fn kurrentdb_stores_a_repeat_from_beyond_its_dedupe_window_again() {
    let Some(f) = kurrentdb().await else { return };
    f.store.append(vec![f.append("w", ExpectedRevision::NoStream, &["first"])]).await.unwrap();
    let between: Vec<String> = (0..1_000).map(|i| format!("b{i}")).collect();
    let between: Vec<&str> = between.iter().map(String::as_str).collect();
    f.store.append(vec![f.append("w", ExpectedRevision::Any, &between)]).await.unwrap();
    let again = f.store.append(vec![f.append("w", ExpectedRevision::Any, &["first"])]).await.unwrap();
    assert!(!again[0][0].duplicate);
    assert_eq!(again[0][0].revision, 1_001);
    let within = f.store.append(vec![f.append("w", ExpectedRevision::Any, &["b999"])]).await.unwrap();
    assert!(within[0][0].duplicate, "a repeat within the window is stored once");
}
