//! The HTTP side of a delivery: one signed POST (or the validation `OPTIONS`),
//! with the timeouts, no redirects, a bounded read of the answer, and no
//! connection to a special-purpose address the target policy does not allow.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use domain::TRACEPARENT;
use reqwest::{
    StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
    header::{CONTENT_TYPE, RETRY_AFTER},
};
use uuid::Uuid;

use crate::{
    BATCH_CONTENT_TYPE, Binary, Event, Mode, STRUCTURED_CONTENT_TYPE, Subscription, TargetPolicy, WebhookError, batch,
    binary, retry::parse_retry_after, sign, structured,
};

/// The most of an answer's body nudge reads.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How the client connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest a whole attempt may take.
    pub timeout: Duration,
    /// Which special-purpose addresses (private, loopback, link-local, ...) may be delivered to.
    pub targets: TargetPolicy,
    /// The CloudEvent `source` is `/nudge/{instance}`.
    pub instance: String,
    /// The `WebHook-Request-Origin` of the validation handshake.
    pub origin: String,
}

impl Default for ClientConfig {
    /// Connect within 5 s, finish within 15 s, public addresses only, instance `nudge`.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            targets: TargetPolicy::default(),
            instance: "nudge".to_owned(),
            origin: "nudge".to_owned(),
        }
    }
}

/// What the subscriber made of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status, if it answered.
    pub status: Option<StatusCode>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// The subscriber's `Retry-After`.
    pub retry_after: Option<Duration>,
    /// How long the attempt took.
    pub latency: Duration,
}

impl Answer {
    /// Whether the subscriber took the events.
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| s.is_success())
    }

    /// Whether the subscriber says it is gone for good.
    pub fn gone(&self) -> bool {
        self.status == Some(StatusCode::GONE)
    }
}

/// Resolves names to the addresses the policy allows only.
struct Allowed(Arc<TargetPolicy>);

impl Resolve for Allowed {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let policy = Arc::clone(&self.0);
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all.iter().copied().filter(|a| policy.refusal(a.ip()).is_none()).collect();
            match (allowed.is_empty(), all.first().and_then(|a| policy.refusal(a.ip()))) {
                (true, Some(refused)) => Err(refused.to_string().into()),
                (true, None) => Err(format!("{host} has no address").into()),
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// Sends deliveries.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: Arc<ClientConfig>,
}

impl Sender {
    /// A client with the configured timeouts; no redirects, no proxy.
    pub fn new(config: ClientConfig) -> Result<Self, WebhookError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tcp_nodelay(true)
            .user_agent(concat!("nudge/", env!("CARGO_PKG_VERSION")));
        if !config.targets.allow_private {
            builder = builder.dns_resolver(Arc::new(Allowed(Arc::new(config.targets.clone()))));
        }
        Ok(Self { client: builder.build()?, config: Arc::new(config) })
    }

    /// Until when a delivery claimed at `now` may stay in flight before it is
    /// due again: its attempt's timeout and 5 s more (for ever, past the last
    /// time chrono holds).
    pub fn leased_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        crate::retry::after(now, self.config.timeout.saturating_add(Duration::from_secs(5)))
    }

    /// POSTs `events` (one, or a batch) to the subscription, signed at `now`.
    pub async fn deliver(&self, subscription: &Subscription, events: &[Event], now: DateTime<Utc>) -> Answer {
        let start = Instant::now();
        if let Err(error) = self.allowed(&subscription.url) {
            return Answer { status: None, error: Some(error), retry_after: None, latency: start.elapsed() };
        }
        let instance = &self.config.instance;
        // One event's request carries its trace; a batch's events may belong to
        // several traces, so they carry theirs in their extensions only.
        let (message_id, body, mut headers, trace) = match (subscription.mode, events) {
            (Mode::Structured, [event]) => (
                event.id.clone(),
                structured(event, instance),
                vec![(CONTENT_TYPE.to_string(), STRUCTURED_CONTENT_TYPE.to_owned())],
                event.traceparent,
            ),
            (Mode::Binary, [event]) => {
                let Binary { headers, body } = binary(event, instance);
                (event.id.clone(), body, headers, event.traceparent)
            }
            _ => {
                let ids = events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(",");
                let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, ids.as_bytes()).to_string();
                (id, batch(events, instance), vec![(CONTENT_TYPE.to_string(), BATCH_CONTENT_TYPE.to_owned())], None)
            }
        };
        if let Some(trace) = trace {
            headers.push((TRACEPARENT.to_owned(), trace.to_string()));
        }
        let signed = sign(&subscription.secrets_at(now), &message_id, now.timestamp(), &body);
        let mut request = self
            .client
            .post(&subscription.url)
            .header("webhook-id", &signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", &signed.signature);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.body(body).send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Utc::now()));
                let text = read_bounded(response).await;
                let error = (!status.is_success()).then(|| {
                    let excerpt: String = text.chars().take(200).collect();
                    format!(
                        "answered {status}{}",
                        if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") }
                    )
                });
                Answer { status: Some(status), error, retry_after, latency: start.elapsed() }
            }
            Err(error) => {
                Answer { status: None, error: Some(describe(&error)), retry_after: None, latency: start.elapsed() }
            }
        }
    }

    /// The CloudEvents webhook validation handshake: an `OPTIONS` request with
    /// `WebHook-Request-Origin`; the subscriber allows nudge by answering 2xx
    /// with `WebHook-Allowed-Origin` naming that origin or `*`.
    pub async fn handshake(&self, url: &str) -> Result<(), String> {
        self.allowed(url)?;
        let origin = &self.config.origin;
        let response = self
            .client
            .request(reqwest::Method::OPTIONS, url)
            .header("WebHook-Request-Origin", origin)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        let allowed = response.headers().get("WebHook-Allowed-Origin").and_then(|v| v.to_str().ok()).map(str::to_owned);
        read_bounded(response).await;
        match allowed {
            _ if !status.is_success() => Err(format!("the handshake was answered {status}")),
            Some(allowed) if allowed == "*" || allowed.eq_ignore_ascii_case(origin) => Ok(()),
            Some(other) => Err(format!("WebHook-Allowed-Origin is `{other}`, not `{origin}`")),
            None => Err("the handshake answer has no WebHook-Allowed-Origin".to_owned()),
        }
    }

    /// Refuses an address literal the target policy does not allow (names are
    /// checked as they resolve).
    fn allowed(&self, url: &str) -> Result<(), String> {
        let host = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let literal = host
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        match literal.and_then(|ip| self.config.targets.refusal(ip)) {
            Some(refused) => Err(refused.to_string()),
            None => Ok(()),
        }
    }
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of an answer's body, as text.
async fn read_bounded(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_RESPONSE_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_RESPONSE_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// A transport error in a few words, with its cause.
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_redirect() {
        "redirected (redirects are not followed)"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() { what.to_owned() } else { format!("{what}: {cause}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_leased_for_the_attempts_timeout_and_five_seconds_or_for_ever() {
        let now = Utc::now();
        let sender = Sender::new(ClientConfig::default()).unwrap();
        assert_eq!(sender.leased_until(now), now + chrono::Duration::seconds(20));
        let endless = Sender::new(ClientConfig { timeout: Duration::MAX, ..ClientConfig::default() }).unwrap();
        assert_eq!(endless.leased_until(now), DateTime::<Utc>::MAX_UTC);
    }

    #[tokio::test]
    async fn every_connection_is_checked_against_the_target_policy() {
        let sender = Sender::new(ClientConfig::default()).unwrap();
        for (url, range) in [
            ("http://[2002:7f00:1::]:9/hooks", "127.0.0.0/8"),
            ("http://[64:ff9b::a9fe:a9fe]:9/hooks", "169.254.0.0/16"),
            ("http://224.0.0.1:9/hooks", "224.0.0.0/4"),
            ("http://localhost:9/hooks", "(loopback)"),
        ] {
            let refused = sender.handshake(url).await.unwrap_err();
            assert!(refused.contains(range) && refused.contains("--allow-webhook-cidrs"), "{url}: {refused}");
        }
    }
}
