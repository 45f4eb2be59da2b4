//! The Prometheus exporter: the recorder, set up from the catalogue of every
//! metric nudge exports, its upkeep, and `/metrics` on a listener of its own.

mod catalogue;
#[cfg(test)]
mod documented;

use std::{sync::OnceLock, time::Duration};

use axum::{
    Router,
    http::{HeaderName, header},
    routing::get,
};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

pub use catalogue::{Kind, METRICS, Metric};

/// How often the exporter's upkeep runs: it drains histogram samples into their
/// buckets (so that they do not pile up while nothing scrapes) and publishes help texts.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide Prometheus recorder, installed on first use with every
/// metric described, `nudge_build_info` set and the upkeep running.
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = builder().unwrap_or_else(|error| {
                tracing::error!(%error, "histograms are exported as summaries");
                PrometheusBuilder::new()
            });
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness): then this
            // handle renders nothing, which is what such a process wants anyway.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            metrics::gauge!("nudge_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle.run_upkeep();
            keep_up(handle.clone(), UPKEEP_EVERY);
            handle
        })
        .clone()
}

/// A builder exporting each histogram of [`METRICS`] with its buckets.
fn builder() -> Result<PrometheusBuilder, BuildError> {
    METRICS.iter().try_fold(PrometheusBuilder::new(), |builder, metric| match metric.kind {
        Kind::Histogram(buckets) => builder.set_buckets_for_metric(Matcher::Full(metric.name.to_owned()), buckets),
        Kind::Counter | Kind::Gauge => Ok(builder),
    })
}

/// Gives the installed recorder the help text of every metric.
fn describe() {
    for metric in METRICS {
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            Kind::Histogram(_) => metrics::describe_histogram!(metric.name, metric.help),
        }
    }
}

/// Runs the exporter's upkeep on `handle` every `every`, for the rest of the process.
fn keep_up(handle: PrometheusHandle, every: Duration) {
    let upkeep = move || {
        loop {
            std::thread::sleep(every);
            handle.run_upkeep();
        }
    };
    match std::thread::Builder::new().name("metrics-upkeep".to_owned()).spawn(upkeep) {
        Ok(thread) => {
            let _ = UPKEEP.set(thread.thread().clone());
        }
        Err(error) => {
            tracing::error!(%error, "cannot start the metrics upkeep: histogram samples pile up until scraped")
        }
    }
}

/// The thread running the upkeep, once started.
static UPKEEP: OnceLock<std::thread::Thread> = OnceLock::new();

/// The metrics in the Prometheus text exposition format.
pub fn exposition(handle: &PrometheusHandle) -> ([(HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render())
}

/// Serves `GET /metrics` alone on `listener` (`--metrics-listen`) for the rest of the process.
pub async fn serve_metrics(listener: TcpListener) {
    let app = Router::new().route("/metrics", get(|| async { exposition(&metrics()) }));
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    #[test]
    fn every_histogram_has_increasing_buckets() {
        for metric in METRICS {
            if let Kind::Histogram(buckets) = metric.kind {
                assert!(!buckets.is_empty() && buckets.windows(2).all(|w| w[0] < w[1]), "{}", metric.name);
            }
        }
        assert!(builder().is_ok());
    }

    #[test]
    fn histograms_render_as_buckets_with_help() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            metrics::histogram!("nudge_projection_commit_seconds", "projection" => "features").record(0.003);
        });
        handle.run_upkeep();
        let text = handle.render();
        assert!(text.contains("# HELP nudge_projection_commit_seconds Time to commit"), "{text}");
        assert!(
            text.contains("nudge_projection_commit_seconds_bucket{projection=\"features\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(!text.contains("quantile"), "{text}");
    }

    #[test]
    fn the_upkeep_runs_beside_the_recorder() {
        let _ = metrics();
        assert_eq!(UPKEEP.get().and_then(|thread| thread.name()), Some("metrics-upkeep"));
    }

    /// Every metric the workspace's code records is in [`METRICS`] with its
    /// kind, and every one of [`METRICS`] is recorded somewhere.
    #[test]
    fn metrics_lists_every_metric_recorded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut recorded = Vec::new();
        for crate_dir in ["domain", "store", "projections", "ml", "webhooks", "api"] {
            for file in rust_files(&root.join(crate_dir).join("src")) {
                let text = std::fs::read_to_string(&file).unwrap();
                for (macro_name, kind) in [("counter!(", "counter"), ("gauge!(", "gauge"), ("histogram!(", "histogram")]
                {
                    for (at, _) in text.match_indices(&format!("metrics::{macro_name}\"")) {
                        let rest = &text[at + "metrics::".len() + macro_name.len() + 1..];
                        let name = &rest[..rest.find('"').unwrap()];
                        recorded.push((name.to_owned(), kind));
                    }
                }
            }
        }
        for (name, kind) in &recorded {
            let metric = METRICS.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} is not in METRICS"));
            let listed = match metric.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram(_) => "histogram",
            };
            assert_eq!(listed, *kind, "{name}");
        }
        for metric in METRICS {
            assert!(recorded.iter().any(|(name, _)| name == metric.name), "{} is never recorded", metric.name);
        }
    }

    fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }
}
