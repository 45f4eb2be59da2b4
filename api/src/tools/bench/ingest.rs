//! `nudge bench ingest`: ingest throughput over HTTP with concurrent clients.

use clap::Args;
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::bail;
use bytes::Bytes;
use hyper::{Method, StatusCode, Uri};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{BenchTarget, TempFolder, lane::Endpoint, millis, percentile};

/// Options of `nudge bench ingest`.
#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// The nudge measured (API key scope `admin`: the run reads `GET /v1/projections`).
    #[command(flatten)]
    pub target: BenchTarget,
    /// Concurrent HTTP clients.
    #[arg(long, env = "NUDGE_BENCH_CLIENTS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub clients: u16,
    /// Events per request (1 sends structured mode, more sends batches).
    #[arg(long, env = "NUDGE_BENCH_BATCH", default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1_000))]
    pub batch: u16,
    /// Events to send in all.
    #[arg(long, env = "NUDGE_BENCH_EVENTS", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub events: u64,
    /// Distinct players the events are spread over.
    #[arg(long, env = "NUDGE_BENCH_PLAYERS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub players: u64,
}

/// Longest the projection may take to catch up once the load stops.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(300);

/// Runs the benchmark and prints its figures.
pub async fn run(args: BenchIngestArgs) -> anyhow::Result<()> {
    let temp = TempFolder::new();
    let stop = CancellationToken::new();
    let (target, server) = args.target.start(&temp, &stop).await?;

    let requests = Arc::new(requests(&args));
    crate::out!(
        "bench ingest: {} events in {} requests of {} to {target} with {} clients",
        args.events,
        requests.len(),
        args.batch,
        args.clients
    );
    let endpoint = Endpoint::new(&target, args.target.api_key.as_deref())?;
    // For the status calls after the load, made before the clock starts.
    let client = reqwest::Client::builder()
        .default_headers(crate::tools::simulate::bearer(args.target.api_key.as_deref())?)
        .build()?;
    let content_type =
        if args.batch == 1 { "application/cloudevents+json" } else { "application/cloudevents-batch+json" };
    let mut lanes = Vec::new();
    for _ in 0..args.clients {
        lanes.push(endpoint.connect().await?);
    }
    let path = Uri::from_static("/v1/events");
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut clients = Vec::new();
    for mut lane in lanes {
        let (requests, next, path) = (requests.clone(), next.clone(), path.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while let Some(body) = requests.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                let (status, answer) = lane.send(Method::POST, &path, Some(content_type), body).await?;
                if status != StatusCode::ACCEPTED {
                    bail!("ingest answered {status}: {}", String::from_utf8_lossy(&answer));
                }
                latencies.push(sent.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await??);
    }
    let elapsed = start.elapsed();
    let (lag, caught_up) = catch_up(&client, &target).await?;
    stop.cancel();
    if let Some(server) = server {
        server.await??;
    }

    latencies.sort_unstable();
    let rate = args.events as f64 / elapsed.as_secs_f64();
    crate::out!(
        "{} events in {:.2} s: {rate:.0} events/s, {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.events,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        millis(latencies.last().copied().unwrap_or_default()),
    );
    crate::out!("projection: {lag} events behind at the last answer, caught up {:.0} ms later", millis(caught_up));
    Ok(())
}

/// How far behind the head the projection was when the load stopped, in
/// events, and how long it then took to reach it (`GET /v1/projections`).
pub(super) async fn catch_up(client: &reqwest::Client, target: &str) -> anyhow::Result<(u64, Duration)> {
    let start = Instant::now();
    let mut first = None;
    loop {
        let status: serde_json::Value =
            client.get(format!("{target}/v1/projections")).send().await?.error_for_status()?.json().await?;
        let projections = status["projections"].as_array().map(Vec::as_slice).unwrap_or_default();
        let lag = projections.iter().filter_map(|p| p["lag_events"].as_u64()).max().unwrap_or_default();
        let first = *first.get_or_insert(lag);
        if lag == 0 {
            return Ok((first, start.elapsed()));
        }
        if start.elapsed() > CATCH_UP_LIMIT {
            bail!("the projection is still {lag} events behind {CATCH_UP_LIMIT:?} after the load");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every request body, made before the clock starts: bets spread over the players.
fn requests(args: &BenchIngestArgs) -> Vec<Bytes> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let source = format!("/bench/{run}");
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let event = |i: u64| {
        json!({
            "specversion": "1.0",
            "id": format!("{i}"),
            "source": source,
            "type": "player.bet.placed",
            "subject": format!("bench-{}", i % args.players.max(1)),
            "time": time,
            "datacontenttype": "application/json",
            "data": { "bet_id": format!("b{i}"), "game_id": "starburst", "stake": 100 + i % 400, "currency": "EUR" }
        })
    };
    let batch = u64::from(args.batch);
    (0..args.events.div_ceil(batch))
        .map(|r| {
            let range = r * batch..((r + 1) * batch).min(args.events);
            let body = if batch == 1 { event(r) } else { range.map(event).collect() };
            Bytes::from(body.to_string())
        })
        .collect()
}
