//! `nudge bench projection`: events per second from the store to committed
//! read-model rows, over a simulated population.

use clap::Args;
use std::{sync::Arc, time::Instant};

use anyhow::{Context, bail};
use chrono::{TimeZone, Utc};
use ml::{ActiveModel, ModelArtifact, Scorer};
use projections::{FeatureProjection, ProjectionConfig, ReadModel, RecommendationQuery, Table};
use simulator::Population;
use store::EventStore;
use tokio_util::sync::CancellationToken;

use super::TempFolder;
use crate::app::{read_models_beside, separate_read_models};

/// Options of `nudge bench projection`.
#[derive(Debug, Args)]
pub struct BenchProjectionArgs {
    /// Event store to project, read models beside it (which must be fresh). An
    /// empty store is filled first. A fresh temporary SQLite file when not given.
    #[arg(long, env = "NUDGE_BENCH_STORE")]
    pub store: Option<String>,
    /// Players in the simulated population.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub players: u64,
    /// Events to append and project.
    #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub events: u64,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Most events per micro-batch.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
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

/// Fills an empty store with the population's events (or takes the events of a
/// store filled before), then times the projection into a fresh read model from
/// position 0 until its checkpoint reaches the head.
pub async fn run(args: BenchProjectionArgs) -> anyhow::Result<()> {
    // The artifact is read before the store is filled, which may take minutes.
    let artifact = args
        .model
        .as_deref()
        .map(|path| {
            let json = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            ModelArtifact::from_json(&json).with_context(|| format!("cannot read {}", path.display()))
        })
        .transpose()?;
    let temp = TempFolder::new();
    let url = args.store.clone().unwrap_or_else(|| temp.sqlite_url());
    // A fresh read model beside the store, in a file of its own on SQLite, as `nudge serve` makes one.
    let read_models = separate_read_models(&url).unwrap_or_else(|| read_models_beside(&url));
    let store = store::connect(&url).await.with_context(|| format!("cannot open {url}"))?;
    let read_model = ReadModel::connect(&read_models).await?;
    if read_model.checkpoint(Table::Live).await?.is_some() {
        bail!("the read model already holds rows: the benchmark needs a fresh one");
    }
    match store.head().await? {
        0 => fill(store.as_ref(), &args).await?,
        stored => crate::out!("projecting the {stored} events already stored"),
    }
    if args.fill_only {
        return Ok(());
    }

    let config = ProjectionConfig {
        batch_events: args.batch_events as usize,
        partitions: usize::from(args.partitions),
        ..ProjectionConfig::default()
    };
    let active = ActiveModel::default();
    if let Some(artifact) = artifact {
        crate::out!("deciding with model {}", artifact.version);
        active.set(Some(Scorer::new(artifact)));
    }
    let head = store.head().await?;
    let metrics = crate::telemetry::prometheus::metrics();
    let stop = CancellationToken::new();
    let projecting = Instant::now();
    let projection =
        FeatureProjection::start(Arc::clone(&store), read_model.clone(), config, active, stop.clone()).await?;
    while !projection.wait_for(head, std::time::Duration::from_secs(10)).await {
        let checkpoint = read_model.checkpoint(Table::Live).await?.unwrap_or_default();
        crate::out!(
            "projected {checkpoint} of {head} ({:.0} events/s so far)",
            checkpoint as f64 / projecting.elapsed().as_secs_f64()
        );
    }
    let elapsed = projecting.elapsed();
    stop.cancel();
    let query = RecommendationQuery { player_id: None, kind: None, after: None, limit: usize::MAX >> 2 };
    crate::out!("{} recommendations made", read_model.recommendations(&query).await?.len());
    crate::out!(
        "projected {head} events to committed rows in {:.1} s: {:.0} events/s",
        elapsed.as_secs_f64(),
        head as f64 / elapsed.as_secs_f64()
    );
    let text = metrics.render();
    let batches = super::metric_sum(&text, "nudge_projection_batch_events_count");
    crate::out!(
        "{batches} batches of {:.0} events and {:.0} rows on average",
        super::metric_sum(&text, "nudge_projection_batch_events_sum") / batches.max(1.0),
        super::metric_sum(&text, "nudge_projection_batch_rows_sum") / batches.max(1.0)
    );
    Ok(())
}

/// Appends the population's events, day by day, until there are `--events`.
async fn fill(store: &dyn EventStore, args: &BenchProjectionArgs) -> anyhow::Result<()> {
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().context("start date")?;
    let population = Population::new(args.players, args.seed, start);
    let filling = Instant::now();
    let mut appended = 0usize;
    let mut day = 0;
    while (appended as u64) < args.events {
        let mut events = population.day(day);
        events.truncate((args.events - appended as u64) as usize);
        Population::append(store, &events).await?;
        appended += events.len();
        day += 1;
        crate::out!("filled day {day}: {appended} events");
    }
    let filled = filling.elapsed();
    crate::out!(
        "store filled: {appended} events of {} players over {day} days in {:.1} s ({:.0} events/s appended)",
        args.players,
        filled.as_secs_f64(),
        appended as f64 / filled.as_secs_f64()
    );
    Ok(())
}
