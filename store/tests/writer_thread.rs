//! The group-commit writer runs on a thread of its own: appends commit while
//! the runtime that opened the store runs nothing at all, as they must while
//! a server's runtime is busy with requests.
#![allow(clippy::unwrap_used)]

use std::{future::Future, time::Duration};

use store::{
    EventStore, ExpectedRevision, StreamAppend,
    testing::{self, PgSchema, TempSqlite},
};
use tokio::runtime::{Builder, Runtime};

/// Far longer than any append takes: only a writer that never runs reaches it.
const NEVER: Duration = Duration::from_secs(60);

fn runtime() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// Opens a store with `open` on a runtime that then stops running, and appends
/// to it from another: both calls commit, in order.
fn appends_commit_while_the_opening_runtime_is_stopped<S, F>(open: impl FnOnce() -> F)
where
    S: EventStore,
    F: Future<Output = S>,
{
    let opening = runtime();
    let store = opening.block_on(open());
    // From here on nothing drives `opening`: no task spawned on it runs.
    let appended = runtime().block_on(async {
        let mut positions = Vec::new();
        for n in 0..2 {
            let append = store.append(vec![StreamAppend {
                stream: "player-p1".to_owned(),
                expected: ExpectedRevision::Any,
                events: vec![testing::event("/writer-thread", &format!("e{n}"))],
            }]);
            let answer = tokio::time::timeout(NEVER, append).await.expect("the append was never answered");
            positions.push(answer.unwrap()[0][0].position);
        }
        positions
    });
    assert!(appended[0] < appended[1], "positions rise: {appended:?}");
    drop(store);
    drop(opening);
}

#[test]
fn sqlite_appends_commit_while_the_opening_runtime_is_stopped() {
    let temp = TempSqlite::new().unwrap();
    appends_commit_while_the_opening_runtime_is_stopped(|| async { temp.open().await.unwrap() });
}

#[test]
fn postgres_appends_commit_while_the_opening_runtime_is_stopped() {
    let schema = runtime().block_on(PgSchema::new()).unwrap();
    appends_commit_while_the_opening_runtime_is_stopped(|| async { schema.open().await.unwrap() });
}
