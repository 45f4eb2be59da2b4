//! Webhooks end to end, against a real receiver: every recommendation arrives
//! signed and in order per player through failures, an outage and slowness;
//! `410 Gone` disables; a dead-lettered delivery comes back through the API.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{
    helpers::{BATCH, TestApp, bet, event, problem, quick_webhooks},
    receiver::{Answered, Arrival, Receiver},
};

const TYPE: &str = "nudge.intervention.recommended";

/// A session of `hours` with a bet every 20 minutes, on day `day`: past 3 h the
/// long-session rule recommends a reality check every hour or so.
pub fn long_session(player: &str, day: i64, hours: i64) -> Vec<Value> {
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-20T18:00:00Z").unwrap() + chrono::Duration::days(day);
    let at = |mut e: Value, minutes: i64| {
        e["time"] = (start + chrono::Duration::minutes(minutes)).to_rfc3339().into();
        e
    };
    let mut events =
        vec![at(event(&format!("{player}-{day}-s"), player, "player.session.started", json!({"channel": "web"})), 0)];
    events.extend((1..=hours * 3).map(|n| at(bet(&format!("{player}-{day}-b{n}"), player, 100), n * 20)));
    events
}

/// Posts the events and waits until the projection has them.
pub async fn post_projected(app: &TestApp, events: Vec<Value>) {
    let answer: Value = app.post_json(BATCH, &Value::Array(events)).await.json().await.unwrap();
    let results = answer["results"].as_array().unwrap_or_else(|| panic!("{answer}"));
    let last = results.iter().filter_map(|r| r["position"].as_u64()).max().unwrap_or_else(|| panic!("{answer}"));
    let player = results[0]["stream"].as_str().unwrap_or("").trim_start_matches("player-").to_owned();
    let features = app.get(&format!("/v1/players/{player}/features?min_position={last}")).await;
    assert_eq!(features.status(), 200, "{answer}");
}

/// Every recommendation: id → (player, position).
pub async fn recommendations(app: &TestApp) -> HashMap<String, (String, u64)> {
    let feed: Value = app.get("/v1/recommendations?limit=1000").await.json().await.unwrap();
    feed["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap().to_owned();
            (id, (r["player_id"].as_str().unwrap().to_owned(), r["triggered_by"]["position"].as_u64().unwrap()))
        })
        .collect()
}

pub async fn subscribe(app: &TestApp, receiver: &Receiver, extra: Value) -> (String, String) {
    let mut body = json!({"url": receiver.url, "types": [TYPE], "description": "the CRM"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let response = app.post("/v1/webhooks", &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"), "{created}");
    (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned())
}

pub async fn webhook(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/webhooks/{id}")).await.json().await.unwrap()
}

/// Waits until the webhook matches `done`.
pub async fn webhook_until(app: &TestApp, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..1_200 {
        let current = webhook(app, id).await;
        if done(&current) {
            return current;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("webhook {id} did not reach {what} within two minutes");
}

/// Checks what the receiver got against the recommendations: each one taken
/// once, in order per player, every request signed; repeats only of attempts
/// that failed (or, with `crashed`, that were in flight at a crash).
pub fn check_arrivals(
    arrivals: &[Arrival],
    expected: &HashMap<String, (String, u64)>,
    secret: &str,
    in_flight_at_crash: &[String],
) {
    for arrival in arrivals {
        assert!(arrival.verifies(secret), "a request does not verify: {:?}", arrival.headers);
    }
    let mut by_id: HashMap<&str, Vec<Answered>> = HashMap::new();
    let mut last_position: HashMap<&str, u64> = HashMap::new();
    for arrival in arrivals {
        for (id, subject) in &arrival.events {
            let (player, position) = expected.get(id).unwrap_or_else(|| panic!("unexpected event {id}"));
            assert_eq!(subject, player);
            let last = last_position.entry(player).or_insert(0);
            assert!(*position >= *last, "{player}: position {position} arrived after {last}");
            *last = *position;
            by_id.entry(id).or_default().push(arrival.answered);
        }
    }
    assert_eq!(by_id.len(), expected.len(), "not every recommendation arrived");
    for (id, answers) in by_id {
        let taken = answers.iter().filter(|a| **a == Answered::Ok).count();
        let crashed = in_flight_at_crash.iter().any(|c| c == id);
        assert!(taken == 1 || (crashed && taken == 2), "{id} taken {taken} times: {answers:?}");
        assert!(crashed || answers.last() == Some(&Answered::Ok), "{id} repeated after it was taken: {answers:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recommendation_arrives_signed_and_in_order_through_trouble_on_sqlite() {
    let receiver = Receiver::start().await;
    receiver.fail_next(25);
    arrives_through_trouble(TestApp::sqlite().await, receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recommendation_arrives_signed_and_in_order_through_trouble_on_postgres() {
    let receiver = Receiver::start().await;
    receiver.fail_next(25);
    arrives_through_trouble(TestApp::postgres().await, receiver).await;
}

/// The receiver fails its first 25 attempts with 500, is stopped for a while,
/// answers slower than nudge waits, then recovers.
async fn arrives_through_trouble(app: TestApp, mut receiver: Receiver) {
    let (id, secret) = subscribe(&app, &receiver, json!({})).await;
    let allowed = webhook_until(&app, &id, "validation", |w| w["validation"] == "allowed").await;
    assert_eq!((&allowed["enabled"], &allowed["mode"]), (&json!(true), &json!("structured")));

    let players: Vec<String> = (0..12).map(|p| format!("w{p}")).collect();
    post_projected(&app, players.iter().flat_map(|p| long_session(p, 0, 6)).collect()).await;
    // The first 25 attempts fail with 500; then some go through.
    receiver.wait_until("deliveries taken", |a| a.iter().filter(|a| a.answered == Answered::Ok).count() >= 10).await;

    // The receiver goes away while more recommendations are made.
    receiver.stop().await;
    post_projected(&app, players.iter().flat_map(|p| long_session(p, 1, 5)).collect()).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    // It comes back slower than nudge waits, then recovers.
    receiver.slow_next(6);
    receiver.restart().await;

    let expected = recommendations(&app).await;
    assert!(expected.len() >= 60, "{}", expected.len());
    receiver.wait_until("every recommendation", |_| expected.keys().all(|id| receiver.taken().contains(id))).await;
    let arrivals = receiver.arrivals();
    check_arrivals(&arrivals, &expected, &secret, &[]);
    let answered = |kind| arrivals.iter().filter(|a| a.answered == kind).count();
    assert_eq!((answered(Answered::Failed), answered(Answered::TooSlow)), (25, 6));

    // Every delivery is settled as delivered, the retried ones with more attempts
    // (the last answers may still be on their way into the database).
    settled(&app, &id).await;
    let page: Value = app.get(&format!("/v1/webhooks/{id}/deliveries?limit=1000")).await.json().await.unwrap();
    let deliveries = page["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), expected.len());
    assert!(deliveries.iter().all(|d| d["status"] == "delivered" && d["last_status"] == 204), "{page}");
    assert!(deliveries.iter().any(|d| d["attempts"].as_u64() > Some(1)));
}

/// Waits until no delivery of subscription `id` is pending.
async fn settled(app: &TestApp, id: &str) {
    let path = format!("/v1/webhooks/{id}/deliveries?status=pending");
    for _ in 0..1_200 {
        let pending: Value = app.get(&path).await.json().await.unwrap();
        if pending == json!({"deliveries": [], "next": null}) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("deliveries of webhook {id} still pending after two minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_gone_disables_its_subscription() {
    let receiver = Receiver::start().await;
    receiver.gone(true);
    let app = TestApp::sqlite().await;
    let (id, _) = subscribe(&app, &receiver, json!({"handshake": false, "mode": "batch"})).await;
    post_projected(&app, long_session("g1", 0, 4)).await;
    let disabled = webhook_until(&app, &id, "disabled", |w| w["enabled"] == false).await;
    assert_eq!(disabled["disabled_reason"], "the receiver answered 410 Gone");
    assert_eq!(disabled["validation"], "skipped");

    // Enabled again, it gets what waited.
    receiver.gone(false);
    let enabled = app
        .client
        .patch(format!("{}/v1/webhooks/{id}", app.address))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let expected = recommendations(&app).await;
    receiver
        .wait_until("the waiting recommendations", |_| expected.keys().all(|id| receiver.taken().contains(id)))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_delivery_can_be_retried_and_arrives() {
    let receiver = Receiver::start().await;
    receiver.fail_next(usize::MAX);
    let mut config = quick_webhooks();
    config.schedule.window = std::time::Duration::from_millis(300);
    let app = TestApp::sqlite_with(config).await;
    let (id, secret) = subscribe(&app, &receiver, json!({"handshake": false, "mode": "binary"})).await;
    post_projected(&app, long_session("d1", 0, 3)).await;
    let expected = recommendations(&app).await;
    assert_eq!(expected.len(), 1);

    let dead = loop {
        let page: Value = app.get(&format!("/v1/webhooks/{id}/deliveries?status=dead")).await.json().await.unwrap();
        if let Some(dead) = page["deliveries"].as_array().and_then(|d| d.first()) {
            break dead.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(dead["attempts"].as_u64() > Some(1), "{dead}");
    assert_eq!((&dead["last_status"], &dead["next_attempt_at"]), (&json!(500), &Value::Null));

    receiver.fail_next(0);
    let delivery = dead["id"].as_str().unwrap();
    let retried = app.post(&format!("/v1/webhooks/{id}/deliveries/{delivery}/retry"), &json!({})).await;
    assert_eq!(retried.status(), 202);
    receiver.wait_until("the retried delivery", |_| expected.keys().all(|id| receiver.taken().contains(id))).await;
    let arrivals = receiver.arrivals();
    assert!(arrivals.iter().all(|a| a.verifies(&secret) && a.headers["content-type"] == "application/json"));
    assert_eq!(arrivals.last().unwrap().headers["ce-type"], TYPE);

    // A delivered one cannot be retried; an unknown one is not found.
    let done = loop {
        let page: Value =
            app.get(&format!("/v1/webhooks/{id}/deliveries?status=delivered")).await.json().await.unwrap();
        if !page["deliveries"].as_array().unwrap().is_empty() {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(done["deliveries"][0]["id"], delivery);
    problem(app.post(&format!("/v1/webhooks/{id}/deliveries/{delivery}/retry"), &json!({})).await, 409).await;
    let unknown = uuid::Uuid::now_v7();
    problem(app.post(&format!("/v1/webhooks/{id}/deliveries/{unknown}/retry"), &json!({})).await, 404).await;
}
