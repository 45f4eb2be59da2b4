//! Per-key rate limits and CORS.

use std::num::NonZeroU32;

use api::{server::HttpConfig, server::Limits, services::keys::Scope};
use axum::http::HeaderValue;

use crate::helpers::{TestApp, problem};

async fn key(app: &TestApp, name: &str) -> String {
    let keys = &app.keys;
    keys.create(name, &[Scope::Read], chrono::Utc::now()).await.unwrap().secret
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not() {
    let limits = Limits { rate_per_key: NonZeroU32::new(1), ..Limits::default() };
    let app = TestApp::sqlite_http(HttpConfig { limits, ..HttpConfig::default() }).await;
    let (busy, quiet) = (key(&app, "busy").await, key(&app, "quiet").await);
    let get = |secret: &str| app.client.get(format!("{}/v1/recommendations", app.address)).bearer_auth(secret).send();

    // One request a second: the second of two back-to-back loopback requests
    // comes well within the second.
    assert_eq!(get(&busy).await.unwrap().status(), 200);
    let limited = get(&busy).await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(problem(limited, 429).await["type"], "/problems/too-many-requests");
    assert_eq!(get(&quiet).await.unwrap().status(), 200, "another key has its own budget");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("nudge_http_rate_limited_total{key=\"busy\"} 1"), "{metrics}");
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_only_the_origins_configured() {
    let preflight = |app: &TestApp, origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/v1/recommendations", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let closed = TestApp::sqlite().await;
    let answer = preflight(&closed, "https://ops.example.com").await.unwrap();
    assert!(answer.headers().get("access-control-allow-origin").is_none());
    problem(answer, 405).await;

    let http =
        HttpConfig { cors_origins: vec![HeaderValue::from_static("https://ops.example.com")], ..HttpConfig::default() };
    let open = TestApp::sqlite_http(http).await;
    let answer = preflight(&open, "https://ops.example.com").await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], "https://ops.example.com");
    assert!(answer.headers().contains_key("x-request-id"), "a preflight is an answer too");
    assert!(answer.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    let answer = preflight(&open, "https://elsewhere.example.com").await.unwrap();
    assert!(answer.headers().get("access-control-allow-origin").is_none());

    let read =
        open.client.get(format!("{}/v1/recommendations", open.address)).header("origin", "https://ops.example.com");
    let answer = read.send().await.unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], "https://ops.example.com");
    assert!(answer.headers()["access-control-expose-headers"].to_str().unwrap().contains("x-request-id"));
}
