//! `nudge bench ...`: the benchmarks whose figures go into BENCHMARKS.md.

pub mod cluster;
pub mod decisions;
pub mod features;
pub mod freshness;
pub mod ingest;
mod lane;
mod leftovers;
pub mod projection;
pub mod webhooks;

use clap::Subcommand;
use cluster::BenchClusterArgs;
use decisions::BenchDecisionsArgs;
use features::BenchFeaturesArgs;
use freshness::BenchFreshnessArgs;
use ingest::BenchIngestArgs;
use projection::BenchProjectionArgs;
use std::time::Duration;
use webhooks::BenchWebhooksArgs;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::leftovers::TempFolder;
#[cfg(unix)]
pub use self::leftovers::{exit_on_interrupt, interrupted};
use crate::{app::Application, app::Settings};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput over HTTP.
    Ingest(BenchIngestArgs),
    /// Projection throughput: store to committed read-model rows.
    Projection(BenchProjectionArgs),
    /// Freshness: append to visible in the features, under steady load.
    Freshness(BenchFreshnessArgs),
    /// Feature reads over HTTP: requests per second and latency of `GET /v1/players/{id}/features`.
    Features(BenchFeaturesArgs),
    /// Decisions: the cost per event of scoring and the policy, in memory.
    Decisions(BenchDecisionsArgs),
    /// Webhooks: deliveries per second from the outbox to a local receiver.
    Webhooks(BenchWebhooksArgs),
    /// Several instances on PostgreSQL: throughput, handovers and freshness through crashes and deploys.
    Cluster(BenchClusterArgs),
}

/// Runs the benchmark `command`; what it made and left, failing half-way, is
/// removed after.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    let result = match command {
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Projection(args) => projection::run(args).await,
        BenchCommand::Freshness(args) => freshness::run(args).await,
        BenchCommand::Features(args) => features::run(args).await,
        BenchCommand::Decisions(args) => decisions::run(args).await,
        BenchCommand::Webhooks(args) => webhooks::run(args).await,
        BenchCommand::Cluster(args) => cluster::run(args).await,
    };
    if result.is_err() {
        leftovers::remove_all("the benchmark failed").await;
    }
    result
}

/// Starts nudge in-process on a free loopback port over the store at `url` (read
/// models at `read_models`, else where `nudge serve` keeps them); answers its
/// base URL and the task serving until `stop`.
async fn serve(
    url: &str,
    read_models: Option<&str>,
    stop: &CancellationToken,
) -> anyhow::Result<(String, JoinHandle<std::io::Result<()>>)> {
    let mut settings = Settings::new(url);
    if let Some(read_models) = read_models {
        read_models.clone_into(&mut settings.read_models);
    }
    let app = Application::build(settings).await?;
    let address = app.local_addr()?;
    let server = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
    Ok((format!("http://{address}"), server))
}

/// Which nudge an HTTP benchmark measures: one it starts in-process, or a running one.
#[derive(Debug, clap::Args)]
pub struct BenchTarget {
    /// Event store of the nudge the benchmark starts in-process (a fresh
    /// temporary SQLite file when neither this nor `--target` is given).
    #[arg(long, env = "NUDGE_BENCH_STORE", conflicts_with = "target")]
    pub store: Option<String>,
    /// Read-model database of the in-process nudge (default: where `nudge serve`
    /// keeps them for the store).
    #[arg(long, env = "NUDGE_BENCH_READ_MODELS", conflicts_with = "target", hide_env_values = true)]
    pub read_models: Option<String>,
    /// Base URL of a running nudge to measure instead (loopback only).
    #[arg(long, env = "NUDGE_BENCH_TARGET", value_parser = crate::config::values::http_url)]
    pub target: Option<reqwest::Url>,
    /// API key for `--target` (the scopes the benchmark's requests need); mind its rate limit (`--rate-limit`).
    #[arg(long, env = "NUDGE_API_KEY", hide_env_values = true, requires = "target")]
    pub api_key: Option<String>,
}

impl BenchTarget {
    /// The base URL to measure, and the in-process nudge's task when one was
    /// started (on a store in `temp` unless `--store` names one), serving until `stop`.
    async fn start(
        &self,
        temp: &TempFolder,
        stop: &CancellationToken,
    ) -> anyhow::Result<(String, Option<JoinHandle<std::io::Result<()>>>)> {
        if let Some(target) = &self.target {
            let host = target.host_str().unwrap_or_default();
            if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") && !host.starts_with("127.") {
                anyhow::bail!("--target must be a loopback address, not {host}");
            }
            return Ok((target.to_string().trim_end_matches('/').to_owned(), None));
        }
        let url = self.store.clone().unwrap_or_else(|| temp.sqlite_url());
        let (address, server) = serve(&url, self.read_models.as_deref(), stop).await?;
        Ok((address, Some(server)))
    }
}

/// The sum of a metric's samples in a Prometheus exposition.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.split(['{', ' ']).next() == Some(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The value at quantile `p` of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn no_benchmark_takes_zero_players_or_events_or_more_than_it_can_hold() {
        let parses = |args: &[&str]| {
            // The cluster benchmark needs a database besides.
            let database: &[&str] =
                if args[0] == "cluster" { &["--database", "postgres://postgres@127.0.0.1/nudge_bench"] } else { &[] };
            Cli::try_parse_from([&["nudge", "bench"], args, database].concat()).is_ok()
        };
        for bench in ["ingest", "projection", "freshness", "decisions", "cluster"] {
            assert!(parses(&[bench, "--players", "1"]), "{bench}");
            assert!(!parses(&[bench, "--players", "0"]), "{bench}");
        }
        for bench in ["ingest", "projection", "cluster"] {
            assert!(!parses(&[bench, "--events", "0"]), "{bench}");
            assert!(!parses(&[bench, "--events", "18446744073709551615"]), "{bench}");
        }
        let cluster =
            |database: &str| Cli::try_parse_from(["nudge", "bench", "cluster", "--database", database]).is_ok();
        assert!(cluster("postgres://postgres@127.0.0.1/nudge_bench"));
        assert!(!cluster("sqlite://x.db") && !cluster("bogus") && !cluster("postgres://postgres@127.0.0.1/"));
        assert!(Cli::try_parse_from(["nudge", "bench", "webhooks", "--mode", "bogus"]).is_err());
    }
}
