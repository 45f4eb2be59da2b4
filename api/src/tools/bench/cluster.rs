//! `nudge bench cluster`: several real `nudge serve` processes on one
//! PostgreSQL database. Throughput with one, two and three instances (and how
//! the projection work is shared), then a run under load through SIGKILL,
//! SIGTERM and SIGSTOP: handover times, the lag, freshness, and at the end the
//! same checks as the multi-process test.

mod chaos;
pub mod checks;
mod fleet;
mod load;
mod watch;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::bail;
use chrono::Utc;
use clap::Args;
use serde_json::Value;
use simulator::Population;

use crate::durations::{MS, S, between};
pub(super) use fleet::drop_schema;
use fleet::{Instance, Schema};
use load::Addresses;

/// Options of `nudge bench cluster`.
#[derive(Debug, Args)]
pub struct BenchClusterArgs {
    /// The PostgreSQL database the instances share. Each run gets a schema of
    /// its own in it, dropped afterwards.
    #[arg(long, env = "NUDGE_BENCH_DATABASE", value_parser = postgres_url)]
    pub database: String,
    /// Players simulated.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub players: u64,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Events posted in each throughput run.
    #[arg(long, default_value_t = 100_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000_000))]
    pub events: usize,
    /// The largest number of instances a throughput run starts (1, 2, ... up to it).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub instances: u16,
    /// Load during the disturbed run, in events per second.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    pub rate: u32,
    /// The instances' `--lease-ttl`.
    #[arg(long, default_value = "5s", value_parser = between(100 * MS, 60 * S, None))]
    pub lease_ttl: Duration,
    /// How often each disturbance (SIGKILL, SIGTERM, SIGSTOP) is repeated.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub rounds: u16,
    /// Skip the throughput runs.
    #[arg(long)]
    pub no_throughput: bool,
    /// Skip the disturbed run.
    #[arg(long)]
    pub no_chaos: bool,
}

/// Events per batch request.
const BATCH_EVENTS: usize = 100;
/// Requests in flight during a throughput run.
const CLIENTS: usize = 16;

/// A `postgres://` URL naming its database: the instances share PostgreSQL.
fn postgres_url(raw: &str) -> Result<String, String> {
    if !raw.starts_with("postgres://") && !raw.starts_with("postgresql://") {
        return Err(format!("`{raw}`: the instances share a PostgreSQL database: write postgres://user@host/database"));
    }
    store::postgres::connect_options(raw).map(|_| raw.to_owned()).map_err(|e| format!("`{raw}`: {e}"))
}

/// Runs the throughput runs, then the disturbed run, as `args` say.
pub async fn run(args: BenchClusterArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    if args.no_throughput && args.no_chaos {
        bail!("--no-throughput and --no-chaos leave nothing to run");
    }
    crate::out!(
        "bench cluster: {} players (seed {}), lease TTL {}, on {} cores",
        args.players,
        args.seed,
        humantime::format_duration(args.lease_ttl),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if !args.no_throughput {
        for count in 1..=usize::from(args.instances) {
            throughput(&args, &client, count).await?;
        }
    }
    if !args.no_chaos {
        chaos::run(&args, &client).await?;
    }
    Ok(())
}

/// Batch bodies of at least `events` simulated events, in time order, with
/// times well in the past.
fn bodies(args: &BenchClusterArgs, events: usize) -> Vec<String> {
    let population = Population::new(args.players, args.seed, Utc::now() - chrono::Duration::days(90));
    let mut all = Vec::with_capacity(events);
    let mut day = 0;
    while all.len() < events && day < 90 {
        all.extend(population.day(day));
        day += 1;
    }
    all.truncate(events);
    all.chunks(BATCH_EVENTS)
        .map(|chunk| Value::Array(chunk.iter().map(|e| e.to_json()).collect()).to_string())
        .collect()
}

/// The instance arguments every run gives.
fn serve_args(args: &BenchClusterArgs) -> Vec<String> {
    let ttl = humantime::format_duration(args.lease_ttl).to_string();
    vec!["--lease-ttl".into(), ttl, "--allow-private-webhooks".into()]
}

/// Posts `--events` to `count` fresh instances with [`CLIENTS`] requests in
/// flight; prints ingest and projection rates and each instance's share of
/// the projected events.
async fn throughput(args: &BenchClusterArgs, client: &reqwest::Client, count: usize) -> anyhow::Result<()> {
    let schema = Schema::create(&args.database).await?;
    let url = schema.url();
    let mut instances = Vec::new();
    for _ in 0..count {
        instances.push(Instance::start(client, &url, &serve_args(args)).await?);
    }
    let addresses: Addresses = Arc::new(Mutex::new(instances.iter().map(|i| i.address.clone()).collect()));
    let bodies = bodies(args, args.events);
    let events = args.events.min(bodies.len() * BATCH_EVENTS);
    let queue = Arc::new(Mutex::new(bodies.into_iter().enumerate()));
    let start = Instant::now();
    let lanes: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, addresses, queue) = (client.clone(), addresses.clone(), queue.clone());
            tokio::spawn(async move {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some((i, body)) = next else { return Ok::<_, anyhow::Error>(()) };
                    load::post(&client, &addresses, &body, i).await?;
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.await??;
    }
    let ingested = start.elapsed();
    let head = load::projected(client, &addresses).await?;
    let projected = start.elapsed();
    let mut shares = Vec::new();
    for instance in &instances {
        shares.push(instance.metric(client, "nudge_projection_events_total").await?);
    }
    let total: f64 = shares.iter().sum();
    crate::out!(
        "throughput, {count} instance(s): {events} events ingested in {:.1} s ({:.0} events/s), projected in {:.1} s \
         ({:.0} events/s); projected by the instances together {:.2} times the {head} stored, shares {}",
        ingested.as_secs_f64(),
        events as f64 / ingested.as_secs_f64(),
        projected.as_secs_f64(),
        events as f64 / projected.as_secs_f64(),
        total / head.max(1) as f64,
        shares.iter().map(|s| format!("{:.0} %", 100.0 * s / total.max(1.0))).collect::<Vec<_>>().join(", ")
    );
    drop(instances);
    schema.drop_now().await?;
    if total / head.max(1) as f64 > 1.3 || shares.iter().any(|s| count > 1 && *s < 0.15 * total) {
        bail!("the projection work was not shared: {shares:?} of {head}");
    }
    Ok(())
}
