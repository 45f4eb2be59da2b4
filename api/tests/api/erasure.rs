//! A player's erasure: after `DELETE /v1/players/{id}` no answer of the API, no
//! read-model row, no training set and no webhook (pending, dead or replayed)
//! holds their erased events; another player is untouched; the player's next
//! event starts a new stream, projected afresh.

use std::{collections::HashSet, sync::Arc};

use serde_json::{Value, json};

use crate::{
    helpers::{BATCH, TestApp, event, problem, projected},
    receiver::Receiver,
    webhooks::{long_session, post_projected, recommendations, subscribe},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_player_is_gone_from_every_answer_on_sqlite() {
    erased_everywhere(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_player_is_gone_from_every_answer_on_postgres() {
    erased_everywhere(TestApp::postgres().await).await;
}

async fn erased_everywhere(app: TestApp) {
    let mut receiver = Receiver::start().await;
    let (webhook, _) = subscribe(&app, &receiver, json!({"handshake": false})).await;
    post_projected(&app, long_session("alice", 0, 5)).await;
    post_projected(&app, long_session("bob", 0, 5)).await;
    let before = recommendations(&app).await;
    let of = |player: &str| before.iter().filter(|(_, (p, _))| p == player).count();
    assert!(of("alice") > 0 && of("bob") > 0, "{before:?}");
    receiver.wait_until("every recommendation", |_| before.keys().all(|id| receiver.taken().contains(id))).await;

    // With the subscriber down, alice's next recommendations wait as pending deliveries.
    receiver.stop().await;
    post_projected(&app, long_session("alice", 1, 5)).await;
    wait_for_deliveries(&app, &webhook, |deliveries| {
        deliveries.iter().any(|d| d["player_id"] == "alice" && d["status"] == "pending")
    })
    .await;

    let erased = app.client.delete(format!("{}/v1/players/alice", app.address)).send().await.unwrap();
    assert_eq!(erased.status(), 200);
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["events_deleted"], 32, "two sessions of 16 events: {erased}");
    assert!(erased["id"].is_string() && erased["erased_at"].is_string(), "{erased}");
    assert!(!erased.to_string().contains("alice"), "the record holds nothing personal: {erased}");

    problem(app.get("/v1/players/alice/events").await, 404).await;
    problem(app.get("/v1/players/alice/features").await, 404).await;
    let page: Value = app.get("/v1/players/alice/recommendations").await.json().await.unwrap();
    assert_eq!(page["recommendations"], json!([]));
    let after = recommendations(&app).await;
    assert!(after.values().all(|(player, _)| player == "bob"), "{after:?}");
    assert_eq!(after.len(), of("bob"), "bob's recommendations are all kept");
    assert!(app.read_model.get("alice").await.unwrap().is_none());
    let deliveries = wait_for_deliveries(&app, &webhook, |_| true).await;
    assert!(deliveries.iter().all(|d| d["player_id"] == "bob"), "{deliveries:?}");

    let mut seen = HashSet::new();
    ml::for_each_event(Arc::clone(&app.store), &|_, _| {}, |_, event| {
        seen.extend(event.map(|e| e.player_id.to_string()));
    })
    .await
    .unwrap();
    assert_eq!(seen, HashSet::from(["bob".to_owned()]), "the training replay sees bob's events only");

    // Back up, the subscriber gets a replay of bob's recommendations only.
    receiver.restart().await;
    let arrived = receiver.arrivals().len();
    let replay = app.post(&format!("/v1/webhooks/{webhook}/replay"), &json!({"since": "2026-11-20T00:00:00Z"})).await;
    assert_eq!(replay.json::<Value>().await.unwrap(), json!({"queued": of("bob")}));
    receiver
        .wait_until("the replay", |a| a[arrived..].iter().map(|a| a.events.len()).sum::<usize>() >= of("bob"))
        .await;
    let subjects: HashSet<String> = receiver.arrivals()[arrived..]
        .iter()
        .flat_map(|a| a.events.iter().map(|(_, subject)| subject.clone()))
        .collect();
    assert_eq!(subjects, HashSet::from(["bob".to_owned()]));

    let bob: Value = app.get("/v1/players/bob/events?limit=1000").await.json().await.unwrap();
    assert_eq!(bob["events"].as_array().map(Vec::len), Some(16));
    assert_eq!(app.get("/v1/players/bob/features").await.status(), 200);

    // Alice comes back: a new stream, from revision 0, projected from nothing.
    let answer: Value = app
        .post_json(BATCH, &json!([event("again", "alice", "player.session.started", json!({"channel": "web"}))]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["revision"], 0, "{answer}");
    let position = answer["results"][0]["position"].as_u64().unwrap();
    let features = app.get(&format!("/v1/players/alice/features?min_position={position}")).await;
    assert_eq!(features.status(), 200);
    let features: Value = features.json().await.unwrap();
    assert_eq!((&features["revision"], &features["position"]), (&json!(0), &json!(position)), "{features}");
    // The stored row, once written (rows are written behind the fold).
    projected(&app.client, &app.address).await;
    let state = app.read_model.get("alice").await.unwrap().unwrap().state;
    assert_eq!(state.recent, domain::Recent::default(), "nothing of the erased events is remembered");
    let events: Value = app.get("/v1/players/alice/events").await.json().await.unwrap();
    assert_eq!(events["events"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_erasure_record_names_the_key_that_asked_and_no_player() {
    let app = TestApp::sqlite().await;
    let key = app.keys.create("dpo", &[api::services::keys::Scope::Admin], chrono::Utc::now()).await.unwrap();
    let erase = || app.client.delete(format!("{}/v1/players/nobody", app.address)).bearer_auth(&key.secret).send();
    let first: Value = erase().await.unwrap().json().await.unwrap();
    assert_eq!((&first["events_deleted"], &first["api_key_id"]), (&json!(0), &json!(key.key.id.to_string())));
    let second: Value = erase().await.unwrap().json().await.unwrap();
    assert_ne!(first["id"], second["id"], "erasing again is answered, and recorded, again");

    let rows: Vec<(String, i64, i64, Option<String>)> =
        database::query("SELECT id, erased_at, events_deleted, api_key_id FROM erasures ORDER BY id")
            .fetch_all(app.read_model.database().reader())
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, first["id"].as_str().unwrap());
    assert!(!format!("{rows:?}").contains("nobody"));
    problem(
        app.client
            .delete(format!("{}/v1/players/not%20valid", app.address))
            .bearer_auth(&key.secret)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
}

/// Waits (a minute at most) until the subscription's deliveries match `done`; answers them.
async fn wait_for_deliveries(app: &TestApp, webhook: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..600 {
        let page: Value = app.get(&format!("/v1/webhooks/{webhook}/deliveries?limit=1000")).await.json().await.unwrap();
        let deliveries = page["deliveries"].as_array().cloned().unwrap_or_default();
        if done(&deliveries) {
            return deliveries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the deliveries did not get there within a minute");
}
