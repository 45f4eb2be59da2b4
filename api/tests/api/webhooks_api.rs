//! The webhooks API: subscriptions and their checks, the handshake, secret
//! rotation, test events, replays, one subscriber's trouble not holding up
//! another, and the metrics.

use serde_json::{Value, json};
use store::testing::TempSqlite;
use webhooks::TargetPolicy;

use crate::{
    helpers::{TestApp, problem, quick_webhooks, serve},
    receiver::Receiver,
    webhooks::{long_session, post_projected, recommendations, subscribe, webhook, webhook_until},
};

#[tokio::test]
async fn subscriptions_are_checked_listed_changed_and_deleted() {
    let mut config = quick_webhooks();
    // 192.0.2.0/24 is for documentation: allowed here, never dialled (no handshake).
    config.client.targets = TargetPolicy { allow_private: false, allow_cidrs: vec!["192.0.2.0/24".parse().unwrap()] };
    let app = TestApp::sqlite_with(config).await;
    let types = json!(["nudge.intervention.recommended"]);
    let refused = |body: Value, field: &'static str| {
        let app = &app;
        async move {
            let answer = problem(app.post("/v1/webhooks", &body).await, 400).await;
            assert_eq!(answer["errors"][0]["pointer"], format!("/{field}"), "{answer}");
        }
    };
    refused(json!({"url": "http://127.0.0.1:9/hooks", "types": types}), "url").await;
    refused(json!({"url": "http://[::1]/hooks", "types": types}), "url").await;
    refused(json!({"url": "ftp://192.0.2.1/hooks", "types": types}), "url").await;
    refused(json!({"url": "https://192.0.2.1/hooks", "types": ["player.bet.placed"]}), "types").await;
    refused(json!({"url": "https://192.0.2.1/hooks", "types": types, "kinds": ["free_spins"]}), "kinds").await;
    refused(json!({"url": "https://192.0.2.1/hooks", "types": types, "mode": "carrier_pigeon"}), "mode").await;
    problem(app.post("/v1/webhooks", &json!({"url": "https://192.0.2.1/", "types": types, "colour": 1})).await, 400)
        .await;

    let body = json!({"url": "https://192.0.2.1/hooks", "types": types, "kinds": ["retention_offer"], "mode": "batch",
                      "handshake": false});
    let created = app.post("/v1/webhooks", &body).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/webhooks/{id}"));
    assert_eq!((&created["kinds"], &created["validation"]), (&json!(["retention_offer"]), &json!("skipped")));

    let shown = webhook(&app, &id).await;
    assert!(shown.get("secret").is_none(), "the secret is shown only once: {shown}");
    let list: Value = app.get("/v1/webhooks").await.json().await.unwrap();
    assert_eq!(list["webhooks"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["next"], Value::Null);

    // Pages follow the ids (UUIDv7: creation order).
    for _ in 0..2 {
        assert_eq!(app.post("/v1/webhooks", &body).await.status(), 201);
    }
    let first: Value = app.get("/v1/webhooks?limit=2").await.json().await.unwrap();
    let after = first["next"].as_str().unwrap();
    assert_eq!(first["webhooks"][0]["id"], id.as_str());
    assert_eq!(first["webhooks"][1]["id"], after);
    let second: Value = app.get(&format!("/v1/webhooks?limit=2&after={after}")).await.json().await.unwrap();
    assert_eq!((second["webhooks"].as_array().map(Vec::len), &second["next"]), (Some(1), &Value::Null));
    assert!(second["webhooks"][0]["id"].as_str() > Some(after));
    problem(app.get("/v1/webhooks?after=yesterday").await, 400).await;
    problem(app.get("/v1/webhooks?limit=0").await, 400).await;

    let patch = json!({"kinds": null, "mode": "binary", "enabled": false, "description": "off for now"});
    let changed: Value =
        app.client.patch(format!("{}{location}", app.address)).json(&patch).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (&changed["kinds"], &changed["mode"], &changed["enabled"]),
        (&Value::Null, &json!("binary"), &json!(false))
    );

    let rotated: Value = app.post(&format!("{location}/rotate-secret"), &json!({})).await.json().await.unwrap();
    assert_ne!(rotated["secret"], created["secret"]);
    assert!(rotated["previous_secret_expires_at"].is_string(), "{rotated}");

    let deleted = app.client.delete(format!("{}{location}", app.address)).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    problem(app.get(&location).await, 404).await;
    problem(app.get("/v1/webhooks/not-an-id").await, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_handshake_holds_deliveries_until_the_subscriber_allows_them() {
    let receiver = Receiver::start().await;
    receiver.allow_handshake(false);
    let app = TestApp::sqlite().await;
    let (id, _) = subscribe(&app, &receiver, json!({})).await;
    post_projected(&app, long_session("h1", 0, 3)).await;
    let refused = webhook_until(&app, &id, "a refused handshake", |w| w["validation_error"].is_string()).await;
    assert_eq!(refused["validation"], "pending");
    assert!(receiver.arrivals().is_empty());

    receiver.allow_handshake(true);
    webhook_until(&app, &id, "validation", |w| w["validation"] == "allowed").await;
    let expected = recommendations(&app).await;
    receiver.wait_until("the held recommendation", |_| expected.keys().all(|id| receiver.taken().contains(id))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_events_replays_and_rotation_reach_the_subscriber_signed() {
    let receiver = Receiver::start().await;
    let app = TestApp::sqlite().await;
    let (id, old_secret) = subscribe(&app, &receiver, json!({"handshake": false})).await;
    post_projected(&app, long_session("r1", 0, 5)).await;
    let expected = recommendations(&app).await;
    receiver.wait_until("the recommendations", |_| expected.keys().all(|id| receiver.taken().contains(id))).await;

    let rotated: Value = app.post(&format!("/v1/webhooks/{id}/rotate-secret"), &json!({})).await.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    let test = app.post(&format!("/v1/webhooks/{id}/test"), &json!({})).await;
    assert_eq!(test.status(), 202);
    let delivery: Value = test.json().await.unwrap();
    let test_id = delivery["event_id"].as_str().unwrap().to_owned();
    receiver.wait_until("the test event", |_| receiver.taken().contains(&test_id)).await;
    let arrival = receiver.arrivals().into_iter().find(|a| a.events.iter().any(|(id, _)| *id == test_id)).unwrap();
    let event: Value = serde_json::from_slice(&arrival.body).unwrap();
    assert_eq!(event["type"], "nudge.webhook.test");
    // During the overlap both the new and the old secret verify.
    assert!(arrival.verifies(new_secret) && arrival.verifies(&old_secret));

    let before = receiver.arrivals().len();
    let replay = app.post(&format!("/v1/webhooks/{id}/replay"), &json!({"since": "2026-11-20T00:00:00Z"})).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.json::<Value>().await.unwrap(), json!({"queued": expected.len()}));
    receiver.wait_until("the replay", |a| a.len() == before + expected.len()).await;
    let replayed: Vec<String> =
        receiver.arrivals()[before..].iter().flat_map(|a| a.events.iter().map(|(id, _)| id.clone())).collect();
    let mut in_order: Vec<(u64, String)> = expected.iter().map(|(id, (_, p))| (*p, id.clone())).collect();
    in_order.sort();
    assert_eq!(replayed, in_order.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    for since in ["yesterday", "2026-11-20 00:00:00Z"] {
        problem(app.post(&format!("/v1/webhooks/{id}/replay"), &json!({ "since": since })).await, 400).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_subscriber_does_not_hold_up_another() {
    let (healthy, mut stopped) = (Receiver::start().await, Receiver::start().await);
    stopped.stop().await;
    let app = TestApp::sqlite().await;
    let (down, _) = subscribe(&app, &stopped, json!({"handshake": false})).await;
    subscribe(&app, &healthy, json!({"handshake": false})).await;
    post_projected(&app, (0..5).flat_map(|p| long_session(&format!("i{p}"), 0, 5)).collect()).await;
    let expected = recommendations(&app).await;
    healthy.wait_until("every recommendation", |_| expected.keys().all(|id| healthy.taken().contains(id))).await;

    let pending: Value = app.get(&format!("/v1/webhooks/{down}/deliveries?status=pending")).await.json().await.unwrap();
    let pending = pending["deliveries"].as_array().unwrap();
    assert_eq!(pending.len(), expected.len());
    assert!(pending.iter().any(|d| d["last_error"].as_str().is_some_and(|e| e.contains("connect"))), "{pending:?}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for name in
        ["nudge_webhook_deliveries_total", "nudge_webhook_delivery_duration_seconds", "nudge_webhook_routed_total"]
    {
        assert!(metrics.contains(name), "{name} missing");
    }
}

#[tokio::test]
async fn special_purpose_addresses_are_refused_naming_their_range() {
    let mut config = quick_webhooks();
    config.client.targets = TargetPolicy::default();
    let app = TestApp::sqlite_with(config).await;
    for (url, range) in [
        ("http://[64:ff9b::7f00:1]/hooks", "127.0.0.0/8"),
        ("http://[64:ff9b::a9fe:a9fe]/hooks", "169.254.0.0/16"),
        ("http://[2002:7f00:1::]/hooks", "127.0.0.0/8"),
        ("http://[2002:a9fe:a9fe::]/hooks", "169.254.0.0/16"),
        ("http://[::127.0.0.1]/hooks", "::/96"),
        ("http://[fec0::1]/hooks", "fec0::/10"),
        ("http://224.0.0.1/hooks", "224.0.0.0/4"),
        ("http://[ff02::1]/hooks", "ff00::/8"),
        ("http://198.18.0.1/hooks", "198.18.0.0/15"),
        ("http://192.0.0.8/hooks", "192.0.0.0/24"),
        ("http://240.0.0.1/hooks", "240.0.0.0/4"),
    ] {
        let body = json!({"url": url, "types": ["nudge.intervention.recommended"], "handshake": false});
        let answer = problem(app.post("/v1/webhooks", &body).await, 400).await;
        let detail = answer["detail"].as_str().unwrap_or_default();
        assert_eq!(answer["errors"][0]["pointer"], "/url", "{url}: {answer}");
        assert!(detail.contains(range) && detail.contains("--allow-webhook-cidrs"), "{url}: {answer}");
    }
}

#[tokio::test]
async fn url_credentials_are_masked_in_answers_and_logs_and_kept_for_delivery() {
    let db = TempSqlite::new().unwrap();
    let (nudge, address) = serve(&db.url(), &["--allow-private-webhooks"]);
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    let url = receiver.url.replace("http://", "http://crm:s3cret@");
    let masked = receiver.url.replace("http://", "http://crm:***@");
    let body = json!({"url": url, "types": ["nudge.intervention.recommended"], "handshake": false});
    let created: Value =
        client.post(format!("{address}/v1/webhooks")).json(&body).send().await.unwrap().json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let shown: Value = client.get(format!("{address}/v1/webhooks/{id}")).send().await.unwrap().json().await.unwrap();
    let listed: Value = client.get(format!("{address}/v1/webhooks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (&created["url"], &shown["url"], &listed["webhooks"][0]["url"]),
        (&json!(masked), &json!(masked), &json!(masked))
    );

    let tested = client.post(format!("{address}/v1/webhooks/{id}/test")).json(&json!({})).send().await.unwrap();
    assert_eq!(tested.status(), 202);
    receiver.wait_until("the test event", |arrivals| !arrivals.is_empty()).await;
    // "crm:s3cret" in base64: the stored URL still carries the credentials.
    assert_eq!(receiver.arrivals()[0].headers["authorization"], "Basic Y3JtOnMzY3JldA==");
    let logs = nudge.1.lock().unwrap().join("\n");
    assert!(logs.contains(&masked) && !logs.contains("s3cret"), "{logs}");
}
