//! Connections that keep nudge waiting are closed: one that sends nothing, one
//! that trickles its headers, one that stays silent after an answer. The tests
//! check that the server closes them, not when.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use api::{
    app::{Application, Settings},
    server::{HttpConfig, Limits, serve::Timeouts},
};
use axum::http::HeaderValue;

use crate::helpers::TestApp;

/// Longest any test here waits for the server to close a connection: far past
/// every timeout it configures.
const GUARD: Duration = Duration::from_secs(60);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection (end of stream or reset); fails after [`GUARD`].
async fn closed(connection: &mut TcpStream) {
    let mut buffer = [0; 4096];
    let until_closed = async {
        loop {
            match connection.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(GUARD, until_closed).await.expect("the server kept the connection open");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = TestApp::sqlite().await;
    closed(&mut connect(&app).await).await;
}

#[tokio::test]
async fn a_connection_that_trickles_its_headers_is_closed() {
    let app = TestApp::sqlite().await;
    let mut connection = connect(&app).await;
    connection.write_all(b"GET /healthz HTTP/1.1\r\nhost: nudge\r\nx-slow: ").await.unwrap();
    let trickle = async {
        // One byte every 200 ms: each one is progress, but the headers never end.
        while connection.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(GUARD, trickle).await.expect("the server kept reading the trickled headers");
}

#[tokio::test]
async fn a_kept_alive_connection_left_silent_after_an_answer_is_closed() {
    let app = TestApp::sqlite().await;
    let mut connection = connect(&app).await;
    connection.write_all(b"GET /healthz HTTP/1.1\r\nhost: nudge\r\n\r\n").await.unwrap();
    let mut answer = [0; 1024];
    let read = connection.read(&mut answer).await.unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer[..read]));
    closed(&mut connection).await;
}

#[tokio::test]
async fn a_connection_that_falls_silent_is_closed_by_the_idle_timeout() {
    // Headers may take a minute, but no byte may stop moving for two seconds.
    let timeouts = Timeouts { header_read: Duration::from_secs(600), idle: Duration::from_secs(2) };
    let limits = Limits { request_timeout: Duration::from_secs(1), ..Limits::default() };
    let app = TestApp::sqlite_http(HttpConfig { timeouts, limits, ..HttpConfig::default() }).await;
    let mut connection = connect(&app).await;
    connection.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    closed(&mut connection).await;
}

#[tokio::test]
async fn an_idle_timeout_not_longer_than_the_request_timeout_is_refused_at_start() {
    let db = store::testing::TempSqlite::new().unwrap();
    let timeouts = Timeouts { idle: Duration::from_secs(30), ..Timeouts::default() };
    let settings = Settings { http: HttpConfig { timeouts, ..HttpConfig::default() }, ..Settings::new(&db.url()) };
    let refused = Application::build(settings).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("--idle-timeout (30s) must be longer than --request-timeout (30s)"), "{refused}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_as_a_problem() {
    let limits = Limits { request_timeout: Duration::from_secs(1), ..Limits::default() };
    let cors_origins = vec![HeaderValue::from_static("https://ops.example.com")];
    let app = TestApp::sqlite_http(HttpConfig { limits, cors_origins, ..HttpConfig::default() }).await;
    let mut connection = connect(&app).await;
    let head = "POST /v1/events HTTP/1.1\r\nhost: nudge\r\norigin: https://ops.example.com\r\n\
                content-type: application/cloudevents+json\r\ncontent-length: 100\r\n\r\n{\"id\": ";
    connection.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(GUARD, connection.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json") && answer.contains("/problems/body-timeout"), "{answer}");
    assert!(answer.contains("access-control-allow-origin: https://ops.example.com"), "a browser reads it: {answer}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let counted = "nudge_http_requests_total{method=\"POST\",route=\"/v1/events\",status=\"408\"} 1";
    assert!(metrics.contains(counted), "a request past its deadline is counted: {metrics}");
}
