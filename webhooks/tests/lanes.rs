//! A player's lane under concurrency, on the real databases: routing the
//! player's next recommendation while its previous delivery is being settled
//! must leave the new delivery due, whichever transaction commits first.
#![allow(clippy::unwrap_used)]

use chrono::Utc;
use sqlx::{postgres::PgPoolOptions, sqlite::SqlitePoolOptions};
use store::{
    Pools,
    testing::{PgSchema, TempSqlite},
};
use uuid::Uuid;
use webhooks::{Database, EVENT_TYPE, Mode, NewSubscription, Outcome, Settlement, SigningSecret, Subscription};

const ROUNDS: i64 = 150;

async fn subscription(database: &Database) -> Subscription {
    let subscription = NewSubscription {
        url: "https://192.0.2.1/hooks".to_owned(),
        types: vec![EVENT_TYPE.to_owned()],
        kinds: None,
        mode: Mode::Structured,
        description: String::new(),
        handshake: false,
    }
    .create(SigningSecret::generate().unwrap(), Utc::now());
    database.insert_subscription(&subscription).await.unwrap();
    subscription
}

/// A recommendation of player `p` at `position`, and its outbox row.
async fn recommend(database: &Database, position: i64) {
    let statements = [
        "INSERT INTO recommendations (position, id, player_id, kind, created_at, body) \
         VALUES ($1, $2, 'p', 'reality_check', $3, '{}')",
        "INSERT INTO webhook_outbox (position) VALUES ($1)",
    ];
    for sql in statements {
        match database.pools() {
            Pools::Sqlite { writer, .. } => sqlx::query(sql)
                .bind(position)
                .bind(Uuid::now_v7().to_string())
                .bind(Utc::now())
                .execute(writer)
                .await
                .map(drop),
            Pools::Postgres(pool) => sqlx::query(sql)
                .bind(position)
                .bind(Uuid::now_v7().to_string())
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(drop),
        }
        .unwrap();
    }
}

fn delivered(subscription: Uuid, seq: i64) -> Outcome {
    Outcome {
        seq,
        subscription,
        player_id: "p".to_owned(),
        settlement: Settlement::Delivered,
        status: Some(204),
        error: None,
        latency_ms: 1,
        at: Utc::now(),
    }
}

async fn claim(database: &Database, subscription: Uuid) -> Vec<i64> {
    let now = Utc::now();
    let claimed = database.claim(subscription, 10, now, now + chrono::Duration::seconds(60)).await.unwrap();
    claimed.iter().map(|c| c.seq).collect()
}

async fn lanes_hold_under_concurrency(database: Database) {
    let subscription = subscription(&database).await.id;
    recommend(&database, 1).await;
    database.route(100, Utc::now()).await.unwrap();
    let mut head = claim(&database, subscription).await;
    assert_eq!(head.len(), 1);
    for round in 1..=ROUNDS {
        // The next recommendation is routed while the head is settled.
        recommend(&database, round + 1).await;
        let (router, recorder) = (database.clone(), database.clone());
        let settled = head[0];
        let route = tokio::spawn(async move { router.route(100, Utc::now()).await.unwrap() });
        let settle = tokio::spawn(async move { recorder.settle(&[delivered(subscription, settled)]).await.unwrap() });
        assert_eq!(route.await.unwrap(), 1);
        settle.await.unwrap();
        head = claim(&database, subscription).await;
        assert_eq!(head.len(), 1, "round {round}: the new delivery is not due");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_never_stalls_when_routing_and_settling_race_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    let pool = PgPoolOptions::new().max_connections(4).connect_with(schema.options().unwrap()).await.unwrap();
    store::postgres::MIGRATOR.run(&pool).await.unwrap();
    lanes_hold_under_concurrency(Database::new(Pools::Postgres(pool))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_never_stalls_when_routing_and_settling_race_on_sqlite() {
    let file = TempSqlite::new().unwrap();
    let options: sqlx::sqlite::SqliteConnectOptions = file.url().parse().unwrap();
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone().create_if_missing(true))
        .await
        .unwrap();
    store::sqlite::MIGRATOR.run(&writer).await.unwrap();
    let readers = SqlitePoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    lanes_hold_under_concurrency(Database::new(Pools::Sqlite { writer, readers })).await;
}
