//! Signals travel between the instances sharing a PostgreSQL schema, only
//! when the transaction that sends one commits, and never to another schema.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use database::{Database, Signal};
use sqlx::postgres::{PgListener, PgPoolOptions};
use store::testing::{PgSchema, TempSqlite};

/// Longest a test waits for a notification before it fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// A plain listener on the leases channel of `schema`, and that channel.
async fn raw(schema: &PgSchema) -> (PgListener, String) {
    let pool = PgPoolOptions::new().max_connections(1).connect(&schema.url()).await.unwrap();
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    let (channel,): (String,) =
        sqlx::query_as("SELECT 'nudge_leases_' || md5(current_schema())").fetch_one(&mut listener).await.unwrap();
    listener.listen(&channel).await.unwrap();
    (listener, channel)
}

/// The payloads `listener` receives before the sentinel `database` sends on
/// `channel` (notifications arrive in the order they were committed).
async fn before_sentinel(listener: &mut PgListener, database: &Database, channel: &str) -> Vec<String> {
    database::query("SELECT pg_notify($1, 'sentinel')").bind(channel).execute(database.writer()).await.unwrap();
    let mut payloads = Vec::new();
    loop {
        let notification = tokio::time::timeout(DEADLINE, listener.recv()).await.unwrap().unwrap();
        if notification.payload() == "sentinel" {
            return payloads;
        }
        payloads.push(notification.payload().to_owned());
    }
}

#[tokio::test]
async fn a_signal_reaches_its_schema_only_and_only_once_its_transaction_commits() {
    let schema = PgSchema::new().await.unwrap();
    let one = Database::connect(&schema.url()).await.unwrap();
    let other = PgSchema::new().await.unwrap();
    let stranger = Database::connect(&other.url()).await.unwrap();
    let (mut listener, channel) = raw(&schema).await;

    stranger.signal(Signal::Leases).await.unwrap();
    assert!(before_sentinel(&mut listener, &one, &channel).await.is_empty(), "another schema's signal arrived");

    let mut tx = one.begin().await.unwrap();
    tx.signal(Signal::Leases).await.unwrap();
    assert!(before_sentinel(&mut listener, &one, &channel).await.is_empty(), "arrived before its commit");
    tx.commit().await.unwrap();
    assert_eq!(before_sentinel(&mut listener, &one, &channel).await, [""]);

    let mut tx = one.begin().await.unwrap();
    tx.signal(Signal::Leases).await.unwrap();
    drop(tx);
    assert!(before_sentinel(&mut listener, &one, &channel).await.is_empty(), "a rolled-back signal arrived");

    one.signal(Signal::Leases).await.unwrap();
    assert_eq!(before_sentinel(&mut listener, &one, &channel).await, [""]);
}

async fn heard(listener: &mut database::Listener) {
    tokio::time::timeout(DEADLINE, listener.next()).await.expect("no signal arrived");
}

#[tokio::test]
async fn a_listener_wakes_on_another_instances_signal() {
    let schema = PgSchema::new().await.unwrap();
    let (one, two) = (Database::connect(&schema.url()).await.unwrap(), Database::connect(&schema.url()).await.unwrap());
    let mut listener = two.listen(Signal::Activation);
    // It counts one once it listens, then one for the signal.
    heard(&mut listener).await;
    let mut tx = one.begin().await.unwrap();
    tx.signal(Signal::Activation).await.unwrap();
    tx.commit().await.unwrap();
    while listener.heard() < 2 {
        heard(&mut listener).await;
    }
    assert_eq!(listener.heard(), 2);
}

#[tokio::test]
async fn a_signal_on_sqlite_is_a_no_op() {
    let file = TempSqlite::new().unwrap();
    let database = Database::connect(&file.url()).await.unwrap();
    let listener = database.listen(Signal::Leases);
    database.signal(Signal::Leases).await.unwrap();
    let mut tx = database.begin().await.unwrap();
    tx.signal(Signal::Activation).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(listener.heard(), 0);
}

/// How many connections listen for any signal of the schema of `database`.
async fn listening(database: &Database) -> i64 {
    let database::Pool::Postgres(pool) = database.writer() else { unreachable!("a PostgreSQL database") };
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' || md5(current_schema()) || '%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    count
}

#[tokio::test]
async fn the_listeners_of_a_database_share_one_connection_and_each_hears_its_own_signal() {
    let schema = PgSchema::new().await.unwrap();
    let (one, two) = (Database::connect(&schema.url()).await.unwrap(), Database::connect(&schema.url()).await.unwrap());
    let (mut keys, mut leases) = (two.listen(Signal::Keys), two.listen(Signal::Leases));
    // Each counts one once the connection listens.
    heard(&mut keys).await;
    heard(&mut leases).await;
    assert_eq!(listening(&one).await, 1, "one connection listens for every signal");

    one.signal(Signal::Keys).await.unwrap();
    heard(&mut keys).await;
    assert_eq!(keys.heard(), 2);
    // A signal of the other kind, sent after: once it is heard, the first is
    // known not to have reached the leases listener.
    one.signal(Signal::Leases).await.unwrap();
    heard(&mut leases).await;
    assert_eq!((keys.heard(), leases.heard()), (2, 2));
}
