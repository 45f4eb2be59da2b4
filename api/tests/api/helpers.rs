//! `TestApp`: a running nudge on a random port with a database of its own.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use api::{app::Application, app::Settings, server::HttpConfig, server::dapr::Dapr};
use projections::{ProjectionConfig, ReadModel};
use reqwest::{Response, header::CONTENT_TYPE};
use serde_json::{Value, json};
use store::{
    EventStore,
    testing::{PgSchema, TempSqlite},
};
use tokio_util::sync::CancellationToken;
use webhooks::{ClientConfig, DispatcherConfig, RetrySchedule, TargetPolicy};

pub const STRUCTURED: &str = "application/cloudevents+json";
pub const BATCH: &str = "application/cloudevents-batch+json";

/// How the tests' servers project: batches that wait a millisecond.
pub fn projection() -> ProjectionConfig {
    ProjectionConfig { batch_wait: Duration::from_millis(1), ..ProjectionConfig::default() }
}

pub struct TestApp {
    pub address: String,
    /// The database it runs on (store and read models), for another instance beside it.
    pub url: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn EventStore>,
    pub read_model: ReadModel,
    /// The server's own keys: what it makes or revokes it knows at once.
    pub keys: api::services::keys::Keys,
    stop: CancellationToken,
    _db: Box<dyn std::any::Any + Send>,
}

impl TestApp {
    /// nudge on a fresh SQLite file.
    pub async fn sqlite() -> Self {
        Self::sqlite_with(quick_webhooks()).await
    }

    /// nudge on a fresh SQLite file, delivering webhooks so.
    pub async fn sqlite_with(webhooks: DispatcherConfig) -> Self {
        Self::sqlite_configured(webhooks, HttpConfig::default()).await
    }

    /// nudge on a fresh SQLite file, serving HTTP so.
    pub async fn sqlite_http(http: HttpConfig) -> Self {
        Self::sqlite_configured(quick_webhooks(), http).await
    }

    /// nudge on a fresh SQLite file, delivering webhooks so, meeting Dapr so.
    pub async fn sqlite_dapr(webhooks: DispatcherConfig, dapr: Dapr) -> Self {
        Self::sqlite_configured(webhooks, HttpConfig { dapr, ..HttpConfig::default() }).await
    }

    /// nudge on the SQLite file `db`, which the caller keeps, meeting Dapr so.
    pub async fn on_sqlite(db: &TempSqlite, dapr: Dapr) -> Self {
        Self::start(&db.url(), Box::new(()), quick_webhooks(), HttpConfig { dapr, ..HttpConfig::default() }).await
    }

    /// nudge on the database at `url`, which the caller keeps.
    pub async fn at(url: &str) -> Self {
        Self::start(url, Box::new(()), quick_webhooks(), HttpConfig::default()).await
    }

    async fn sqlite_configured(webhooks: DispatcherConfig, http: HttpConfig) -> Self {
        let db = TempSqlite::new().unwrap();
        Self::start(&db.url(), Box::new(db), webhooks, http).await
    }

    /// nudge on a fresh PostgreSQL schema.
    pub async fn postgres() -> Self {
        Self::postgres_with(quick_webhooks()).await
    }

    /// nudge on a fresh PostgreSQL schema, delivering webhooks so.
    pub async fn postgres_with(webhooks: DispatcherConfig) -> Self {
        Self::postgres_dapr(webhooks, Dapr::default()).await
    }

    /// nudge on a fresh PostgreSQL schema, delivering webhooks so, meeting Dapr so.
    pub async fn postgres_dapr(webhooks: DispatcherConfig, dapr: Dapr) -> Self {
        let schema = PgSchema::new().await.unwrap();
        Self::start(&schema.url(), Box::new(schema), webhooks, HttpConfig { dapr, ..HttpConfig::default() }).await
    }

    /// Two instances of nudge sharing one fresh PostgreSQL schema.
    pub async fn postgres_pair() -> (Self, Self) {
        Self::postgres_pair_with(quick_webhooks()).await
    }

    /// Two instances of nudge, dispatching so, sharing one fresh PostgreSQL schema.
    pub async fn postgres_pair_with(webhooks: DispatcherConfig) -> (Self, Self) {
        let schema = PgSchema::new().await.unwrap();
        let url = schema.url();
        let first = Self::start(&url, Box::new(schema), webhooks.clone(), HttpConfig::default()).await;
        let second = Self::start(&url, Box::new(()), webhooks, HttpConfig::default()).await;
        (first, second)
    }

    /// nudge on the database at `url` (the store and the read models), whose
    /// owner `db` lives as long as the app.
    async fn start(url: &str, db: Box<dyn std::any::Any + Send>, webhooks: DispatcherConfig, http: HttpConfig) -> Self {
        Self::start_projecting(url, db, webhooks, http, projection()).await
    }

    /// nudge on a fresh SQLite database, projecting so.
    pub async fn sqlite_projecting(projection: ProjectionConfig) -> Self {
        let db = TempSqlite::new().unwrap();
        Self::start_projecting(&db.url(), Box::new(db), quick_webhooks(), HttpConfig::default(), projection).await
    }

    async fn start_projecting(
        url: &str,
        db: Box<dyn std::any::Any + Send>,
        webhooks: DispatcherConfig,
        http: HttpConfig,
        projection: ProjectionConfig,
    ) -> Self {
        let app = Application::build(Settings { projection, http, webhooks, ..Settings::new(url) }).await.unwrap();
        let address = format!("http://{}", app.local_addr().unwrap());
        let (store, read_model, keys) = (app.store(), app.read_model().clone(), app.keys().clone());
        let stop = CancellationToken::new();
        tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
        Self { address, url: url.to_owned(), client: reqwest::Client::new(), store, read_model, keys, stop, _db: db }
    }

    pub async fn post_events(&self, content_type: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(format!("{}/v1/events", self.address))
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, content_type: &str, body: &Value) -> Response {
        self.post_events(content_type, body.to_string()).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client.post(format!("{}{path}", self.address)).json(body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.address)).send().await.unwrap()
    }

    /// Every event stored, across all streams.
    pub async fn stored(&self) -> usize {
        self.store.read_all(None, 10_000, "").await.unwrap().len()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Webhooks to loopback receivers, retried within milliseconds, timing out after a second.
pub fn quick_webhooks() -> DispatcherConfig {
    DispatcherConfig {
        client: ClientConfig {
            targets: TargetPolicy { allow_private: true, allow_cidrs: Vec::new() },
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            ..ClientConfig::default()
        },
        schedule: RetrySchedule {
            waits: [50, 100, 200, 400].map(Duration::from_millis).to_vec(),
            window: Duration::from_secs(600),
            jitter: 0.2,
        },
        poll: Duration::from_millis(20),
        ..DispatcherConfig::default()
    }
}

/// A valid structured-mode CloudEvent.
pub fn event(id: &str, player: &str, kind: &str, data: Value) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "/casino/test",
        "type": kind,
        "subject": player,
        "time": "2026-11-24T10:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    })
}

pub fn bet(id: &str, player: &str, stake: i64) -> Value {
    event(id, player, "player.bet.placed", json!({"bet_id": id, "game_id": "g1", "stake": stake, "currency": "EUR"}))
}

/// Asserts an RFC 9457 answer with this status; gives back its body.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    body
}

/// The real `nudge` binary, with a clean environment.
pub fn nudge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nudge"));
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    command
}

/// A `nudge` process, killed (SIGKILL) when dropped so that a failing test
/// leaves nothing running, and the log lines it has written so far.
pub struct Nudge(pub Child, pub Arc<Mutex<Vec<String>>>);

impl Nudge {
    /// Waits for it to exit on its own: how it ended, and its standard error
    /// (when piped).
    pub fn finish(&mut self) -> (std::process::ExitStatus, String) {
        let status = self.0.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut piped) = self.0.stderr.take() {
            std::io::Read::read_to_string(&mut piped, &mut stderr).unwrap();
        }
        (status, stderr)
    }

    /// Kills it and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Nudge {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `nudge serve` on `store` with `extra` arguments and reads the address
/// it bound from its log (failing after a minute without it).
pub fn serve(store: &str, extra: &[&str]) -> (Nudge, String) {
    serve_on("127.0.0.1:0", store, extra)
}

/// [`serve`] on `listen`.
pub fn serve_on(listen: &str, store: &str, extra: &[&str]) -> (Nudge, String) {
    let (child, mut addresses) = serve_reporting(listen, store, extra, &["address"]);
    (child, addresses.remove(0))
}

/// Starts `nudge serve` on `store` with `extra` arguments and reads from its log
/// the address each of `fields` names, as URLs (failing after a minute without them).
pub fn serve_reporting(listen: &str, store: &str, extra: &[&str], fields: &[&'static str]) -> (Nudge, Vec<String>) {
    let mut child = nudge()
        .args(["--log-format", "json", "serve", "--listen", listen, "--store", store])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Nudge(child, Arc::default());
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    let wanted = fields.to_vec();
    let logs = Arc::clone(&child.1);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let log: Value = serde_json::from_str(&line).unwrap_or_default();
            for (index, field) in wanted.iter().enumerate() {
                if let Some(address) = log["fields"][field].as_str() {
                    let _ = address_tx.send((index, address.to_owned()));
                }
            }
            logs.lock().unwrap().push(line);
        }
    });
    let mut addresses = vec![String::new(); fields.len()];
    while addresses.iter().any(String::is_empty) {
        let (index, address) =
            address_rx.recv_timeout(Duration::from_secs(60)).expect("nudge did not start serving within a minute");
        addresses[index] = format!("http://{address}");
    }
    (child, addresses)
}

/// Waits (at most half a minute) until the nudge at `address` answers `/readyz` with 200.
pub async fn ready(client: &reqwest::Client, address: &str) {
    for _ in 0..600 {
        if client.get(format!("{address}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nudge at {address} did not become ready");
}

/// Posts a batch to `address(attempt)` until one answers 202, resending it
/// while servers restart (a resend of a stored batch is answered as
/// duplicates); fails on a refusal, or after about two minutes.
pub async fn post_until_accepted(client: &reqwest::Client, body: &str, address: impl Fn(usize) -> String) {
    for attempt in 0..6_000 {
        let response = client
            .post(format!("{}/v1/events", address(attempt)))
            .header("content-type", BATCH)
            .body(body.to_owned())
            .send()
            .await;
        match response {
            Ok(response) if response.status() == 202 => return,
            Ok(response) if response.status().is_client_error() => panic!("refused: {}", response.status()),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    panic!("a batch was not accepted within two minutes");
}

/// `events` as batch request bodies of `size` events each.
pub fn batch_bodies(events: &[domain::PlayerEvent], size: usize) -> Vec<String> {
    events
        .chunks(size)
        .map(|chunk| Value::Array(chunk.iter().map(domain::PlayerEvent::to_json).collect()).to_string())
        .collect()
}

/// Waits (at most a minute) until the nudge at `address` has projected
/// everything stored; answers its `GET /v1/projections` then (or last).
pub async fn projected(client: &reqwest::Client, address: &str) -> Value {
    let mut status = Value::Null;
    for _ in 0..1_200 {
        status = client.get(format!("{address}/v1/projections")).send().await.unwrap().json().await.unwrap();
        if status["projections"][0]["lag_events"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    status
}
