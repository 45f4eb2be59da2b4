//! SIGKILL the real server while it delivers webhooks: after a restart every
//! recommendation arrives, in order per player, and only what was in flight at
//! the kill arrives twice.

use std::time::Duration;

use serde_json::{Value, json};
use store::testing::{PgSchema, TempSqlite};

use crate::{
    helpers::{BATCH, serve},
    receiver::Receiver,
    webhooks::{check_arrivals, long_session},
};

const ARGS: [&str; 9] = [
    "--allow-private-webhooks",
    "--webhook-retry-schedule",
    "50ms,100ms,200ms",
    "--webhook-timeout",
    "1s",
    "--webhook-connect-timeout",
    "1s",
    "--projection-batch-wait",
    "1ms",
];

async fn delivers_everything_across_a_sigkill(store: String) {
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(150));
    let client = reqwest::Client::new();
    let (mut nudge, address) = serve(&store, &ARGS);
    let body = json!({"url": receiver.url, "types": ["nudge.intervention.recommended"], "handshake": false});
    let created: Value =
        client.post(format!("{address}/v1/webhooks")).json(&body).send().await.unwrap().json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();

    let events: Vec<Value> = (0..20).flat_map(|p| long_session(&format!("k{p}"), 0, 6)).collect();
    let answer = client
        .post(format!("{address}/v1/events"))
        .header("content-type", BATCH)
        .body(Value::Array(events).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    receiver.wait_until("the first deliveries", |a| a.len() >= 15).await;
    nudge.kill();
    // What reached the receiver by now may not have been recorded by nudge.
    let in_flight: Vec<String> =
        receiver.arrivals().iter().flat_map(|a| a.events.iter().map(|(id, _)| id.clone())).collect();

    let (_nudge, address) = serve(&store, &ARGS);
    let feed: Value =
        client.get(format!("{address}/v1/recommendations?limit=1000")).send().await.unwrap().json().await.unwrap();
    let expected = feed["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let player = r["player_id"].as_str().unwrap().to_owned();
            (r["id"].as_str().unwrap().to_owned(), (player, r["triggered_by"]["position"].as_u64().unwrap()))
        })
        .collect();
    receiver
        .wait_until("every recommendation", |_| {
            let taken = receiver.taken();
            feed["recommendations"].as_array().unwrap().iter().all(|r| taken.contains(r["id"].as_str().unwrap()))
        })
        .await;
    assert!(feed["recommendations"].as_array().unwrap().len() >= 60);
    check_arrivals(&receiver.arrivals(), &expected, &secret, &in_flight);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_survive_sigkill_on_sqlite() {
    let db = TempSqlite::new().unwrap();
    delivers_everything_across_a_sigkill(db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_survive_sigkill_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    delivers_everything_across_a_sigkill(schema.url()).await;
}
