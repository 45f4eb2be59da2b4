//! A webhook receiver: an axum server on a random loopback port that records
//! every request and answers as the test tells it (fail, be slow, be gone,
//! stop and come back), plus an independent Standard Webhooks check. The port
//! stays the receiver's while it is stopped: no other test's server can take it.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::{
    net::{TcpListener, TcpSocket},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// How the receiver answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Ok,
    Failed,
    /// Slower than nudge waits: nudge gave up on it.
    TooSlow,
    Gone,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub answered: Answered,
    /// (event id, subject) of each event it carried, in order.
    pub events: Vec<(String, String)>,
}

impl Arrival {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The Standard Webhooks check, written here independently of nudge's.
    pub fn verifies(&self, secret: &str) -> bool {
        let Some(key) = secret.strip_prefix("whsec_").and_then(|k| STANDARD.decode(k).ok()) else { return false };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.", self.header("webhook-id"), self.header("webhook-timestamp")).as_bytes());
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        let fresh = self
            .header("webhook-timestamp")
            .parse::<i64>()
            .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
        fresh && self.header("webhook-signature").split(' ').any(|s| s == expected)
    }
}

#[derive(Default)]
struct Shared {
    arrivals: Mutex<Vec<Arrival>>,
    fail_next: AtomicUsize,
    slow_next: AtomicUsize,
    gone: AtomicBool,
    allow_handshake: AtomicBool,
    /// Milliseconds every taken request waits before its answer.
    delay_ms: std::sync::atomic::AtomicU64,
    /// Milliseconds a handshake waits before its answer.
    handshake_delay_ms: std::sync::atomic::AtomicU64,
    handshakes: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    port: u16,
    shared: Arc<Shared>,
    running: Option<(CancellationToken, JoinHandle<()>)>,
    /// Bound to the port for the receiver's life and never listening: while the
    /// receiver is stopped, connections are refused and the port cannot be
    /// taken (the listener shares it through `SO_REUSEPORT`, which a stranger's
    /// socket does not set).
    _port_held: TcpSocket,
}

/// Longer than the one second the tests' nudge waits.
const TOO_SLOW: Duration = Duration::from_millis(1_500);

impl Receiver {
    pub async fn start() -> Self {
        let held = TcpSocket::new_v4().unwrap();
        held.set_reuseport(true).unwrap();
        held.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
        let port = held.local_addr().unwrap().port();
        let shared = Arc::new(Shared { allow_handshake: AtomicBool::new(true), ..Shared::default() });
        let url = format!("http://127.0.0.1:{port}/hooks");
        let mut receiver = Self { url, port, shared, running: None, _port_held: held };
        receiver.serve();
        receiver
    }

    /// Listens on the held port and answers.
    fn serve(&mut self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseport(true).unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))).unwrap();
        let listener = socket.listen(1_024).unwrap();
        let app = Router::new().route("/hooks", post(deliver).options(handshake)).with_state(Arc::clone(&self.shared));
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await.unwrap();
        });
        self.running = Some((stop, task));
    }

    /// Stops listening: nudge's attempts fail to connect (refused), and the port stays held.
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            stop.cancel();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        self.serve();
    }

    pub fn fail_next(&self, n: usize) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn slow_next(&self, n: usize) {
        self.shared.slow_next.store(n, Ordering::SeqCst);
    }

    /// Answers every taken request after `delay` (within nudge's patience).
    pub fn delay(&self, delay: Duration) {
        self.shared.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Answers every handshake after `delay`.
    pub fn delay_handshakes(&self, delay: Duration) {
        self.shared.handshake_delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// How many validation handshakes arrived.
    pub fn handshakes(&self) -> usize {
        self.shared.handshakes.load(Ordering::SeqCst)
    }

    /// The most delivery requests that were in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    /// Whether the validation handshake is answered with the origin.
    pub fn allow_handshake(&self, allow: bool) {
        self.shared.allow_handshake.store(allow, Ordering::SeqCst);
    }

    pub fn gone(&self, gone: bool) {
        self.shared.gone.store(gone, Ordering::SeqCst);
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.arrivals.lock().unwrap().clone()
    }

    /// Ids of the events answered 2xx.
    pub fn taken(&self) -> std::collections::HashSet<String> {
        self.arrivals()
            .iter()
            .filter(|a| a.answered == Answered::Ok)
            .flat_map(|a| a.events.iter().map(|(id, _)| id.clone()))
            .collect()
    }

    /// Waits (two minutes at most) until `done` holds of the arrivals.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Arrival]) -> bool) {
        for _ in 0..1_200 {
            if done(&self.arrivals()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver did not see {what} within two minutes");
    }
}

async fn handshake(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> impl IntoResponse {
    shared.handshakes.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(shared.handshake_delay_ms.load(Ordering::SeqCst))).await;
    let origin = headers.get("webhook-request-origin").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if shared.allow_handshake.load(Ordering::SeqCst) && !origin.is_empty() {
        (StatusCode::OK, [("webhook-allowed-origin", origin), ("allow", "POST".to_owned())]).into_response()
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

/// The (id, subject) of each event of a structured, binary or batch request.
fn events(headers: &HeaderMap, body: &Bytes) -> Vec<(String, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !header("ce-id").is_empty() {
        return vec![(header("ce-id"), header("ce-subject"))];
    }
    let one = |e: &Value| (e["id"].as_str().unwrap_or("").to_owned(), e["subject"].as_str().unwrap_or("").to_owned());
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(list)) => list.iter().map(one).collect(),
        Ok(event) => vec![one(&event)],
        Err(_) => Vec::new(),
    }
}

/// Counts the request in flight while `answer` runs.
async fn deliver(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let status = answer(&shared, headers, body).await;
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    status
}

async fn answer(shared: &Shared, headers: HeaderMap, body: Bytes) -> StatusCode {
    let answered = if shared.gone.load(Ordering::SeqCst) {
        Answered::Gone
    } else if take_one(&shared.fail_next) {
        Answered::Failed
    } else if take_one(&shared.slow_next) {
        Answered::TooSlow
    } else {
        Answered::Ok
    };
    let events = events(&headers, &body);
    shared.arrivals.lock().unwrap().push(Arrival { headers, body, answered, events });
    match answered {
        Answered::Ok => {
            tokio::time::sleep(Duration::from_millis(shared.delay_ms.load(Ordering::SeqCst))).await;
            StatusCode::NO_CONTENT
        }
        Answered::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        Answered::Gone => StatusCode::GONE,
        Answered::TooSlow => {
            tokio::time::sleep(TOO_SLOW).await;
            StatusCode::NO_CONTENT
        }
    }
}

#[tokio::test]
async fn a_stopped_receiver_keeps_its_port_and_refuses_connections() {
    let mut receiver = Receiver::start().await;
    receiver.stop().await;
    let address = ("127.0.0.1", receiver.port);
    assert!(TcpListener::bind(address).await.is_err(), "another server took the stopped receiver's port");
    let refused = tokio::net::TcpStream::connect(address).await.map(|_| ()).map_err(|e| e.kind());
    assert_eq!(refused, Err(std::io::ErrorKind::ConnectionRefused));
    receiver.restart().await;
    assert!(tokio::net::TcpStream::connect(address).await.is_ok());
}
