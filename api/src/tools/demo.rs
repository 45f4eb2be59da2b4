//! `nudge demo`: nudge on SQLite, a simulated month, a model trained and
//! activated, then live activity with its recommendations printed as they come.

use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{Timelike, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use ml::ModelArtifact;
use reqwest::Url;
use serde_json::{Value, json};
use simulator::Population;
use tokio_util::sync::CancellationToken;

use crate::{
    app::Application,
    app::Settings,
    app::separate_read_models,
    durations::{MS, between},
    tools::simulate::{Poster, post_days},
    tools::train::print_metrics,
};

/// Options of `nudge demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address nudge serves on meanwhile (browse the API while the demo runs).
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = crate::config::values::listen_address)]
    pub listen: SocketAddr,
    /// Folder for the demo's SQLite files (made if missing); the demo's own
    /// files in it (`nudge.db` and `nudge-read-models.db`, with their WAL) are
    /// deleted first, nothing else.
    #[arg(long, default_value = "data/demo")]
    pub folder: std::path::PathBuf,
    /// Players simulated, 100 to 1,000,000.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub players: u64,
    /// Days of history the model trains on, 14 to 365.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(14..=365))]
    pub history_days: u32,
    /// Days of activity streamed once the model is active, 1 to 30.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub live_days: u32,
    /// Real time per simulated hour of the streamed activity, up to 1h.
    #[arg(long, default_value = "1s", value_parser = between(Duration::ZERO, HOUR_MAX, None))]
    pub hour: Duration,
    /// Deprecated: `--hour`, a plain number in milliseconds.
    #[arg(long, hide = true, conflicts_with = "hour", value_parser = between(Duration::ZERO, HOUR_MAX, Some(MS)))]
    pub hour_ms: Option<Duration>,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The longest real time a simulated hour may take.
const HOUR_MAX: Duration = Duration::from_secs(3_600);

/// How often the feed is read for new recommendations.
const FEED_POLL: Duration = Duration::from_millis(250);

/// Runs `nudge demo` until it is done or interrupted.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.folder.exists() && !args.folder.is_dir() {
        bail!("--folder {} is a file: name a folder (made if missing)", args.folder.display());
    }
    let url = format!("sqlite://{}/nudge.db", args.folder.display());
    let read_models = separate_read_models(&url)
        .with_context(|| format!("--folder {} gives no SQLite file name", args.folder.display()))?;
    let _one_process = store::sqlite::ServeLock::acquire_emptied(&url)?;
    let _read_models = store::sqlite::ServeLock::acquire_emptied(&read_models)?;
    let app = Application::build(Settings { listen: args.listen, read_models, ..Settings::new(&url) }).await?;
    let address = app.local_addr()?;
    let base = Url::parse(&format!("http://{address}/"))?;
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
    crate::out!("nudge is serving on {base} (SQLite in {}); try {base}v1/recommendations", args.folder.display());
    // The demo's database starts empty, so no API key is in force: the link needs no `#key=`.
    crate::out!("watch it in the console: {base}console/");

    let outcome = tokio::select! {
        outcome = demo(&args, &base) => outcome,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    stop.cancel();
    server.await??;
    outcome
}

async fn demo(args: &DemoArgs, base: &Url) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let days = args.history_days + args.live_days;
    let today = Utc::now().with_hour(0).and_then(|t| t.with_minute(0)).and_then(|t| t.with_second(0));
    // History and the streamed days both lie in the recent past: event times
    // may not run ahead of the server's clock.
    let start = today.context("midnight")? - chrono::Duration::days(i64::from(days));
    let population = Population::new(args.players, args.seed, start).with_horizon(days);

    let bar = ProgressBar::new(u64::from(args.history_days))
        .with_style(ProgressStyle::with_template("{elapsed_precise} [{bar:30}] day {pos}/{len}: {msg}")?);
    bar.println(format!("simulating {} players over {} days of history", args.players, args.history_days));
    let sent = post_days(&population, args.history_days, Poster::new(base, 1_000, 4, None)?, &bar).await?;
    bar.finish_and_clear();
    crate::out!("{sent} events of history stored");

    let version = train(&client, base).await?;
    let head: Value = client.get(base.join("v1/projections")?).send().await?.json().await?;
    let cursor = head["projections"][0]["head"].as_u64().unwrap_or(0);
    let an_hour = args.hour_ms.unwrap_or(args.hour);
    let plural = if args.live_days == 1 { "" } else { "s" };
    crate::out!(
        "streaming {} more day{plural}, an hour every {}; recommendations as they happen:",
        args.live_days,
        humantime::format_duration(an_hour)
    );
    crate::out!("follow them in the console too: {base}console/#/recommendations");

    let printing = CancellationToken::new();
    let printer = tokio::spawn(print_feed(client.clone(), base.clone(), cursor, printing.clone()));
    let poster = Poster::new(base, 1_000, 4, None)?;
    for day in args.history_days..days {
        let events = population.day(day);
        for hour in events.chunk_by(|a, b| a.time.hour() == b.time.hour()) {
            poster.send(hour).await?;
            tokio::time::sleep(an_hour).await;
        }
    }
    poster.finish().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    printing.cancel();
    let made = printer.await??;
    crate::out!("done: {made} recommendations while streaming, decided with model {version}");
    Ok(())
}

/// Trains a version through the API, activates it, prints its metrics; answers it.
async fn train(client: &reqwest::Client, base: &Url) -> anyhow::Result<String> {
    let started: Value =
        client.post(base.join("v1/models/train")?).json(&json!({"activate": true})).send().await?.json().await?;
    let job = base.join(&format!("v1/models/jobs/{}", started["id"].as_str().context("no job id")?))?;
    let spinner = ProgressBar::new_spinner();
    let done = loop {
        let status: Value = client.get(job.clone()).send().await?.json().await?;
        match status["state"].as_str() {
            Some("running") => {
                spinner.set_message(format!(
                    "training: {} ({} of {} events replayed)",
                    status["step"].as_str().unwrap_or(""),
                    status["events_replayed"],
                    status["events_to_replay"]
                ));
                spinner.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some("succeeded") => break status,
            _ => bail!("training failed: {}", status["error"]),
        }
    };
    spinner.finish_and_clear();
    let version = done["version"].as_str().context("no version")?.to_owned();
    let detail: Value = client.get(base.join(&format!("v1/models/{version}"))?).send().await?.json().await?;
    let artifact: ModelArtifact = serde_json::from_value(detail["artifact"].clone())?;
    print_metrics(&artifact)?;
    crate::out!("model {version} is active");
    Ok(version)
}

/// Prints the feed from `cursor` on until `stop`; answers how many it printed.
async fn print_feed(
    client: reqwest::Client,
    base: Url,
    mut cursor: u64,
    stop: CancellationToken,
) -> anyhow::Result<usize> {
    let mut printed = 0;
    while !stop.is_cancelled() {
        let page: Value = client
            .get(base.join(&format!("v1/recommendations?after={cursor}&limit=500"))?)
            .send()
            .await?
            .json()
            .await?;
        for r in page["recommendations"].as_array().into_iter().flatten() {
            crate::out!("{}", line(r));
            printed += 1;
        }
        cursor = page["next"].as_u64().unwrap_or(cursor);
        tokio::time::sleep(FEED_POLL).await;
    }
    Ok(printed)
}

/// One recommendation as a line: when, who, what, why.
fn line(r: &Value) -> String {
    let score = |name: &str| r["scores"][name].as_f64().map_or_else(|| "-".to_owned(), |s| format!("{s:.2}"));
    let reasons: Vec<String> = r["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|reason| {
            format!("{}={:.1}", reason["feature"].as_str().unwrap_or("?"), reason["value"].as_f64().unwrap_or(0.0))
        })
        .collect();
    let game = r["game_id"].as_str().map(|g| format!(" {g}")).unwrap_or_default();
    format!(
        "{} {:<8} {:<25} harm {} churn {} {:<14} {}{game}",
        r["created_at"].as_str().unwrap_or("").get(..16).unwrap_or(""),
        r["player_id"].as_str().unwrap_or(""),
        r["kind"].as_str().unwrap_or(""),
        score("harm"),
        score("churn"),
        r["rule"].as_str().unwrap_or(""),
        reasons.join(", ")
    )
}
