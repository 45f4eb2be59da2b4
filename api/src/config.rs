//! `nudge serve`'s configuration from the command line and the environment,
//! typed and validated by clap: what [`crate::app::Settings`] is made from.

use std::{net::SocketAddr, num::NonZeroU32, time::Duration};

use axum::http::HeaderValue;
use clap::{Args, builder::BoolishValueParser};

use chrono::{DateTime, Utc};
use domain::EventTimeWindow;
use projections::ProjectionConfig;
use webhooks::{Cidr, ClientConfig, DispatcherConfig, RetrySchedule, TargetPolicy, Waits};

mod checks;
#[cfg(test)]
mod documented;
mod policy;
pub(crate) mod values;

pub use policy::PolicyArgs;

use crate::{
    durations::{DAY, MS, S, between},
    server::HttpConfig,
    server::Limits,
    server::dapr::{AppToken, Dapr, Topic},
    server::serve::Timeouts,
};

/// Options of `nudge serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NUDGE_LISTEN", default_value = "127.0.0.1:8080", value_parser = values::listen_address)]
    pub listen: SocketAddr,
    /// Also serve `GET /metrics` (and nothing else) on this address, e.g. for a
    /// scraper on another network; `/metrics` stays on `--listen` too.
    #[arg(long, env = "NUDGE_METRICS_LISTEN", value_parser = values::listen_address)]
    pub metrics_listen: Option<SocketAddr>,
    /// Where the other instances reach this one's API (`http://10.0.0.7:8080`):
    /// they forward it the feature reads of its players. Default: `http://` and
    /// the `--listen` address, unless that is every interface (`0.0.0.0`).
    #[arg(long, env = "NUDGE_ADVERTISE_URL", value_parser = values::advertise_url)]
    pub advertise_url: Option<String>,
    /// A PEM file of the certificate authorities that sign other instances'
    /// certificates, when their `--advertise-url` is `https` and those are not
    /// publicly trusted; trusted beside the public ones, for forwarded reads only.
    #[arg(long, env = "NUDGE_PEER_CA", value_name = "FILE", value_parser = values::peer_roots)]
    pub peer_ca: Option<values::PeerRoots>,
    /// Event store URL: `sqlite://path`, `postgres://...` or `kurrentdb://...`.
    #[arg(long, env = "NUDGE_STORE", default_value = "sqlite://data/nudge.db", hide_env_values = true)]
    pub store: String,
    /// Read-model database URL: `sqlite://path` or `postgres://...`. Defaults to the
    /// store's own database when that is SQLite or PostgreSQL, else `sqlite://data/read-models.db`.
    #[arg(long, env = "NUDGE_READ_MODELS", hide_env_values = true)]
    pub read_models: Option<String>,
    /// Request limits and CORS.
    #[command(flatten)]
    pub http: HttpArgs,
    /// How the projections batch and hold their work.
    #[command(flatten)]
    pub projection: ProjectionArgs,
    /// The intervention policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Webhook delivery.
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    /// Dapr pub/sub.
    #[command(flatten)]
    pub dapr: DaprArgs,
}

impl ServeArgs {
    /// The read-model URL: the one given, or the default for the store.
    pub fn read_models_url(&self) -> String {
        self.read_models.clone().unwrap_or_else(|| crate::app::read_models_beside(&self.store))
    }

    /// The settings these arguments give.
    pub fn settings(&self) -> crate::app::Settings {
        crate::app::Settings {
            listen: self.listen,
            store: self.store.clone(),
            read_models: self.read_models_url(),
            projection: ProjectionConfig {
                policy: self.policy.policy(),
                address: self.advertise_url.clone().unwrap_or_default(),
                ..ProjectionConfig::from(&self.projection)
            },
            http: crate::server::HttpConfig {
                dapr: self.dapr.dapr(),
                peer_roots: self.peer_ca.as_ref().map(|roots| roots.0.clone()).unwrap_or_default(),
                ..crate::server::HttpConfig::from(&self.http)
            },
            webhooks: self.webhooks.dispatcher(),
        }
    }
}

/// Dapr pub/sub settings.
#[derive(Debug, Args, Clone)]
pub struct DaprArgs {
    /// The Dapr pub/sub component whose `--dapr-topic` nudge subscribes to (answered at `GET /dapr/subscribe`).
    #[arg(long, env = "NUDGE_DAPR_PUBSUB", requires = "dapr_topic", value_parser = values::dapr_name)]
    pub dapr_pubsub: Option<String>,
    /// The topic of player events, delivered to `POST /v1/events`.
    #[arg(long, env = "NUDGE_DAPR_TOPIC", requires = "dapr_pubsub", value_parser = values::dapr_name)]
    pub dapr_topic: Option<String>,
    /// Dapr's app API token (`APP_API_TOKEN`): a call bearing it in `dapr-api-token`
    /// may ingest events and read the subscription, as a key of scope `events:write`.
    /// Checked with the contradicting flags, so that a refusal never prints it.
    #[arg(long, env = "NUDGE_DAPR_APP_TOKEN", hide_env_values = true)]
    pub dapr_app_token: Option<String>,
}

impl DaprArgs {
    /// The Dapr settings.
    pub fn dapr(&self) -> Dapr {
        let subscription =
            self.dapr_pubsub.clone().zip(self.dapr_topic.clone()).map(|(pubsub, topic)| Topic { pubsub, topic });
        Dapr { subscription, app_token: self.dapr_app_token.as_deref().map(AppToken::new) }
    }
}

/// Projection tuning.
#[derive(Debug, Args, Clone)]
pub struct ProjectionArgs {
    /// Most events in one projection micro-batch, folded at once.
    #[arg(long, env = "NUDGE_PROJECTION_BATCH_EVENTS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub projection_batch_events: u32,
    /// How long a micro-batch waits for more events after its first while they
    /// arrive at up to 2,000 a second; in proportion to the rate above it.
    #[arg(long, env = "NUDGE_PROJECTION_BATCH_WAIT", default_value = "1ms",
          value_parser = between(Duration::ZERO, 10 * S, None))]
    pub projection_batch_wait: Duration,
    /// The longest a micro-batch waits, however fast events arrive.
    #[arg(long, env = "NUDGE_PROJECTION_BATCH_WAIT_MAX", default_value = "5ms",
          value_parser = between(Duration::ZERO, 10 * S, None))]
    pub projection_batch_wait_max: Duration,
    /// Deprecated: `--projection-batch-wait`, a plain number in milliseconds.
    #[arg(long, env = "NUDGE_PROJECTION_BATCH_WAIT_MS", hide = true, conflicts_with = "projection_batch_wait",
          value_parser = between(Duration::ZERO, 10 * S, Some(MS)))]
    pub projection_batch_wait_ms: Option<Duration>,
    /// How long a changed player's feature row may wait in memory before it is
    /// written: one row then stands for all their events in the wait. An
    /// instance that does not hold the player's partition forwards feature
    /// reads to the one that does, and reads the stored row, up to this much
    /// older, only when it cannot; 0 writes every row with its batch.
    #[arg(long, env = "NUDGE_PROJECTION_WRITE_BEHIND", default_value = "1s",
          value_parser = between(Duration::ZERO, 60 * S, None))]
    pub projection_write_behind: Duration,
    /// Player partitions folding in parallel.
    #[arg(long, env = "NUDGE_PROJECTION_PARTITIONS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub projection_partitions: u16,
    /// Most players whose fold state is held in memory.
    #[arg(long, env = "NUDGE_PROJECTION_PLAYERS_IN_MEMORY", default_value_t = 200_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub projection_players_in_memory: u32,
    /// How long after which an untouched player leaves memory.
    #[arg(long, env = "NUDGE_PROJECTION_IDLE", default_value = "10m", value_parser = between(S, 365 * DAY, None))]
    pub projection_idle: Duration,
    /// Deprecated: `--projection-idle`, a plain number in seconds.
    #[arg(long, env = "NUDGE_PROJECTION_IDLE_SECONDS", hide = true, conflicts_with = "projection_idle",
          value_parser = between(S, 365 * DAY, Some(S)))]
    pub projection_idle_seconds: Option<Duration>,
    /// Logical partitions players are spread over, recorded when the read-model
    /// database is made (64 if not given) and fixed since: another number is refused.
    #[arg(long, env = "NUDGE_PARTITIONS", value_parser = clap::value_parser!(u32).range(1..=4_096))]
    pub partitions: Option<u32>,
    /// How long an instance's partition leases hold unless renewed (renewed
    /// ten times as often): another instance takes a crashed one's partitions
    /// this long after its last renewal.
    #[arg(long, env = "NUDGE_LEASE_TTL", default_value = "5s", value_parser = between(S, 300 * S, None))]
    pub lease_ttl: Duration,
    /// Most players whose current features are kept in memory for reads (0 keeps none).
    #[arg(long, env = "NUDGE_FEATURE_CACHE_ENTRIES", default_value_t = 100_000)]
    pub feature_cache_entries: u32,
}

/// Webhook delivery settings.
#[derive(Debug, Args, Clone)]
pub struct WebhookArgs {
    /// This deployment's name: webhook events have the source `/nudge/{instance}`.
    #[arg(long, env = "NUDGE_INSTANCE", default_value = "nudge", value_parser = instance_name)]
    pub instance: String,
    /// The `WebHook-Request-Origin` of the CloudEvents validation handshake
    /// (default: the instance name).
    #[arg(long, env = "NUDGE_WEBHOOK_ORIGIN", value_parser = values::header_name)]
    pub webhook_origin: Option<String>,
    /// Deliver to every special-purpose address too (loopback, private, link-local, ...);
    /// its variable takes true or false, 1 or 0, yes or no, on or off.
    #[arg(long, env = "NUDGE_ALLOW_PRIVATE_WEBHOOKS", value_parser = BoolishValueParser::new())]
    pub allow_private_webhooks: bool,
    /// Deliver to the special-purpose addresses in these blocks only (`10.1.2.0/24,fd00::/64`).
    #[arg(long, env = "NUDGE_ALLOW_WEBHOOK_CIDRS", value_delimiter = ',')]
    pub allow_webhook_cidrs: Vec<Cidr>,
    /// Waits between attempts of a failed delivery; the last one repeats.
    #[arg(long, env = "NUDGE_WEBHOOK_RETRY_SCHEDULE", default_value = "5s,30s,2m,10m,1h,6h", value_parser = waits)]
    pub webhook_retry_schedule: Waits,
    /// How long after its first attempt a delivery is retried before it is dead-lettered.
    #[arg(long, env = "NUDGE_WEBHOOK_RETRY_WINDOW", default_value = "3d", value_parser = between(S, 365 * DAY, None))]
    pub webhook_retry_window: Duration,
    /// Longest wait for a subscriber's connection.
    #[arg(long, env = "NUDGE_WEBHOOK_CONNECT_TIMEOUT", default_value = "5s", value_parser = between(MS, DAY, None))]
    pub webhook_connect_timeout: Duration,
    /// Longest a delivery attempt may take, answer included.
    #[arg(long, env = "NUDGE_WEBHOOK_TIMEOUT", default_value = "15s", value_parser = between(MS, DAY, None))]
    pub webhook_timeout: Duration,
    /// Requests in flight per subscription.
    #[arg(long, env = "NUDGE_WEBHOOK_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=1_024))]
    pub webhook_concurrency: u16,
}

impl WebhookArgs {
    /// The dispatcher's settings.
    pub fn dispatcher(&self) -> DispatcherConfig {
        let defaults = DispatcherConfig::default();
        DispatcherConfig {
            client: ClientConfig {
                connect_timeout: self.webhook_connect_timeout,
                timeout: self.webhook_timeout,
                targets: TargetPolicy {
                    allow_private: self.allow_private_webhooks,
                    allow_cidrs: self.allow_webhook_cidrs.clone(),
                },
                instance: self.instance.clone(),
                origin: self.webhook_origin.clone().unwrap_or_else(|| self.instance.clone()),
            },
            schedule: RetrySchedule {
                waits: self.webhook_retry_schedule.0.clone(),
                window: self.webhook_retry_window,
                ..defaults.schedule
            },
            concurrency: usize::from(self.webhook_concurrency),
            ..defaults
        }
    }
}

/// Waits written `5s,30s,2m`: at least one, none of them zero.
fn waits(raw: &str) -> Result<Waits, String> {
    raw.split(',').map(between(MS, 365 * DAY, None)).collect::<Result<Vec<_>, _>>().map(Waits)
}

/// An instance name: letters, digits, `.`, `-` and `_`, as a URI path segment takes them.
fn instance_name(s: &str) -> Result<String, String> {
    let fits = !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if fits { Ok(s.to_owned()) } else { Err("1 to 64 letters, digits, `.`, `-` or `_`".to_owned()) }
}

impl From<&ProjectionArgs> for ProjectionConfig {
    fn from(args: &ProjectionArgs) -> Self {
        Self {
            batch_events: args.projection_batch_events as usize,
            batch_wait: args.projection_batch_wait_ms.unwrap_or(args.projection_batch_wait),
            batch_wait_max: args.projection_batch_wait_max,
            partitions: usize::from(args.projection_partitions),
            players_in_memory: args.projection_players_in_memory as usize,
            idle: args.projection_idle_seconds.unwrap_or(args.projection_idle),
            logical_partitions: args.partitions.and_then(std::num::NonZeroU32::new),
            lease_ttl: args.lease_ttl,
            feature_cache_entries: args.feature_cache_entries as usize,
            write_behind: args.projection_write_behind,
            ..Self::default()
        }
    }
}

/// Request limits and CORS.
#[derive(Debug, Args, Clone)]
pub struct HttpArgs {
    /// Largest request body in bytes; larger ones get 413.
    #[arg(long, env = "NUDGE_BODY_LIMIT", default_value_t = 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(1024..=64 * 1024 * 1024))]
    pub body_limit: u32,
    /// Most events in one batch request.
    #[arg(long, env = "NUDGE_MAX_BATCH", default_value_t = 1_000,
          value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub max_batch: u16,
    /// Longest a request may take (a plain number of seconds is deprecated).
    #[arg(long, env = "NUDGE_REQUEST_TIMEOUT", default_value = "30s", value_parser = between(S, 3_600 * S, Some(S)))]
    pub request_timeout: Duration,
    /// Longest wait for a request's headers: from the connection's start, or
    /// from the previous answer on a kept-alive one. Then the connection is closed.
    #[arg(long, env = "NUDGE_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = between(S, 3_600 * S, None))]
    pub header_read_timeout: Duration,
    /// Longest a connection may move no byte either way while nudge waits on it
    /// (a stalled body, an answer not read); longer than the request timeout.
    #[arg(long, env = "NUDGE_IDLE_TIMEOUT", default_value = "60s", value_parser = between(S, DAY, None))]
    pub idle_timeout: Duration,
    /// Largest page (`limit`) a list may ask for.
    #[arg(long, env = "NUDGE_MAX_PAGE", default_value_t = 1_000,
          value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub max_page: u16,
    /// Requests per second each API key may make (bursts of as many); 0 for no limit.
    /// Over it: 429 with Retry-After.
    #[arg(long, env = "NUDGE_RATE_LIMIT", default_value_t = 1_000)]
    pub rate_limit: u32,
    /// Origins browsers may call the API from (CORS), comma-separated, e.g.
    /// `https://ops.example.com`; `*` for any. None by default: CORS off.
    #[arg(long, env = "NUDGE_CORS_ORIGINS", value_delimiter = ',', value_parser = values::origin)]
    pub cors_origins: Vec<HeaderValue>,
    /// Earliest event `time` accepted: RFC 3339 as events carry it, or a date (`YYYY-MM-DD`, its midnight UTC).
    #[arg(long, env = "NUDGE_EVENT_TIME_MIN", default_value = "2000-01-01", value_parser = values::time)]
    pub event_time_min: DateTime<Utc>,
    /// How far ahead of the server's clock an event `time` may be.
    #[arg(long, env = "NUDGE_EVENT_TIME_MAX_AHEAD", default_value = "24h",
          value_parser = between(Duration::ZERO, Duration::MAX, None))]
    pub event_time_max_ahead: Duration,
}

impl From<&HttpArgs> for HttpConfig {
    fn from(args: &HttpArgs) -> Self {
        Self {
            limits: Limits {
                body_bytes: args.body_limit as usize,
                max_batch: usize::from(args.max_batch),
                max_page: usize::from(args.max_page),
                request_timeout: args.request_timeout,
                rate_per_key: NonZeroU32::new(args.rate_limit),
                event_times: EventTimeWindow {
                    earliest: args.event_time_min,
                    max_ahead: chrono::Duration::from_std(args.event_time_max_ahead).unwrap_or(chrono::Duration::MAX),
                },
            },
            cors_origins: args.cors_origins.clone(),
            dapr: Dapr::default(),
            timeouts: Timeouts { header_read: args.header_read_timeout, idle: args.idle_timeout },
            peer_roots: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn allowed_webhook_blocks_are_a_comma_separated_list_of_cidrs() {
        let parse = |list: &str| Cli::try_parse_from(["nudge", "serve", "--allow-webhook-cidrs", list]);
        let Ok(Cli { command: Command::Serve(serve), .. }) = parse("10.1.2.0/24,fd00::/64") else { panic!("parses") };
        let targets = serve.webhooks.dispatcher().client.targets;
        assert_eq!(targets.allow_cidrs, vec![Cidr::v4([10, 1, 2, 0], 24), "fd00::/64".parse().unwrap()]);
        assert!(!targets.allow_private);
        assert!(parse("10.1.2.3/24").is_err());
    }

    #[test]
    fn the_event_time_window_is_a_time_or_date_and_a_duration() {
        let parse = |args: &[&str]| {
            HttpConfig::from(
                &Cli::try_parse_from([&["nudge", "serve"], args].concat())
                    .map(|cli| match cli.command {
                        Command::Serve(serve) => serve.http,
                        _ => panic!("serve"),
                    })
                    .unwrap(),
            )
            .limits
            .event_times
        };
        assert_eq!(parse(&[]), EventTimeWindow::default());
        let window = parse(&["--event-time-min", "2020-01-01", "--event-time-max-ahead", "90m"]);
        assert_eq!(
            (window.earliest.to_rfc3339(), window.max_ahead),
            ("2020-01-01T00:00:00+00:00".to_owned(), chrono::Duration::minutes(90))
        );
        assert_eq!(
            parse(&["--event-time-min", "2020-01-01T06:00:00+02:00"]).earliest.to_rfc3339(),
            "2020-01-01T04:00:00+00:00"
        );
        for refused in ["yesterday", "2020-01-01 06:00:00Z", "2020-1-1", "+2020-01-01", " 2020-01-01"] {
            assert!(Cli::try_parse_from(["nudge", "serve", "--event-time-min", refused]).is_err(), "{refused}");
        }
    }

    #[test]
    fn peer_ca_is_read_at_start_up_and_refused_naming_the_flag() {
        let refused = Cli::try_parse_from(["nudge", "serve", "--peer-ca", "/nonexistent/ca.pem"]).map(|_| ());
        assert!(refused.is_err_and(|e| e.to_string().contains("'--peer-ca <FILE>': cannot read")));
        let Ok(Cli { command: Command::Serve(serve), .. }) = Cli::try_parse_from(["nudge", "serve"]) else { panic!() };
        assert!(serve.settings().http.peer_roots.is_empty(), "only the public authorities by default");
    }
}
