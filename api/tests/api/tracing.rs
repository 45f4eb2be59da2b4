//! One W3C trace from ingest to the webhook: the `traceparent` of the request
//! (or the event's own, which wins) is stored with the event, kept on the
//! recommendation, and continued by the webhook request; with OTLP export the
//! request's span joins the caller's trace.

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, routing::post};
use serde_json::{Value, json};
use store::testing::TempSqlite;
use tokio::net::TcpListener;

use crate::{
    helpers::{BATCH, STRUCTURED, TestApp, bet, serve},
    receiver::{Arrival, Receiver},
    webhooks::{long_session, recommendations, subscribe},
};

const HEADER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const HEADER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const EVENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const EVENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Posts a batch with a `traceparent` header and waits until the projection has it.
async fn post_traced(app: &TestApp, events: Vec<Value>, traceparent: &str) {
    let response = app
        .client
        .post(format!("{}/v1/events", app.address))
        .header("content-type", BATCH)
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=1")
        .body(Value::Array(events).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(response.headers().contains_key("x-request-id"));
    let answer: Value = response.json().await.unwrap();
    let last = answer["results"].as_array().unwrap().iter().filter_map(|r| r["position"].as_u64()).max().unwrap();
    let player = answer["results"][0]["stream"].as_str().unwrap().trim_start_matches("player-").to_owned();
    let features = app.get(&format!("/v1/players/{player}/features?min_position={last}")).await;
    assert_eq!(features.status(), 200);
}

/// The one arrival carrying recommendation `id`, once it has come.
async fn arrival_of(receiver: &Receiver, id: &str) -> Arrival {
    receiver.wait_until("the recommendation", |a| a.iter().any(|a| a.events.iter().any(|(e, _)| e == id))).await;
    receiver.arrivals().into_iter().find(|a| a.events.iter().any(|(e, _)| e == id)).unwrap()
}

fn header<'a>(arrival: &'a Arrival, name: &str) -> &'a str {
    arrival.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The trace id and parent id of a `traceparent`.
fn parts(traceparent: &str) -> (&str, &str) {
    let fields: Vec<&str> = traceparent.split('-').collect();
    assert_eq!((fields.len(), fields[0], fields.get(3)), (4, "00", Some(&"01")), "{traceparent}");
    (fields[1], fields[2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_traceparent_runs_from_ingest_to_the_webhook_on_sqlite() {
    runs_to_the_webhook(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_traceparent_runs_from_ingest_to_the_webhook_on_postgres() {
    runs_to_the_webhook(TestApp::postgres().await).await;
}

async fn runs_to_the_webhook(app: TestApp) {
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver, json!({"handshake": false})).await;
    post_traced(&app, long_session("t1", 0, 3), HEADER).await;

    let stored: Value = app.get("/v1/players/t1/events?limit=1").await.json().await.unwrap();
    assert_eq!(stored["events"][0]["event"]["traceparent"], HEADER);
    assert_eq!(stored["events"][0]["event"]["tracestate"], "vendor=1", "the request's state goes with its trace");
    let made = recommendations(&app).await;
    let id = made.keys().next().unwrap_or_else(|| panic!("no recommendation"));
    let page: Value = app.get("/v1/players/t1/recommendations").await.json().await.unwrap();
    assert_eq!(page["recommendations"][0]["triggered_by"]["traceparent"], HEADER);

    let arrival = arrival_of(&receiver, id).await;
    let (trace, parent) = parts(header(&arrival, "traceparent"));
    assert_eq!(trace, HEADER_TRACE);
    assert_ne!(parent, parts(HEADER).1, "the delivery is a span of its own");
    let body: Value = serde_json::from_slice(&arrival.body).unwrap();
    assert_eq!(body["traceparent"], header(&arrival, "traceparent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_own_traceparent_wins_over_the_header_on_sqlite() {
    own_wins(TestApp::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_own_traceparent_wins_over_the_header_on_postgres() {
    own_wins(TestApp::postgres().await).await;
}

/// In binary mode, the event's own trace goes on in `traceparent` and `ce-traceparent`.
async fn own_wins(app: TestApp) {
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver, json!({"handshake": false, "mode": "binary"})).await;
    let mut events = long_session("t2", 0, 3);
    for event in &mut events {
        event["traceparent"] = EVENT.into();
    }
    post_traced(&app, events, HEADER).await;

    let stored: Value = app.get("/v1/players/t2/events?limit=1").await.json().await.unwrap();
    assert_eq!(stored["events"][0]["event"]["traceparent"], EVENT);
    assert_eq!(stored["events"][0]["event"].get("tracestate"), None, "the request's state is of another trace");
    let made = recommendations(&app).await;
    let id = made.keys().next().unwrap_or_else(|| panic!("no recommendation"));
    let arrival = arrival_of(&receiver, id).await;
    assert_eq!(parts(header(&arrival, "traceparent")).0, EVENT_TRACE);
    assert_eq!(header(&arrival, "ce-traceparent"), header(&arrival, "traceparent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_delivery_carries_each_events_trace_in_its_extension() {
    let app = TestApp::sqlite().await;
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver, json!({"handshake": false, "mode": "batch"})).await;
    post_traced(&app, long_session("t3", 0, 3), HEADER).await;

    let made = recommendations(&app).await;
    let id = made.keys().next().unwrap_or_else(|| panic!("no recommendation"));
    let arrival = arrival_of(&receiver, id).await;
    assert_eq!(header(&arrival, "traceparent"), "", "a batch may hold several traces: no header");
    let body: Value = serde_json::from_slice(&arrival.body).unwrap();
    let traceparent = body[0]["traceparent"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(parts(traceparent).0, HEADER_TRACE);
}

#[tokio::test]
async fn an_invalid_traceparent_is_ignored_not_refused() {
    let app = TestApp::sqlite().await;
    let mut events = long_session("t4", 0, 1);
    events[0]["traceparent"] = "00-not-a-trace-01".into();
    post_traced(&app, events, "00-00000000000000000000000000000000-b7ad6b7169203331-01").await;
    let stored: Value = app.get("/v1/players/t4/events").await.json().await.unwrap();
    let events = stored["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e["event"].get("traceparent").is_none()), "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_otlp_export_the_webhook_names_an_exported_span_of_the_trace_as_its_parent() {
    let (collector, bodies) = collector().await;
    let db = TempSqlite::new().unwrap();
    let (_nudge, address) = serve(&db.url(), &["--otlp-endpoint", &collector, "--allow-private-webhooks"]);
    let client = reqwest::Client::new();
    let receiver = Receiver::start().await;
    let subscription = json!({"url": receiver.url, "types": ["nudge.intervention.recommended"], "handshake": false});
    let created = client.post(format!("{address}/v1/webhooks")).json(&subscription).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let response = client
        .post(format!("{address}/v1/events"))
        .header("content-type", BATCH)
        .header("traceparent", HEADER)
        .body(Value::Array(long_session("o2", 0, 3)).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    receiver.wait_until("a recommendation", |a| !a.is_empty()).await;
    let arrival = receiver.arrivals().remove(0);
    let (trace, delivery_span) = parts(header(&arrival, "traceparent"));
    assert_eq!(trace, HEADER_TRACE);
    // The span the webhook request names as its parent was exported, in that trace.
    let (trace, span) = (bytes_of(trace), bytes_of(delivery_span));
    let exported = |body: &Bytes| {
        let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        has(&trace) && has(&span)
    };
    for _ in 0..600 {
        if bodies.lock().unwrap().iter().any(exported) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the delivery span {delivery_span} never reached the collector");
}

/// An OTLP/HTTP collector on a loopback port: keeps every export request's body.
async fn collector() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let keep = |State(bodies): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
        bodies.lock().unwrap().push(body);
    };
    let app = Router::new().route("/v1/traces", post(keep)).with_state(Arc::clone(&bodies));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

fn bytes_of(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_otlp_export_the_request_span_joins_the_callers_trace() {
    let (collector, bodies) = collector().await;
    let db = TempSqlite::new().unwrap();
    let (_nudge, address) = serve(&db.url(), &["--otlp-endpoint", &collector]);
    let response = reqwest::Client::new()
        .post(format!("{address}/v1/events"))
        .header("content-type", STRUCTURED)
        .header("traceparent", HEADER)
        .body(bet("o1", "otlp", 100).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    // The exported spans (protobuf) name the caller's trace and, as the parent, its span.
    let (trace, parent) = (bytes_of(HEADER_TRACE), bytes_of(parts(HEADER).1));
    let joined = |body: &Bytes| {
        let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
        has(&trace) && has(&parent)
    };
    for _ in 0..600 {
        if bodies.lock().unwrap().iter().any(joined) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no span of the caller's trace reached the collector within a minute");
}
