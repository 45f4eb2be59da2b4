//! `nudge bench ...`: the benchmarks whose figures go into BENCHMARKS.md.

pub mod decisions;
pub mod freshness;
pub mod ingest;
pub mod projection;
pub mod webhooks;

use std::time::Duration;

use anyhow::Context;
use projections::{ProjectionConfig, ReadModel};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{Application, HttpConfig, config::read_models_beside};

/// Starts nudge in-process on a free loopback port over the store at `url` (read
/// models beside it); answers its base URL and the task serving until `stop`.
async fn serve(url: &str, stop: &CancellationToken) -> anyhow::Result<(String, JoinHandle<std::io::Result<()>>)> {
    let store = store::connect(url).await.with_context(|| format!("cannot open {url}"))?;
    let read_model = ReadModel::connect(&read_models_beside(url)).await?;
    let app = Application::build(
        ([127, 0, 0, 1], 0).into(),
        store,
        read_model,
        ProjectionConfig::default(),
        HttpConfig::default(),
        ::webhooks::DispatcherConfig::default(),
    )
    .await?;
    let address = app.local_addr()?;
    let server = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
    Ok((format!("http://{address}"), server))
}

/// The value at quantile `p` of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// A fresh temporary folder for a benchmark's SQLite file, removed on drop.
struct TempFolder(std::path::PathBuf);

impl TempFolder {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("nudge-bench-{}", uuid::Uuid::new_v4().simple())))
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite://{}/nudge.db", self.0.display())
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
