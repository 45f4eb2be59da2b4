//! A statement written once runs alike on SQLite and PostgreSQL: every kind of
//! value binds and reads back, in a transaction and on a pool, and a rolled-back
//! transaction leaves nothing.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use database::{Database, query};
use store::testing::{PgSchema, TempSqlite};

type Row = (i64, i32, f64, bool, String, Option<String>, Vec<u8>, chrono::DateTime<Utc>);

async fn values_round_trip(database: Database) {
    let create = "CREATE TABLE statement_test (i BIGINT NOT NULL, n INTEGER NOT NULL, f DOUBLE PRECISION NOT NULL, \
         b BOOLEAN NOT NULL, t TEXT NOT NULL, o TEXT, x BYTEA NOT NULL, at TIMESTAMPTZ NOT NULL)";
    let create = if database.backend() == database::Backend::Sqlite {
        create.replace("BYTEA", "BLOB")
    } else {
        create.to_owned()
    };
    query(&create).execute(database.writer()).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).single().unwrap();
    let insert = "INSERT INTO statement_test (i, n, f, b, t, o, x, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let bytes = vec![0u8, 1, 255];

    let mut tx = database.begin().await.unwrap();
    let written = query(insert)
        .bind(i64::MAX)
        .bind(-7i32)
        .bind(0.25f64)
        .bind(true)
        .bind("text")
        .bind(None::<&str>)
        .bind(bytes.as_slice())
        .bind(at)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(written, 1);
    let seen: Vec<Row> = query("SELECT i, n, f, b, t, o, x, at FROM statement_test").fetch_all(&mut tx).await.unwrap();
    assert_eq!(seen, vec![(i64::MAX, -7, 0.25, true, "text".to_owned(), None, bytes.clone(), at)]);
    drop(tx);

    let none: Option<Row> =
        query("SELECT i, n, f, b, t, o, x, at FROM statement_test").fetch_optional(database.reader()).await.unwrap();
    assert_eq!(none, None, "a transaction dropped unfinished rolls back");

    let mut tx = database.begin().await.unwrap();
    query(insert)
        .bind(1i64)
        .bind(2i32)
        .bind(3.5f64)
        .bind(false)
        .bind("t".to_owned())
        .bind(Some("o".to_owned()))
        .bind(&bytes)
        .bind(at)
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (i, o): (i64, Option<String>) =
        query("SELECT i, o FROM statement_test WHERE n = $1").bind(2i32).fetch_one(database.reader()).await.unwrap();
    assert_eq!((i, o.as_deref()), (1, Some("o")));
}

#[tokio::test]
async fn statements_run_alike_on_sqlite() {
    let file = TempSqlite::new().unwrap();
    values_round_trip(Database::connect(&file.url()).await.unwrap()).await;
}

#[tokio::test]
async fn statements_run_alike_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    values_round_trip(Database::connect(&schema.url()).await.unwrap()).await;
}

/// Another connection to the file (the event store's writer) cannot write
/// while a read-model transaction is open, even one that has only read so far:
/// the transaction holds the write lock from its start, so it never fails to
/// upgrade its read into a write.
#[tokio::test]
async fn a_sqlite_transaction_holds_the_write_lock_from_its_start() {
    use sqlx::{ConnectOptions, Connection, sqlite::SqliteConnectOptions};
    let file = TempSqlite::new().unwrap();
    let database = Database::connect(&file.url()).await.unwrap();
    let other = || async {
        let options: SqliteConnectOptions = file.url().parse().unwrap();
        options.busy_timeout(std::time::Duration::ZERO).connect().await.unwrap()
    };

    let mut tx = database.begin().await.unwrap();
    let _: Vec<(i64,)> = query("SELECT 1").fetch_all(&mut tx).await.unwrap();
    let mut writer = other().await;
    let refused = writer.begin_with("BEGIN IMMEDIATE").await.map(drop).unwrap_err();
    assert!(refused.to_string().contains("locked"), "{refused}");
    tx.commit().await.unwrap();
    writer.begin_with("BEGIN IMMEDIATE").await.unwrap().commit().await.unwrap();
}

#[tokio::test]
async fn an_unknown_scheme_is_refused_with_its_url() {
    let error = Database::connect("mysql://localhost/nudge").await.unwrap_err();
    assert!(error.to_string().contains("mysql://localhost/nudge"), "{error}");
}

/// Settings given with a PostgreSQL `BEGIN` hold for that transaction alone.
#[tokio::test]
async fn settings_begun_with_hold_for_their_transaction_alone() {
    let schema = PgSchema::new().await.unwrap();
    let database = Database::connect(&schema.url()).await.unwrap();
    let setting = "SELECT current_setting('synchronous_commit'), current_setting('application_name')";
    let settings = [("synchronous_commit", "off".to_owned()), ("application_name", "it's".to_owned())];
    let mut tx = database.begin_with_settings(&settings).await.unwrap();
    let inside: (String, String) = query(setting).fetch_one(&mut tx).await.unwrap();
    assert_eq!(inside, ("off".to_owned(), "it's".to_owned()));
    tx.commit().await.unwrap();
    let after: (String, String) = query(setting).fetch_one(database.writer()).await.unwrap();
    assert_ne!(after.0, "off", "a later transaction on the pool has the server's own");
}
