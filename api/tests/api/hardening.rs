//! Input kept faithfully or refused: binary-mode headers percent-decoded,
//! duplicate JSON keys and repeated single-valued headers refused by name, the
//! Dapr token told where it does not apply.

use api::server::dapr::{AppToken, Dapr};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::helpers::{BATCH, STRUCTURED, TestApp, bet, problem, quick_webhooks};

/// A binary-mode POST of `bet` with these `ce-*` headers.
fn binary(app: &TestApp, headers: &[(&'static str, &'static str)]) -> reqwest::RequestBuilder {
    let mut request = app
        .client
        .post(format!("{}/v1/events", app.address))
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"bet_id": "b1", "game_id": "g1", "stake": 10, "currency": "EUR"}).to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}

const BET: [(&str, &str); 5] = [
    ("ce-specversion", "1.0"),
    ("ce-id", "b1"),
    ("ce-type", "player.bet.placed"),
    ("ce-subject", "p1"),
    ("ce-time", "2026-11-24T10:00:00Z"),
];

#[tokio::test]
async fn binary_mode_headers_are_percent_decoded_so_both_modes_store_an_event_once() {
    let app = TestApp::sqlite().await;
    let mut structured = bet("b1", "p1", 10);
    structured["source"] = json!("/casino eu/ünï");
    assert_eq!(app.post_json(STRUCTURED, &structured).await.status(), 202);

    let sent = binary(&app, &[BET.as_slice(), &[("ce-source", "/casino%20eu/%C3%BCn%C3%AF")]].concat());
    let answer = sent.send().await.unwrap();
    assert_eq!(answer.status(), 202);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["results"][0]["source"], "/casino eu/ünï");
    assert_eq!(answer["results"][0]["duplicate"], true, "{answer}");
    assert_eq!(app.stored().await, 1);

    let not_utf8 = binary(&app, &[BET.as_slice(), &[("ce-source", "/casino%FF")]].concat());
    let body = problem(not_utf8.send().await.unwrap(), 400).await;
    assert_eq!(body["errors"][0]["pointer"], "/source", "{body}");
}

#[tokio::test]
async fn a_duplicate_json_key_is_refused_naming_it() {
    let app = TestApp::sqlite().await;
    let twice = r#"{"specversion": "1.0", "id": "d1", "source": "/casino", "type": "player.session.ended",
        "subject": "a", "time": "2026-11-24T10:00:00Z", "subject": "b", "data": {}}"#;
    let body = problem(app.post_events(STRUCTURED, twice).await, 400).await;
    assert_eq!(body["errors"][0]["pointer"], "/subject", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("`subject`"), "{body}");

    let data_twice = format!(
        "[{}, {}]",
        bet("d2", "a", 1),
        bet("d3", "a", 1).to_string().replace(r#""stake":1"#, r#""stake":1,"stake":1000"#)
    );
    let body = problem(app.post_events(BATCH, data_twice).await, 400).await;
    assert_eq!((&body["errors"][0]["index"], &body["errors"][0]["pointer"]), (&json!(1), &json!("/data/stake")));

    let binary_data = binary(&app, &[BET.as_slice(), &[("ce-source", "/casino")]].concat())
        .body(r#"{"bet_id": "b1", "game_id": "g1", "stake": 1, "currency": "EUR", "currency": "USD"}"#);
    let body = problem(binary_data.send().await.unwrap(), 400).await;
    assert_eq!(body["errors"][0]["pointer"], "/data/currency", "{body}");
    assert_eq!(app.stored().await, 0);
}

#[tokio::test]
async fn a_repeated_single_valued_header_is_refused_naming_it() {
    let app = TestApp::sqlite().await;
    let subject_twice = binary(&app, &[BET.as_slice(), &[("ce-source", "/casino"), ("ce-subject", "p2")]].concat());
    let body = problem(subject_twice.send().await.unwrap(), 400).await;
    assert_eq!(
        (&body["type"], &body["errors"][0]["parameter"]),
        (&json!("/problems/repeated-header"), &json!("ce-subject"))
    );

    let type_twice = app
        .client
        .post(format!("{}/v1/events", app.address))
        .header(CONTENT_TYPE, STRUCTURED)
        .header(CONTENT_TYPE, BATCH)
        .body(bet("t1", "p1", 1).to_string());
    let body = problem(type_twice.send().await.unwrap(), 400).await;
    assert_eq!(body["errors"][0]["parameter"], "content-type", "{body}");

    let keys = &app.keys;
    let scopes = [api::services::keys::Scope::Admin];
    let (first, second) = (
        keys.create("a", &scopes, chrono::Utc::now()).await.unwrap(),
        keys.create("b", &scopes, chrono::Utc::now()).await.unwrap(),
    );
    let keys_twice =
        app.client.get(format!("{}/v1/webhooks", app.address)).bearer_auth(&first.secret).bearer_auth(&second.secret);
    let body = problem(keys_twice.send().await.unwrap(), 400).await;
    assert_eq!(body["errors"][0]["parameter"], "authorization", "{body}");
    assert_eq!(app.stored().await, 0);
}

#[tokio::test]
async fn the_dapr_token_on_a_route_it_does_not_open_is_told_so() {
    const TOKEN: &str = "dapr-app-token-for-tests";
    let app =
        TestApp::sqlite_dapr(quick_webhooks(), Dapr { subscription: None, app_token: Some(AppToken::new(TOKEN)) })
            .await;
    let keys = &app.keys;
    keys.create("ops", &[api::services::keys::Scope::Admin], chrono::Utc::now()).await.unwrap();
    let read = app.client.get(format!("{}/v1/recommendations", app.address)).header("dapr-api-token", TOKEN);
    let body = problem(read.send().await.unwrap(), 401).await;
    assert!(body["detail"].as_str().unwrap().contains("does not take"), "{body}");
}

#[tokio::test]
async fn headers_over_the_limit_are_a_problem() {
    let app = TestApp::sqlite().await;
    let token = "x".repeat(1024 * 1024);
    let read = app.client.get(format!("{}/v1/recommendations", app.address)).bearer_auth(token);
    let body = problem(read.send().await.unwrap(), 431).await;
    assert_eq!(body["type"], "/problems/headers-too-large", "{body}");
}

#[tokio::test]
async fn a_gzip_body_is_inflated_and_another_encoding_refused() {
    use std::io::Write;
    let app = TestApp::sqlite().await;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(bet("z1", "p1", 10).to_string().as_bytes()).unwrap();
    let post = |encoding: &'static str, body: Vec<u8>| {
        app.client
            .post(format!("{}/v1/events", app.address))
            .header(CONTENT_TYPE, STRUCTURED)
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    assert_eq!(post("gzip", gzip.finish().unwrap()).await.unwrap().status(), 202);
    problem(post("br", bet("z2", "p1", 10).to_string().into_bytes()).await.unwrap(), 415).await;
    let body = problem(post("gzip", b"not gzip".to_vec()).await.unwrap(), 400).await;
    assert!(body["detail"].as_str().unwrap().contains("gzip"), "{body}");

    // A small body that inflates past the limit is refused too.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b' '; 2 * 1024 * 1024]).unwrap();
    problem(post("gzip", bomb.finish().unwrap()).await.unwrap(), 413).await;
    assert_eq!(app.stored().await, 1);
}

#[tokio::test]
async fn an_announced_body_over_the_limit_is_refused_before_100_continue() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::sqlite().await;
    let mut connection = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let head = "POST /v1/events HTTP/1.1\r\nhost: nudge\r\ncontent-type: application/cloudevents+json\r\n\
                content-length: 5000000\r\nexpect: 100-continue\r\n\r\n";
    connection.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let read = connection.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}
