//! `nudge simulate`: a simulated population's events, posted to a running nudge
//! or written to a file, and its ground truth beside them.

use clap::Args;
use std::{
    fs::File,
    hash::{DefaultHasher, Hash, Hasher},
    io::{BufWriter, Write},
    sync::{Arc, OnceLock},
    time::Duration,
};

use anyhow::{Context, bail};
use domain::PlayerEvent;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{StatusCode, Url, header::HeaderMap};
use simulator::Population;
use tokio::{sync::mpsc, task::JoinHandle};

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
    /// The first day (UTC), from 1970-01-01 to 9989-12-31; gaming days run from 06:00 to 06:00.
    #[arg(long, default_value = "2026-10-01", value_parser = start_date)]
    pub start: chrono::NaiveDate,
    /// Shares of each archetype, e.g. `regular=0.5,payment_chasing=0.1,bonus_hunter=0.4`: `casual`, `regular`,
    /// `high_roller`, `churner`, `night_shift`, `bonus_hunter`, `heavy_regular`, and the pathways of harm
    /// `escalation`, `payment_chasing`, `bingeing`, `at_risk` (a mix). The default holds every one.
    #[arg(long, default_value_t = simulator::Mix::default())]
    pub mix: simulator::Mix,
    /// Base URL of a running nudge to post the events to, e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_parser = crate::config::values::http_url)]
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

/// A first day whose simulated years RFC 3339 can write (four digits), ten
/// years of activity (`--days` at most) included.
fn start_date(raw: &str) -> Result<chrono::NaiveDate, String> {
    let earliest = chrono::NaiveDate::from_ymd_opt(1970, 1, 1);
    let latest = chrono::NaiveDate::from_ymd_opt(9989, 12, 31);
    match raw.parse::<chrono::NaiveDate>() {
        Ok(date) if Some(date) >= earliest && Some(date) <= latest => Ok(date),
        _ => Err(format!("`{raw}` is not a date (YYYY-MM-DD) from 1970-01-01 to 9989-12-31")),
    }
}

/// Whether `a` and `b` name one file: the same path once their folders are
/// resolved (`./b.nd` and `b.nd`, a link to a folder).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    let resolved = |path: &std::path::Path| {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        std::fs::canonicalize(folder).ok().zip(path.file_name()).map(|(folder, name)| folder.join(name))
    };
    a == b || resolved(a).is_some_and(|a| Some(a) == resolved(b))
}

/// Longest wait between two tries of a batch the target could not take.
const MOST_BACKOFF: Duration = Duration::from_secs(10);
/// Tries of one batch before giving up.
const TRIES: u32 = 12;

/// Runs `nudge simulate`.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let start = args.start.and_hms_opt(0, 0, 0).context("the start date has no midnight")?.and_utc();
    let population = Population::new(args.players, args.seed, start).with_mix(args.mix).with_horizon(args.days);
    let truth = args.truth_path();
    if args.out.as_ref().is_some_and(|out| same_file(out, &truth)) {
        bail!("--out and --truth name the same file, {}: the events would overwrite the truth", truth.display());
    }
    // Both files are made before either is written: one that cannot be leaves
    // no other behind.
    let out = args
        .out
        .as_ref()
        .map(|path| {
            File::create(path).map(|file| (path, file)).with_context(|| format!("cannot create {}", path.display()))
        })
        .transpose()?;
    let file = File::create(&truth).with_context(|| format!("cannot create {}", truth.display()));
    let mut file = BufWriter::new(file.inspect_err(|_| {
        if let Some((path, _)) = &out {
            let _ = std::fs::remove_file(path);
        }
    })?);
    population
        .write_truth(&mut file)
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write {}", truth.display()))?;

    let progress = ProgressBar::new(u64::from(args.days)).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] day {pos}/{len}: {msg}")
            .context("progress template")?,
    );
    let events = match (&args.target, &args.out) {
        (Some(target), _) => {
            let poster =
                Poster::new(target, args.batch as usize, usize::from(args.concurrency), args.api_key.as_deref())?;
            post_days(&population, args.days, poster, &progress).await?
        }
        (None, _) => match out {
            Some((path, file)) => write(&population, args.days, path, file, &progress)?,
            None => bail!("give --target or --out"),
        },
    };
    progress.finish_and_clear();
    let destination = match (&args.target, &args.out) {
        (Some(target), _) => format!("posted to {target}"),
        (None, out) => format!("written to {}", out.as_deref().unwrap_or(std::path::Path::new("")).display()),
    };
    crate::out!(
        "{} of {} over {} ({}) {destination}; ground truth in {}",
        counted(events, "event"),
        counted(args.players, "player"),
        counted(args.days.into(), "day"),
        args.mix,
        truth.display()
    );
    Ok(())
}

/// `n` and its noun, plural unless `n` is one: "1 day", "30 days".
fn counted(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Writes every day's events to `out`, one JSON CloudEvent per line.
fn write(
    population: &Population,
    days: u32,
    out: &std::path::Path,
    file: File,
    progress: &ProgressBar,
) -> anyhow::Result<u64> {
    let mut file = BufWriter::new(file);
    let mut written = 0u64;
    for day in 0..days {
        for event in population.day(day) {
            serde_json::to_writer(&mut file, &event.to_json())?;
            file.write_all(b"\n")?;
            written += 1;
        }
        progress.inc(1);
        progress.set_message(format!("{written} events"));
    }
    file.flush().with_context(|| format!("cannot write {}", out.display()))?;
    Ok(written)
}

/// Posts days `0..days` of the population through `poster`, a day at a time,
/// and waits until all is posted; answers how many events were sent.
pub async fn post_days(
    population: &Population,
    days: u32,
    poster: Poster,
    progress: &ProgressBar,
) -> anyhow::Result<u64> {
    let mut sent = 0u64;
    for day in 0..days {
        let generator = population.clone();
        let events = tokio::task::spawn_blocking(move || generator.day(day)).await?;
        poster.send(&events).await?;
        sent += events.len() as u64;
        progress.inc(1);
        progress.set_message(format!("{sent} events"));
    }
    poster.finish().await?;
    Ok(sent)
}

/// Posts events to a running nudge in batches over several lanes; a player's
/// events always take the same lane, so they stay in order.
pub struct Poster {
    lanes: Vec<mpsc::Sender<String>>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    batch: usize,
    /// Why the first lane to stop stopped.
    stopped: Arc<OnceLock<String>>,
}

/// The `Authorization: Bearer` header of `api_key`, when there is one.
pub fn bearer(api_key: Option<&str>) -> anyhow::Result<reqwest::header::HeaderMap> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = api_key {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
            .context("the API key is not a valid header value")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

impl Poster {
    /// Lanes posting to `target`'s `/v1/events`, `batch` events a request,
    /// with `api_key` as the bearer when given.
    pub fn new(target: &Url, batch: usize, lanes: usize, api_key: Option<&str>) -> anyhow::Result<Self> {
        // A base with a path (`http://host/nudge`) keeps it: `join` would drop its last segment.
        let mut base = target.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let url = base.join("v1/events").with_context(|| format!("{target} cannot take a path"))?;
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(60)).default_headers(bearer(api_key)?).build()?;
        let stopped = Arc::new(OnceLock::new());
        let (lanes, tasks) = (0..lanes.max(1))
            .map(|_| {
                let (sender, receiver) = mpsc::channel(2);
                (sender, tokio::spawn(lane(client.clone(), url.clone(), receiver, Arc::clone(&stopped))))
            })
            .unzip();
        Ok(Self { lanes, tasks, batch: batch.max(1), stopped })
    }

    /// Hands `events` (in time order) to the lanes; answers once they are queued.
    pub async fn send(&self, events: &[PlayerEvent]) -> anyhow::Result<()> {
        let mut per_lane: Vec<Vec<String>> = vec![Vec::new(); self.lanes.len()];
        for event in events {
            let mut hasher = DefaultHasher::new();
            event.player_id.as_str().hash(&mut hasher);
            per_lane[(hasher.finish() % self.lanes.len() as u64) as usize].push(event.to_json().to_string());
        }
        for (sender, bodies) in self.lanes.iter().zip(per_lane) {
            for chunk in bodies.chunks(self.batch) {
                sender.send(format!("[{}]", chunk.join(","))).await.map_err(|_| {
                    anyhow::anyhow!("a lane stopped: {}", self.stopped.get().map_or("for no reason given", |s| s))
                })?;
            }
        }
        Ok(())
    }

    /// Waits until everything handed over is posted.
    pub async fn finish(self) -> anyhow::Result<()> {
        drop(self.lanes);
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}

/// Posts the batches it is handed, one at a time, in order; says in `stopped`
/// why it stops, if it does.
async fn lane(
    client: reqwest::Client,
    url: Url,
    mut batches: mpsc::Receiver<String>,
    stopped: Arc<OnceLock<String>>,
) -> anyhow::Result<()> {
    while let Some(body) = batches.recv().await {
        if let Err(error) = post_batch(&client, &url, body).await {
            let _ = stopped.set(format!("{error:#}"));
            return Err(error);
        }
    }
    Ok(())
}

/// Posts one batch, trying again with backoff whatever a resend can fix: no
/// connection, one closed or reset mid-request, a timeout, a 5xx, a 429 (after
/// its `Retry-After`). Ingest is idempotent, so a batch sent twice is stored once.
async fn post_batch(client: &reqwest::Client, url: &Url, body: String) -> anyhow::Result<()> {
    let mut backoff = Duration::from_millis(200);
    let mut failure = String::new();
    for _ in 0..TRIES {
        let answer = client
            .post(url.clone())
            .header("content-type", "application/cloudevents-batch+json")
            .body(body.clone())
            .send()
            .await;
        let asked = match answer {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response)
                if response.status().is_server_error() || response.status() == StatusCode::TOO_MANY_REQUESTS =>
            {
                failure = format!("answered {}", response.status());
                retry_after(response.headers())
            }
            Ok(response) => {
                let status = response.status();
                bail!("{url} refused a batch with {status}: {}", response.text().await.unwrap_or_default());
            }
            Err(error) if error.is_builder() => return Err(error).with_context(|| format!("cannot post to {url}")),
            Err(error) => {
                failure = format!("{:#}", anyhow::Error::new(error));
                None
            }
        };
        tracing::warn!(%failure, "the target did not take a batch; trying again");
        tokio::time::sleep(asked.map_or(backoff, |asked| asked.max(backoff))).await;
        backoff = (backoff * 2).min(MOST_BACKOFF);
    }
    bail!("{url} did not take a batch after {TRIES} tries; the last failure: {failure}")
}

/// The wait a `Retry-After` of whole seconds asks for, at most a minute.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}
