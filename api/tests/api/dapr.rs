//! Dapr pub/sub: the programmatic subscription, events delivered in Dapr's
//! envelope (passed through or wrapped) answered `SUCCESS` or `DROP`, and the
//! app API token standing in for a key.

use api::server::dapr::{AppToken, Dapr, Topic};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};
use store::testing::TempSqlite;

use crate::helpers::{STRUCTURED, TestApp, bet, problem, quick_webhooks};

const TOKEN: &str = "dapr-app-token-for-tests";
const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn dapr() -> Dapr {
    Dapr {
        subscription: Some(Topic { pubsub: "pubsub".to_owned(), topic: "players".to_owned() }),
        app_token: Some(AppToken::new(TOKEN)),
    }
}

/// A player CloudEvent as Dapr passes a published CloudEvent through: with its
/// transport and trace attributes added.
fn passed_through(event: Value) -> Value {
    let mut envelope = event;
    let attributes = [
        ("pubsubname", "pubsub"),
        ("topic", "players"),
        ("traceid", TRACEPARENT),
        ("traceparent", TRACEPARENT),
        ("tracestate", "dapr=1"),
    ];
    for (name, value) in attributes {
        envelope[name] = value.into();
    }
    envelope
}

/// A payload published as plain JSON, which Dapr wraps in a CloudEvent of its own.
fn wrapped(payload: Value) -> Value {
    json!({
        "specversion": "1.0",
        "id": "5929aaac-a5e2-4ca1-859c-edfe73f11565",
        "source": "casino-platform",
        "type": "com.dapr.event.sent",
        "datacontenttype": "application/json",
        "pubsubname": "pubsub",
        "topic": "players",
        "traceid": TRACEPARENT,
        "traceparent": TRACEPARENT,
        "tracestate": "",
        "data": payload,
    })
}

async fn deliver(app: &TestApp, envelope: &Value) -> Value {
    let response = app
        .client
        .post(format!("{}/v1/events", app.address))
        .header(CONTENT_TYPE, STRUCTURED)
        .header("dapr-api-token", TOKEN)
        .body(envelope.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

async fn stream(app: &TestApp, player: &str) -> Vec<Value> {
    let page: Value = app.get(&format!("/v1/players/{player}/events")).await.json().await.unwrap();
    page["events"].as_array().unwrap().iter().map(|e| e["event"].clone()).collect()
}

#[tokio::test]
async fn dapr_subscribe_answers_the_configured_topic_or_nothing() {
    let app = TestApp::sqlite_dapr(quick_webhooks(), dapr()).await;
    let subscriptions: Value = app.get("/dapr/subscribe").await.json().await.unwrap();
    assert_eq!(subscriptions, json!([{"pubsubname": "pubsub", "topic": "players", "route": "/v1/events"}]));

    let unsubscribed = TestApp::sqlite().await;
    let none = unsubscribed.get("/dapr/subscribe").await;
    assert_eq!(none.status(), 200);
    assert_eq!(none.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test]
async fn a_dapr_delivery_is_stored_and_answered_success_on_sqlite() {
    delivered_and_stored(TestApp::sqlite_dapr(quick_webhooks(), dapr()).await).await;
}

#[tokio::test]
async fn a_dapr_delivery_is_stored_and_answered_success_on_postgres() {
    delivered_and_stored(TestApp::postgres_dapr(quick_webhooks(), dapr()).await).await;
}

async fn delivered_and_stored(app: TestApp) {
    let envelope = passed_through(bet("b1", "dp", 250));
    assert_eq!(deliver(&app, &envelope).await, json!({"status": "SUCCESS"}));
    // Dapr delivers at least once: the same event again is taken, stored once.
    assert_eq!(deliver(&app, &envelope).await, json!({"status": "SUCCESS"}));
    assert_eq!(deliver(&app, &wrapped(bet("b2", "dp", 300))).await, json!({"status": "SUCCESS"}));
    let text = wrapped(bet("b3", "dp", 350).to_string().into());
    assert_eq!(deliver(&app, &text).await, json!({"status": "SUCCESS"}));

    let stored = stream(&app, "dp").await;
    let ids: Vec<&str> = stored.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, ["b1", "b2", "b3"]);
    let first = &stored[0];
    assert_eq!((&first["type"], &first["data"]["stake"]), (&json!("player.bet.placed"), &json!(250)));
    for transport in ["pubsubname", "topic", "traceid"] {
        assert!(stored.iter().all(|e| e.get(transport).is_none()), "{transport} kept: {stored:?}");
    }
    assert!(stored.iter().all(|e| e["traceparent"] == TRACEPARENT), "{stored:?}");
    assert_eq!(first["tracestate"], "dapr=1");

    // Ordinary clients keep their answers.
    let ordinary = app.post_json(STRUCTURED, &bet("b4", "dp", 10)).await;
    assert_eq!(ordinary.status(), 202);
}

#[tokio::test]
async fn an_invalid_event_in_a_dapr_envelope_is_dropped_on_sqlite() {
    dropped(TestApp::sqlite_dapr(quick_webhooks(), dapr()).await).await;
}

#[tokio::test]
async fn an_invalid_event_in_a_dapr_envelope_is_dropped_on_postgres() {
    dropped(TestApp::postgres_dapr(quick_webhooks(), dapr()).await).await;
}

async fn dropped(app: TestApp) {
    let mut negative = bet("bad", "dq", 100);
    negative["data"]["stake"] = json!(-5);
    assert_eq!(deliver(&app, &passed_through(negative.clone())).await, json!({"status": "DROP"}));
    let mut unknown = bet("bad2", "dq", 100);
    unknown["type"] = json!("player.teleported");
    assert_eq!(deliver(&app, &passed_through(unknown)).await, json!({"status": "DROP"}));
    assert_eq!(deliver(&app, &wrapped(negative)).await, json!({"status": "DROP"}));
    assert_eq!(deliver(&app, &wrapped(json!({"order": 1}))).await, json!({"status": "DROP"}));
    assert_eq!(app.stored().await, 0);
}

#[tokio::test]
async fn dapr_is_admitted_by_its_app_token_only() {
    let app = TestApp::sqlite_dapr(quick_webhooks(), dapr()).await;
    app.keys.create("ops", &[api::services::keys::Scope::Admin], chrono::Utc::now()).await.unwrap();
    let envelope = passed_through(bet("t1", "dt", 100));
    let call = |token: Option<&'static str>, path: &'static str| {
        let mut request = if path == "/v1/events" {
            app.client
                .post(format!("{}{path}", app.address))
                .header(CONTENT_TYPE, STRUCTURED)
                .body(envelope.to_string())
        } else {
            app.client.get(format!("{}{path}", app.address))
        };
        if let Some(token) = token {
            request = request.header("dapr-api-token", token);
        }
        request.send()
    };
    problem(call(None, "/v1/events").await.unwrap(), 401).await;
    problem(call(Some("not-the-dapr-app-token"), "/v1/events").await.unwrap(), 401).await;
    problem(call(Some("not-the-dapr-app-token"), "/dapr/subscribe").await.unwrap(), 401).await;
    let taken = call(Some(TOKEN), "/v1/events").await.unwrap();
    assert_eq!(taken.json::<Value>().await.unwrap(), json!({"status": "SUCCESS"}));
    assert_eq!(call(Some(TOKEN), "/dapr/subscribe").await.unwrap().status(), 200);
    // The token opens Dapr's routes only.
    problem(
        app.client.get(format!("{}/v1/webhooks", app.address)).header("dapr-api-token", TOKEN).send().await.unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn a_dapr_delivery_the_store_cannot_take_now_is_retried() {
    let db = TempSqlite::new().unwrap();
    let app = TestApp::on_sqlite(&db, dapr()).await;
    let event = passed_through(bet("r1", "retried", 100));

    // Another process holds the database's write lock for longer than nudge waits for it.
    let mut holder = SqliteConnection::connect(&db.url()).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut holder).await.unwrap();
    assert_eq!(deliver(&app, &event).await, json!({"status": "RETRY"}));
    let plain = app.post_json(STRUCTURED, &bet("r2", "retried", 100)).await;
    assert_eq!(plain.headers()["retry-after"], "1", "a client outside Dapr is told to come back");
    problem(plain, 503).await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();

    assert_eq!(deliver(&app, &event).await, json!({"status": "SUCCESS"}));
    assert_eq!(stream(&app, "retried").await.len(), 1);
}

#[tokio::test]
async fn a_dapr_delivery_too_large_to_read_is_dropped_not_retried() {
    let app = TestApp::sqlite_dapr(quick_webhooks(), dapr()).await;
    let mut event = passed_through(bet("big", "p-big", 100));
    event["data"]["padding"] = "x".repeat(2 * 1024 * 1024).into();
    assert_eq!(deliver(&app, &event).await, json!({"status": "DROP"}));
    let unread = app.post_json(STRUCTURED, &event).await;
    problem(unread, 413).await;
}
