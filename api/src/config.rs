//! Command line and environment configuration, typed and validated by clap.

use std::{net::SocketAddr, num::NonZeroU32, time::Duration};

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};

use domain::{Cooldowns, InterventionKind, Policy};
use projections::ProjectionConfig;
use webhooks::{ClientConfig, DispatcherConfig, RetrySchedule, Waits, parse_duration};

use crate::{
    HttpConfig, Limits,
    dapr::{AppToken, Dapr, Topic},
    keys::Scope,
    telemetry::LogFormat,
};

/// nudge: player events in, timely interventions out.
#[derive(Debug, Parser)]
#[command(name = "nudge", version, about)]
pub struct Cli {
    /// Log line format.
    #[arg(long, env = "NUDGE_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Export spans over OTLP/HTTP to this collector, e.g. `http://127.0.0.1:4318`
    /// (`/v1/traces` is appended to a URL without a path). Off when not given.
    #[arg(long, env = "NUDGE_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<reqwest::Url>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// nudge's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Measure nudge.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Simulate a player population: post its events to a running nudge or write them to a file.
    Simulate(SimulateArgs),
    /// Train a model version by replaying every player stream, and print its metrics.
    Train(TrainArgs),
    /// Manage API keys: create (printed once), list, revoke.
    Keys(KeysArgs),
    /// Replay history with a model version and report who was warned, and when.
    Backtest(BacktestArgs),
    /// Start nudge on SQLite, simulate a month, train and activate a model, then
    /// stream more activity and print recommendations as they happen.
    Demo(DemoArgs),
    /// Print the OpenAPI 3.1 document of the HTTP API (the committed `openapi.json`).
    Openapi,
}

/// Options of `nudge keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Event store URL: the keys live in its read-model database.
    #[arg(long, env = "NUDGE_STORE", default_value = "sqlite://data/nudge.db", hide_env_values = true, global = true)]
    pub store: String,
    /// Read-model database URL; defaults as for `nudge serve`.
    #[arg(long, env = "NUDGE_READ_MODELS", hide_env_values = true, global = true)]
    pub read_models: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `nudge keys` commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it (only this once).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// Its scopes: `events:write`, `read`, `admin` (admin implies the others).
        #[arg(long, value_parser = scopes)]
        scopes: ScopeList,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key, at once.
    Revoke {
        /// The key's id, as listed.
        id: uuid::Uuid,
    },
}

/// Scopes written `events:write,read`.
#[derive(Debug, Clone)]
pub struct ScopeList(pub Vec<Scope>);

fn scopes(s: &str) -> Result<ScopeList, String> {
    Scope::parse_list(s).map(ScopeList)
}

/// Options of `nudge demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address nudge serves on meanwhile (browse the API while the demo runs).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Folder for the demo's SQLite file; emptied first.
    #[arg(long, default_value = "data/demo")]
    pub folder: std::path::PathBuf,
    /// Players simulated.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub players: u64,
    /// Days of history the model trains on.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(14..=365))]
    pub history_days: u32,
    /// Days of activity streamed once the model is active.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub live_days: u32,
    /// Real milliseconds per simulated hour of the streamed activity.
    #[arg(long, default_value_t = 1_000)]
    pub hour_ms: u64,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Options of `nudge backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The model version to decide with (from the registry).
    #[arg(long)]
    pub model: String,
    /// Event store URL to replay.
    #[arg(long, env = "NUDGE_STORE", default_value = "sqlite://data/nudge.db", hide_env_values = true)]
    pub store: String,
    /// Read-model database holding the registry; defaults as for `nudge serve`.
    #[arg(long, env = "NUDGE_READ_MODELS", hide_env_values = true)]
    pub read_models: Option<String>,
    /// Count players and recommendations from this time on (RFC 3339), e.g. the
    /// start of the model's test split; the model still sees all that came before.
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// The intervention policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Options of `nudge train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Event store URL to replay.
    #[arg(long, env = "NUDGE_STORE", default_value = "sqlite://data/nudge.db", hide_env_values = true)]
    pub store: String,
    /// Precision the harm threshold is chosen for, on the validation points.
    #[arg(long, default_value_t = 0.5, value_parser = unit_interval)]
    pub harm_precision: f64,
    /// Precision the churn threshold is chosen for, on the validation points.
    #[arg(long, default_value_t = 0.6, value_parser = unit_interval)]
    pub churn_precision: f64,
    /// Read-model database whose registry gets the version: `sqlite://path` or
    /// `postgres://...`; defaults as for `nudge serve`.
    #[arg(long, env = "NUDGE_READ_MODELS", hide_env_values = true)]
    pub read_models: Option<String>,
    /// Activate the version once trained (a running nudge picks it up at its next start).
    #[arg(long)]
    pub activate: bool,
    /// Also write the artifact (JSON) to this file.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// A number strictly between 0 and 1.
fn unit_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
        _ => Err(format!("`{s}` is not a number between 0 and 1")),
    }
}

/// Options of `nudge simulate`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["target", "out"])))]
pub struct SimulateArgs {
    /// Players in the population.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub players: u64,
    /// Seed: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of activity to simulate.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3_650))]
    pub days: u32,
    /// The first day (UTC); gaming days run from 06:00 to 06:00.
    #[arg(long, default_value = "2026-10-01")]
    pub start: chrono::NaiveDate,
    /// Shares of each archetype, e.g. `casual=0.42,regular=0.3,high_roller=0.05,at_risk=0.08,churner=0.15`.
    #[arg(long, default_value_t = ml::Mix::default())]
    pub mix: ml::Mix,
    /// Base URL of a running nudge to post the events to, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub target: Option<reqwest::Url>,
    /// API key (scope `events:write`) for `--target`.
    #[arg(long, env = "NUDGE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// File to write the events to, one CloudEvent (JSON) per line.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// File for the ground truth (each player's archetype and course), as CSV.
    /// Defaults to the `--out` file with `.truth.csv` appended, or `simulation-truth.csv`.
    #[arg(long)]
    pub truth: Option<std::path::PathBuf>,
    /// Events per request to `--target`.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,
    /// Requests in flight at once to `--target` (each player's events stay in order).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

impl SimulateArgs {
    /// Where the ground truth goes.
    pub fn truth_path(&self) -> std::path::PathBuf {
        match (&self.truth, &self.out) {
            (Some(path), _) => path.clone(),
            (None, Some(out)) => {
                let mut name = out.clone().into_os_string();
                name.push(".truth.csv");
                name.into()
            }
            (None, None) => "simulation-truth.csv".into(),
        }
    }
}

/// Options of `nudge serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NUDGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Also serve `GET /metrics` (and nothing else) on this address, e.g. for a
    /// scraper on another network; `/metrics` stays on `--listen` too.
    #[arg(long, env = "NUDGE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
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
        self.read_models.clone().unwrap_or_else(|| read_models_beside(&self.store))
    }
}

/// The read models' default home for a store: the same database when it is SQL.
pub fn read_models_beside(store: &str) -> String {
    match store.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite" | "postgres" | "postgresql") => store.to_owned(),
        _ => "sqlite://data/read-models.db".to_owned(),
    }
}

/// Dapr pub/sub settings.
#[derive(Debug, Args, Clone)]
pub struct DaprArgs {
    /// The Dapr pub/sub component whose `--dapr-topic` nudge subscribes to (answered at `GET /dapr/subscribe`).
    #[arg(long, env = "NUDGE_DAPR_PUBSUB", requires = "dapr_topic", value_parser = dapr_name)]
    pub dapr_pubsub: Option<String>,
    /// The topic of player events, delivered to `POST /v1/events`.
    #[arg(long, env = "NUDGE_DAPR_TOPIC", requires = "dapr_pubsub", value_parser = dapr_name)]
    pub dapr_topic: Option<String>,
    /// Dapr's app API token (`APP_API_TOKEN`): a call bearing it in `dapr-api-token`
    /// may ingest events and read the subscription, as a key of scope `events:write`.
    #[arg(long, env = "NUDGE_DAPR_APP_TOKEN", hide_env_values = true, value_parser = dapr_token)]
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

/// A pub/sub component or topic name: not empty, no spaces or control characters.
fn dapr_name(s: &str) -> Result<String, String> {
    let fits = !s.is_empty() && s.len() <= 256 && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if fits { Ok(s.to_owned()) } else { Err("1 to 256 characters, no spaces".to_owned()) }
}

/// An app API token long enough not to be guessed.
fn dapr_token(s: &str) -> Result<String, String> {
    if s.len() >= 16 { Ok(s.to_owned()) } else { Err("use a token of at least 16 characters".to_owned()) }
}

/// Projection tuning.
#[derive(Debug, Args, Clone)]
pub struct ProjectionArgs {
    /// Most events in one projection micro-batch (one read-model transaction).
    #[arg(long, env = "NUDGE_PROJECTION_BATCH_EVENTS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub projection_batch_events: u32,
    /// Longest a micro-batch waits for more events after its first, in milliseconds.
    #[arg(long, env = "NUDGE_PROJECTION_BATCH_WAIT_MS", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(0..=10_000))]
    pub projection_batch_wait_ms: u16,
    /// Player partitions folding in parallel.
    #[arg(long, env = "NUDGE_PROJECTION_PARTITIONS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub projection_partitions: u16,
    /// Most players whose fold state is held in memory.
    #[arg(long, env = "NUDGE_PROJECTION_PLAYERS_IN_MEMORY", default_value_t = 200_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub projection_players_in_memory: u32,
    /// Seconds after which an untouched player leaves memory.
    #[arg(long, env = "NUDGE_PROJECTION_IDLE_SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub projection_idle_seconds: u32,
    /// Logical partitions players are spread over, recorded when the read-model
    /// database is made (64 if not given) and fixed since: another number is refused.
    #[arg(long, env = "NUDGE_PARTITIONS", value_parser = clap::value_parser!(u32).range(1..=4_096))]
    pub partitions: Option<u32>,
}

/// Webhook delivery settings.
#[derive(Debug, Args, Clone)]
pub struct WebhookArgs {
    /// This deployment's name: webhook events have the source `/nudge/{instance}`.
    #[arg(long, env = "NUDGE_INSTANCE", default_value = "nudge", value_parser = instance_name)]
    pub instance: String,
    /// The `WebHook-Request-Origin` of the CloudEvents validation handshake
    /// (default: the instance name).
    #[arg(long, env = "NUDGE_WEBHOOK_ORIGIN")]
    pub webhook_origin: Option<String>,
    /// Deliver to loopback, private, link-local and unspecified addresses too.
    #[arg(long, env = "NUDGE_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// Waits between attempts of a failed delivery; the last one repeats.
    #[arg(long, env = "NUDGE_WEBHOOK_RETRY_SCHEDULE", default_value = "5s,30s,2m,10m,1h,6h")]
    pub webhook_retry_schedule: Waits,
    /// How long after its first attempt a delivery is retried before it is dead-lettered.
    #[arg(long, env = "NUDGE_WEBHOOK_RETRY_WINDOW", default_value = "3d", value_parser = parse_duration)]
    pub webhook_retry_window: Duration,
    /// Longest wait for a subscriber's connection.
    #[arg(long, env = "NUDGE_WEBHOOK_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub webhook_connect_timeout: Duration,
    /// Longest a delivery attempt may take, answer included.
    #[arg(long, env = "NUDGE_WEBHOOK_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
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
                allow_private: self.allow_private_webhooks,
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

/// An instance name: letters, digits, `.`, `-` and `_`, as a URI path segment takes them.
fn instance_name(s: &str) -> Result<String, String> {
    let fits = !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if fits { Ok(s.to_owned()) } else { Err("1 to 64 letters, digits, `.`, `-` or `_`".to_owned()) }
}

/// The intervention policy's settings.
#[derive(Debug, Args, Clone)]
pub struct PolicyArgs {
    /// Minutes after a reality check before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_REALITY_CHECK", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(0..=525_600))]
    pub cooldown_reality_check: u32,
    /// Minutes after a deposit limit suggestion before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_DEPOSIT_LIMIT_SUGGESTION", default_value_t = 1_440,
          value_parser = clap::value_parser!(u32).range(0..=525_600))]
    pub cooldown_deposit_limit_suggestion: u32,
    /// Minutes after a cool-off offer before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_COOL_OFF", default_value_t = 1_440,
          value_parser = clap::value_parser!(u32).range(0..=525_600))]
    pub cooldown_cool_off: u32,
    /// Minutes after a retention offer before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_RETENTION_OFFER", default_value_t = 1_440,
          value_parser = clap::value_parser!(u32).range(0..=525_600))]
    pub cooldown_retention_offer: u32,
    /// Minutes after a game recommendation before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_GAME_RECOMMENDATION", default_value_t = 1_440,
          value_parser = clap::value_parser!(u32).range(0..=525_600))]
    pub cooldown_game_recommendation: u32,
}

impl PolicyArgs {
    /// The policy with the configured cooldowns.
    pub fn policy(&self) -> Policy {
        let minutes = [
            (InterventionKind::RealityCheck, self.cooldown_reality_check),
            (InterventionKind::DepositLimitSuggestion, self.cooldown_deposit_limit_suggestion),
            (InterventionKind::CoolOff, self.cooldown_cool_off),
            (InterventionKind::RetentionOffer, self.cooldown_retention_offer),
            (InterventionKind::GameRecommendation, self.cooldown_game_recommendation),
        ];
        let cooldowns = minutes.into_iter().fold(Cooldowns::default(), |c, (kind, m)| c.with(kind, i64::from(m) * 60));
        Policy::new(cooldowns)
    }
}

impl From<&ProjectionArgs> for ProjectionConfig {
    fn from(args: &ProjectionArgs) -> Self {
        Self {
            batch_events: args.projection_batch_events as usize,
            batch_wait: Duration::from_millis(u64::from(args.projection_batch_wait_ms)),
            partitions: usize::from(args.projection_partitions),
            players_in_memory: args.projection_players_in_memory as usize,
            idle: Duration::from_secs(u64::from(args.projection_idle_seconds)),
            logical_partitions: args.partitions.and_then(std::num::NonZeroU32::new),
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
    /// Longest a request may take, in seconds.
    #[arg(long, env = "NUDGE_REQUEST_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=3_600))]
    pub request_timeout: u16,
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
    #[arg(long, env = "NUDGE_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<HeaderValue>,
}

/// An origin as browsers send it (`scheme://host[:port]`), or `*`.
fn parse_origin(raw: &str) -> Result<HeaderValue, String> {
    let origin = raw.trim();
    let valid = origin == "*"
        || reqwest::Url::parse(origin).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.path() == "/"
                && !origin.ends_with('/')
                && url.query().is_none()
        });
    if !valid {
        return Err(format!(
            "`{origin}` is not an origin: write scheme://host[:port], e.g. https://ops.example.com, or *"
        ));
    }
    HeaderValue::from_str(origin).map_err(|e| format!("`{origin}`: {e}"))
}

impl From<&HttpArgs> for HttpConfig {
    fn from(args: &HttpArgs) -> Self {
        Self {
            limits: Limits {
                body_bytes: args.body_limit as usize,
                max_batch: usize::from(args.max_batch),
                max_page: usize::from(args.max_page),
                request_timeout: Duration::from_secs(u64::from(args.request_timeout)),
                rate_per_key: NonZeroU32::new(args.rate_limit),
            },
            cors_origins: args.cors_origins.clone(),
            dapr: Dapr::default(),
        }
    }
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput over HTTP.
    Ingest(BenchIngestArgs),
    /// Projection throughput: store to committed read-model rows.
    Projection(BenchProjectionArgs),
    /// Freshness: append to visible in the features, under steady load.
    Freshness(BenchFreshnessArgs),
    /// Decisions: the cost per event of scoring and the policy, in memory.
    Decisions(BenchDecisionsArgs),
    /// Webhooks: deliveries per second from the outbox to a local receiver.
    Webhooks(BenchWebhooksArgs),
}

/// Options of `nudge bench webhooks`.
#[derive(Debug, Args)]
pub struct BenchWebhooksArgs {
    /// Recommendations to deliver.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub deliveries: u64,
    /// Players they are spread over (each player's arrive in order).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub players: u64,
    /// `structured`, `binary` or `batch`.
    #[arg(long, default_value = "structured")]
    pub mode: String,
    /// Requests in flight.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1_024))]
    pub concurrency: u16,
    /// Read-model database (a scratch one: it must hold no recommendations). A
    /// fresh temporary SQLite file when not given.
    #[arg(long)]
    pub read_models: Option<String>,
}

/// Options of `nudge bench projection`.
#[derive(Debug, Args)]
pub struct BenchProjectionArgs {
    /// Event store to project, read models beside it (which must be fresh). An
    /// empty store is filled first. A fresh temporary SQLite file when not given.
    #[arg(long, env = "NUDGE_BENCH_STORE")]
    pub store: Option<String>,
    /// Players in the simulated population.
    #[arg(long, default_value_t = 100_000)]
    pub players: u64,
    /// Events to append and project.
    #[arg(long, default_value_t = 5_000_000)]
    pub events: u64,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Most events per micro-batch.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_events: u32,
    /// Player partitions folding in parallel.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub partitions: u16,
    /// Fill the store and stop (copies of it then serve several runs).
    #[arg(long)]
    pub fill_only: bool,
    /// A model artifact (JSON, from `nudge train --out`) to decide with; without
    /// one only the hard rules decide.
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
}

/// Options of `nudge bench decisions`.
#[derive(Debug, Args)]
pub struct BenchDecisionsArgs {
    /// Players in the simulated population.
    #[arg(long, default_value_t = 2_000)]
    pub players: u64,
    /// Days simulated: the model trains on them all, the timing replays them all.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(10..=365))]
    pub days: u32,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Options of `nudge bench freshness`.
#[derive(Debug, Args)]
pub struct BenchFreshnessArgs {
    /// Event store of the nudge the benchmark starts in-process (read models
    /// beside it). A fresh temporary SQLite file when not given.
    #[arg(long, env = "NUDGE_BENCH_STORE")]
    pub store: Option<String>,
    /// Background load, in events per second.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: u32,
    /// How long to load and probe, in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub seconds: u32,
    /// Players the background load is spread over.
    #[arg(long, default_value_t = 10_000)]
    pub players: u64,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Options of `nudge bench ingest`.
#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// Event store of the nudge the benchmark starts in-process (a fresh
    /// temporary SQLite file when neither this nor `--target` is given).
    #[arg(long, env = "NUDGE_BENCH_STORE", conflicts_with = "target")]
    pub store: Option<String>,
    /// Base URL of a running nudge to measure instead (loopback only).
    #[arg(long, env = "NUDGE_BENCH_TARGET")]
    pub target: Option<reqwest::Url>,
    /// API key (scope `events:write`) for `--target`; mind its rate limit (`--rate-limit`).
    #[arg(long, env = "NUDGE_API_KEY", hide_env_values = true, requires = "target")]
    pub api_key: Option<String>,
    /// Concurrent HTTP clients.
    #[arg(long, env = "NUDGE_BENCH_CLIENTS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub clients: u16,
    /// Events per request (1 sends structured mode, more sends batches).
    #[arg(long, env = "NUDGE_BENCH_BATCH", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1_000))]
    pub batch: u16,
    /// Events to send in all.
    #[arg(long, env = "NUDGE_BENCH_EVENTS", default_value_t = 200_000)]
    pub events: u64,
    /// Distinct players the events are spread over.
    #[arg(long, env = "NUDGE_BENCH_PLAYERS", default_value_t = 10_000)]
    pub players: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_or_any() {
        for origin in ["https://ops.example.com", "http://127.0.0.1:3000", "*"] {
            assert_eq!(parse_origin(origin).map(|v| v.to_str().map(str::to_owned).ok()), Ok(Some(origin.to_owned())));
        }
        for not_origin in
            ["ops.example.com", "https://ops.example.com/", "https://ops.example.com/app", "ftp://x.org", ""]
        {
            assert!(parse_origin(not_origin).is_err(), "{not_origin}");
        }
    }
}
