//! `nudge bench freshness`: how soon an appended event shows in the player's
//! features, under a steady background load.

use clap::Args;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use serde_json::{Value, json};
use simulator::Population;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{TempFolder, millis, percentile, serve};
use crate::durations::{S, between};

/// Options of `nudge bench freshness`.
#[derive(Debug, Args)]
pub struct BenchFreshnessArgs {
    /// Event store of the nudge the benchmark starts in-process (read models
    /// beside it). A fresh temporary SQLite file when not given.
    #[arg(long, env = "NUDGE_BENCH_STORE")]
    pub store: Option<String>,
    /// Read-model database of the in-process nudge (default: where `nudge serve`
    /// keeps them for the store).
    #[arg(long, env = "NUDGE_BENCH_READ_MODELS", hide_env_values = true)]
    pub read_models: Option<String>,
    /// Background load, in events per second.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: u32,
    /// How long to load and probe.
    #[arg(long, default_value = "30s", value_parser = between(S, 3_600 * S, None))]
    pub duration: Duration,
    /// Deprecated: `--duration`, a plain number of seconds.
    #[arg(long, hide = true, conflicts_with = "duration", value_parser = between(S, 3_600 * S, Some(S)))]
    pub seconds: Option<Duration>,
    /// Players the background load is spread over.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub players: u64,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// How often the background load sends a batch.
const TICK: Duration = Duration::from_millis(10);

/// Serves nudge in-process, loads it at a steady rate, and meanwhile times probe
/// events from their append's answer to their features' answer.
pub async fn run(args: BenchFreshnessArgs) -> anyhow::Result<()> {
    let temp = TempFolder::new();
    let url = args.store.clone().unwrap_or_else(|| temp.sqlite_url());
    let stop = CancellationToken::new();
    let (address, server) = serve(&url, args.read_models.as_deref(), &stop).await?;
    let client = reqwest::Client::new();

    let per_tick = (u64::from(args.rate) * TICK.as_millis() as u64 / 1_000).max(1) as usize;
    let duration = args.seconds.unwrap_or(args.duration);
    let needed = per_tick * (duration.as_millis() / TICK.as_millis()) as usize;
    // Days in the past: event times may not run ahead of the server's clock.
    let population = Population::new(args.players, args.seed, Utc::now() - chrono::Duration::days(30));
    let mut events = Vec::with_capacity(needed);
    let mut day = 0;
    while events.len() < needed {
        events.extend(population.day(day));
        day += 1;
    }
    let bodies: Vec<String> = events[..needed]
        .chunks(per_tick)
        .map(|chunk| Value::Array(chunk.iter().map(|e| e.to_json()).collect()).to_string())
        .collect();
    crate::out!(
        "bench freshness: {} events/s ({per_tick} every {} ms) for {} to {address}, probing meanwhile",
        args.rate,
        TICK.as_millis(),
        humantime::format_duration(duration)
    );

    let loader = tokio::spawn(load(client.clone(), format!("{address}/v1/events"), bodies));
    let probes = probe(&client, &address, &loader).await?;
    let loaded = loader.await??;
    stop.cancel();
    server.await??;

    let (mut after_ack, mut end_to_end): (Vec<_>, Vec<_>) = probes.into_iter().unzip();
    after_ack.sort_unstable();
    end_to_end.sort_unstable();
    crate::out!(
        "load: {} events in {:.1} s ({:.0} events/s)",
        needed,
        loaded.as_secs_f64(),
        needed as f64 / loaded.as_secs_f64()
    );
    for (name, sorted) in
        [("append answered -> features visible", &after_ack), ("append sent -> features visible", &end_to_end)]
    {
        crate::out!(
            "{name}: {} probes, median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            sorted.len(),
            millis(percentile(sorted, 0.5)),
            millis(percentile(sorted, 0.99)),
            millis(sorted.last().copied().unwrap_or_default())
        );
    }
    Ok(())
}

/// Sends one batch per tick, each on its own task so a slow answer does not
/// slow the rate; answers how long it took.
async fn load(client: reqwest::Client, url: String, bodies: Vec<String>) -> anyhow::Result<Duration> {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut sends = Vec::with_capacity(bodies.len());
    for body in bodies {
        tick.tick().await;
        let (client, url) = (client.clone(), url.clone());
        sends.push(tokio::spawn(async move {
            let response = client
                .post(&url)
                .header("content-type", "application/cloudevents-batch+json")
                .body(body)
                .send()
                .await?;
            if response.status() != reqwest::StatusCode::ACCEPTED {
                bail!("ingest answered {}", response.status());
            }
            Ok(())
        }));
    }
    for send in sends {
        send.await??;
    }
    Ok(start.elapsed())
}

/// Until the load is done: appends one event for a probe player, then asks for
/// its features at that position; answers (after the append's answer, after sending).
async fn probe(
    client: &reqwest::Client,
    address: &str,
    loader: &tokio::task::JoinHandle<anyhow::Result<Duration>>,
) -> anyhow::Result<Vec<(Duration, Duration)>> {
    let mut timings = Vec::new();
    let mut n = 0u64;
    while !loader.is_finished() {
        n += 1;
        let event = json!({
            "specversion": "1.0", "id": format!("probe-{n}"), "source": "/bench/freshness",
            "type": "player.game.launched", "subject": format!("probe-{}", n % 100),
            "time": Utc::now().to_rfc3339(), "data": {"game_id": "g", "category": "slots"}
        });
        let sent = Instant::now();
        let answer: Value = client
            .post(format!("{address}/v1/events"))
            .header("content-type", "application/cloudevents+json")
            .body(event.to_string())
            .send()
            .await?
            .json()
            .await?;
        let answered = Instant::now();
        let position = answer["results"][0]["position"].as_u64().context("no position in the ingest answer")?;
        let player = format!("probe-{}", n % 100);
        let response =
            client.get(format!("{address}/v1/players/{player}/features?min_position={position}")).send().await?;
        if !response.status().is_success() {
            bail!("features answered {}", response.status());
        }
        response.bytes().await?;
        timings.push((answered.elapsed(), sent.elapsed()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(timings)
}
