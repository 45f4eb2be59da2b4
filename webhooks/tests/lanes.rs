//! A player's lane under concurrency, on the real databases: routing the
//! player's next recommendation while its previous delivery is being settled
//! must leave the new delivery due, whichever transaction commits first.
#![allow(clippy::unwrap_used)]

use chrono::Utc;
use projections::{Changes, ReadModel, Table};
use store::testing::{PgSchema, TempSqlite};
use uuid::Uuid;
use webhooks::{Database, DeliveryQuery, Outcome, Settlement};

mod common;
use common::subscription;

const ROUNDS: u64 = 150;

/// A recommendation of `player` at `position`, committed as the projection
/// commits it (queued in the outbox in the same transaction).
async fn recommend(read_model: &ReadModel, player: &str, position: u64) {
    let recommendation = simulator::recommendation(player, position, "/test");
    let changes = Changes { recommendations: vec![recommendation], ..Changes::default() };
    let fence = read_model.claim_all(Table::Live, "test", std::time::Duration::from_secs(3_600)).await.unwrap();
    read_model.commit(Table::Live, &changes, position, &fence).await.unwrap();
}

fn delivered(subscription: Uuid, player: &str, seq: i64) -> Outcome {
    Outcome {
        seq,
        subscription,
        player_id: player.to_owned(),
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

async fn lanes_hold_under_concurrency(read_model: ReadModel) {
    let database = read_model.webhooks();
    let subscription = subscription(&database).await.id;
    recommend(&read_model, "p", 1).await;
    database.route(100, Utc::now()).await.unwrap();
    let mut head = claim(&database, subscription).await;
    assert_eq!(head.len(), 1);
    for round in 1..=ROUNDS {
        // The next recommendation is routed while the head is settled.
        recommend(&read_model, "p", round + 1).await;
        let (router, recorder) = (database.clone(), database.clone());
        let settled = head[0];
        let route = tokio::spawn(async move { router.route(100, Utc::now()).await.unwrap() });
        let settle =
            tokio::spawn(async move { recorder.settle(&[delivered(subscription, "p", settled)]).await.unwrap() });
        assert_eq!(route.await.unwrap(), 1);
        settle.await.unwrap();
        head = claim(&database, subscription).await;
        assert_eq!(head.len(), 1, "round {round}: the new delivery is not due");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_never_stalls_when_routing_and_settling_race_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    lanes_hold_under_concurrency(ReadModel::connect(&schema.url()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_never_stalls_when_routing_and_settling_race_on_sqlite() {
    let file = TempSqlite::new().unwrap();
    lanes_hold_under_concurrency(ReadModel::connect(&file.url()).await.unwrap()).await;
}

/// Settles `seq` of `player` as delivered and claims what is due then.
async fn settle_and_claim(database: &Database, subscription: Uuid, player: &str, seq: i64) -> Vec<i64> {
    database.settle(&[delivered(subscription, player, seq)]).await.unwrap();
    claim(database, subscription).await
}

/// Deliveries routed together: only the first of each lane is due, the
/// rest wait behind it (or behind one routed earlier), then go in order.
async fn only_the_heads_of_lanes_are_due(read_model: ReadModel) {
    let database = read_model.webhooks();
    let subscription = subscription(&database).await.id;
    recommend(&read_model, "p", 1).await;
    assert_eq!(database.route(100, Utc::now()).await.unwrap(), 1);
    let p1 = claim(&database, subscription).await;
    assert_eq!(p1.len(), 1);
    for (player, position) in [("p", 2), ("q", 3), ("p", 4), ("q", 5)] {
        recommend(&read_model, player, position).await;
    }
    assert_eq!(database.route(100, Utc::now()).await.unwrap(), 4);
    let all = DeliveryQuery { subscription, status: None, after: None, limit: 10 };
    let seqs: Vec<i64> = database.deliveries(&all).await.unwrap().iter().map(|d| d.sequence as i64).collect();
    let [first, p2, q3, p4, q5] = seqs[..] else { panic!("deliveries {seqs:?}") };
    assert_eq!(first, p1[0]);
    assert_eq!(claim(&database, subscription).await, [q3], "p's wait behind the one in flight, q's behind q's first");
    assert_eq!(settle_and_claim(&database, subscription, "p", p1[0]).await, [p2]);
    assert_eq!(settle_and_claim(&database, subscription, "q", q3).await, [q5]);
    assert_eq!(settle_and_claim(&database, subscription, "p", p2).await, [p4]);
    assert_eq!(settle_and_claim(&database, subscription, "p", p4).await, Vec::<i64>::new());
    assert_eq!(settle_and_claim(&database, subscription, "q", q5).await, Vec::<i64>::new());
}

#[tokio::test]
async fn only_the_heads_of_lanes_are_due_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    only_the_heads_of_lanes_are_due(ReadModel::connect(&schema.url()).await.unwrap()).await;
}

#[tokio::test]
async fn only_the_heads_of_lanes_are_due_on_sqlite() {
    let file = TempSqlite::new().unwrap();
    only_the_heads_of_lanes_are_due(ReadModel::connect(&file.url()).await.unwrap()).await;
}
