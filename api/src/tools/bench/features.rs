//! `nudge bench features`: feature reads over HTTP (`GET /v1/players/{id}/features`)
//! with concurrent keep-alive connections, the projection running.

use clap::Args;
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::bail;
use hyper::{Method, StatusCode, Uri};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{
    BenchTarget, TempFolder,
    ingest::catch_up,
    lane::{Endpoint, Lane},
    millis, percentile,
};
use crate::durations::{S, between};

/// Options of `nudge bench features`.
#[derive(Debug, Args)]
pub struct BenchFeaturesArgs {
    /// The nudge measured (API key scope `admin`: the run reads `GET /v1/projections`).
    #[command(flatten)]
    pub target: BenchTarget,
    /// Players loaded, then read in turn (ids `bench-features-0` and on).
    #[arg(long, env = "NUDGE_BENCH_PLAYERS", default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub players: u64,
    /// Concurrent keep-alive connections reading.
    #[arg(long, env = "NUDGE_BENCH_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub connections: u16,
    /// How long to read.
    #[arg(long, default_value = "10s", value_parser = between(S, 3_600 * S, None))]
    pub duration: Duration,
    /// Read with `?min_position=` this position, as reads of one's own writes
    /// do: an instance forwards those of players another one folds there.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_position: Option<u64>,
}

/// Events loaded per player: a registration, then bets.
const EVENTS_PER_PLAYER: u64 = 4;

/// Players per ingest request while loading.
const LOAD_BATCH: u64 = 100;

/// Runs the benchmark and prints its figures.
pub async fn run(args: BenchFeaturesArgs) -> anyhow::Result<()> {
    let temp = TempFolder::new();
    let stop = CancellationToken::new();
    let (target, server) = args.target.start(&temp, &stop).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::from(args.connections))
        .default_headers(crate::tools::simulate::bearer(args.target.api_key.as_deref())?)
        .build()?;
    crate::out!(
        "bench features: {} players loaded into {target}, then read with {} connections for {}{}",
        args.players,
        args.connections,
        humantime::format_duration(args.duration),
        args.min_position.map(|p| format!(", each with ?min_position={p}")).unwrap_or_default()
    );
    load(&client, &target, args.players).await?;
    catch_up(&client, &target).await?;

    let endpoint = Endpoint::new(&target, args.target.api_key.as_deref())?;
    let mut lanes = Vec::new();
    for _ in 0..args.connections {
        lanes.push(endpoint.connect().await?);
    }
    let query = args.min_position.map(|p| format!("?min_position={p}")).unwrap_or_default();
    let paths = (0..args.players)
        .map(|p| Uri::try_from(format!("/v1/players/bench-features-{p}/features{query}")))
        .collect::<Result<Arc<[_]>, _>>()?;
    let deadline = Instant::now() + args.duration;
    let start = Instant::now();
    let mut readers = Vec::new();
    for (connection, lane) in (0..).zip(lanes) {
        let (paths, step) = (Arc::clone(&paths), u64::from(args.connections));
        readers.push(tokio::spawn(async move { read(lane, &paths, connection, step, deadline).await }));
    }
    let mut latencies = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for reader in readers {
        let (times, failed) = reader.await??;
        latencies.extend(times);
        for (status, n) in failed {
            *errors.entry(status).or_default() += n;
        }
    }
    let elapsed = start.elapsed();
    stop.cancel();
    if let Some(server) = server {
        server.await??;
    }

    latencies.sort_unstable();
    let failed: u64 = errors.values().sum();
    crate::out!(
        "{} requests in {:.2} s: {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {failed}{}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        millis(latencies.last().copied().unwrap_or_default()),
        if errors.is_empty() { String::new() } else { format!(" {errors:?}") },
    );
    Ok(())
}

/// Appends every player's events through the API, a batch of players a request.
/// The same ids every run, so loading a running nudge twice appends them once.
async fn load(client: &reqwest::Client, target: &str, players: u64) -> anyhow::Result<()> {
    let time = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let event = |player: u64, n: u64| {
        let (kind, data) = match n {
            0 => ("player.registered", json!({"country": "MT", "currency": "EUR"})),
            n => (
                "player.bet.placed",
                json!({"bet_id": format!("b{n}"), "game_id": "starburst", "stake": 100 * n, "currency": "EUR"}),
            ),
        };
        json!({
            "specversion": "1.0", "id": format!("{player}-{n}"), "source": "/bench/features", "type": kind,
            "subject": format!("bench-features-{player}"), "time": time, "data": data
        })
    };
    let url = format!("{target}/v1/events");
    let mut first = 0;
    while first < players {
        let last = (first + LOAD_BATCH).min(players);
        let body: Value = (first..last).flat_map(|p| (0..EVENTS_PER_PLAYER).map(move |n| event(p, n))).collect();
        let response = client
            .post(&url)
            .header("content-type", "application/cloudevents-batch+json")
            .body(body.to_string())
            .send()
            .await?;
        let status = response.status();
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("ingest answered {status}: {}", response.text().await.unwrap_or_default());
        }
        first = last;
    }
    Ok(())
}

/// One connection's reads until `deadline`: the players of `paths` `first`,
/// `first + step`, ... in turn; answers each 200's latency and the other
/// answers counted by status.
async fn read(
    mut lane: Lane,
    paths: &[Uri],
    first: u64,
    step: u64,
    deadline: Instant,
) -> anyhow::Result<(Vec<Duration>, BTreeMap<String, u64>)> {
    let players = paths.len() as u64;
    let mut latencies = Vec::new();
    let mut errors = BTreeMap::new();
    let mut player = first % players;
    while Instant::now() < deadline {
        let sent = Instant::now();
        match lane.send(Method::GET, &paths[player as usize], None, &[]).await {
            Ok((StatusCode::OK, _)) => latencies.push(sent.elapsed()),
            Ok((status, _)) => *errors.entry(status.to_string()).or_insert(0) += 1,
            Err(error) => {
                *errors.entry(error.to_string()).or_insert(0) += 1;
                lane = lane.reconnect().await?;
            }
        }
        player = (player + step) % players;
    }
    Ok((latencies, errors))
}
