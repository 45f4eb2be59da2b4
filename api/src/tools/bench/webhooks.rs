//! `nudge bench webhooks`: deliveries per second from the outbox to a local
//! receiver: recommendations are committed with their outbox rows, then the
//! dispatcher routes and delivers them all to an axum receiver on loopback.

use clap::Args;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use chrono::Utc;
use domain::Recommendation;
use projections::{Changes, ReadModel, RecommendationQuery, read_model::Table};
use tokio_util::sync::CancellationToken;
use webhooks::{
    ClientConfig, Dispatcher, DispatcherConfig, EVENT_TYPE, Mode, NewSubscription, SigningSecret, TargetPolicy,
};

use super::TempFolder;

/// Options of `nudge bench webhooks`.
#[derive(Debug, Args)]
pub struct BenchWebhooksArgs {
    /// Recommendations to deliver.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub deliveries: u64,
    /// Players they are spread over (each player's arrive in order).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub players: u64,
    /// `structured`, `binary` or `batch`.
    #[arg(long, default_value = "structured", value_parser = mode)]
    pub mode: Mode,
    /// Requests in flight.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1_024))]
    pub concurrency: u16,
    /// Read-model database (a scratch one: it must hold no recommendations). A
    /// fresh temporary SQLite file when not given.
    #[arg(long)]
    pub read_models: Option<String>,
}

/// A delivery mode, as subscriptions name them.
fn mode(raw: &str) -> Result<Mode, String> {
    Mode::parse(raw).ok_or_else(|| format!("`{raw}` is not a mode: structured, binary or batch"))
}

/// Recommendations per read-model commit while seeding.
const SEED_BATCH: u64 = 5_000;

/// Runs `nudge bench webhooks`.
pub async fn run(args: BenchWebhooksArgs) -> anyhow::Result<()> {
    let mode = args.mode;
    let temp = TempFolder::new();
    let url = args.read_models.clone().unwrap_or_else(|| temp.sqlite_url());
    let read_model = ReadModel::connect(&url).await.with_context(|| format!("cannot open {url}"))?;
    let any = RecommendationQuery { player_id: None, kind: None, after: None, limit: 1 };
    if !read_model.recommendations(&any).await?.is_empty() {
        bail!("{url} already holds recommendations: give the benchmark a scratch database");
    }
    let database = read_model.webhooks();

    let seeding = Instant::now();
    let fence = read_model.claim_all(Table::Live, "bench", std::time::Duration::from_secs(3_600)).await?;
    for first in (1..=args.deliveries).step_by(SEED_BATCH as usize) {
        let last = (first + SEED_BATCH - 1).min(args.deliveries);
        let changes = Changes {
            recommendations: (first..=last).map(|p| recommendation(p, args.players)).collect(),
            ..Changes::default()
        };
        read_model.commit(Table::Live, &changes, last, &fence).await?;
    }
    crate::out!(
        "{} recommendations of {} players in the outbox ({:.1} s)",
        args.deliveries,
        args.players,
        seeding.elapsed().as_secs_f64()
    );

    let received = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let receiver = format!("http://{}/hooks", listener.local_addr()?);
    let app = Router::new().route("/hooks", post(receive)).with_state(Arc::clone(&received));
    let stop = CancellationToken::new();
    tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned()).into_future());

    let subscription = NewSubscription {
        url: receiver,
        types: vec![EVENT_TYPE.to_owned()],
        kinds: None,
        mode,
        description: "bench".to_owned(),
        handshake: false,
    }
    .create(SigningSecret::generate()?, Utc::now());
    database.insert_subscription(&subscription).await?;

    let config = DispatcherConfig {
        client: ClientConfig {
            targets: TargetPolicy { allow_private: true, allow_cidrs: Vec::new() },
            ..ClientConfig::default()
        },
        concurrency: usize::from(args.concurrency),
        ..DispatcherConfig::default()
    };
    let started = Instant::now();
    Dispatcher::start(database.clone(), config, stop.clone())?;
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let got = received.load(Ordering::Relaxed);
        if got >= args.deliveries && database.backlog().await?.is_empty() {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(2) {
            crate::out!("  {got} received after {:.1} s", started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.cancel();
    let got = received.load(Ordering::Relaxed);
    crate::out!(
        "{} deliveries ({} mode, {} in flight at most) in {seconds:.2} s: {:.0} deliveries/s; the receiver got {got} events",
        args.deliveries,
        mode.as_str(),
        args.concurrency,
        args.deliveries as f64 / seconds
    );
    Ok(())
}

/// Counts the events of a request: one, or a batch's array.
async fn receive(State(received): State<Arc<AtomicU64>>, body: Bytes) -> StatusCode {
    let events = match serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(&body) {
        Ok(batch) => batch.len() as u64,
        Err(_) => 1,
    };
    received.fetch_add(events, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

/// The recommendation at `position`, for one of `players` players in turn.
fn recommendation(position: u64, players: u64) -> Recommendation {
    simulator::recommendation(&format!("bench-{}", position % players.max(1)), position, "/bench")
}
