//! `/metrics` read by a Prometheus text-format parser: help texts, histogram
//! buckets, the build info, and `--metrics-listen`.

use std::{collections::BTreeSet, time::Duration};

use api::telemetry::prometheus::{Kind, METRICS};
use prometheus_parse::{Scrape, Value};
use serde_json::json;
use store::testing::TempSqlite;

use crate::helpers::{BATCH, TestApp, bet, event, serve_reporting};

/// Parses a scrape in the Prometheus text format.
fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).unwrap()
}

/// The family a sample belongs to: a histogram's `_sum` and `_count` belong to the histogram.
fn family(sample: &str) -> &str {
    let histogram = |base: &str| METRICS.iter().any(|m| m.name == base && matches!(m.kind, Kind::Histogram(_)));
    ["_sum", "_count"]
        .iter()
        .find_map(|suffix| sample.strip_suffix(suffix).filter(|base| histogram(base)))
        .unwrap_or(sample)
}

/// Every family scraped is one nudge lists, with its `# HELP` line, of the kind
/// listed, and every histogram is exported with buckets (none as a summary).
fn check_exposition(scrape: &Scrape) {
    let mut histograms = BTreeSet::new();
    for sample in &scrape.samples {
        let name = family(&sample.metric);
        let metric = METRICS.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} is not listed"));
        assert!(scrape.docs.get(name).is_some_and(|help| help == metric.help), "{name} has no or another # HELP");
        match (&sample.value, metric.kind) {
            (Value::Histogram(buckets), Kind::Histogram(bounds)) => {
                assert_eq!(buckets.len(), bounds.len() + 1, "{name}: its buckets and +Inf");
                assert!(buckets.last().is_some_and(|b| b.less_than.is_infinite()), "{name}");
                histograms.insert(name);
            }
            (Value::Counter(_), Kind::Counter) | (Value::Gauge(_), Kind::Gauge) => {}
            (Value::Untyped(_), Kind::Histogram(_)) if name != sample.metric => {}
            (value, kind) => panic!("{name}: {value:?} exported for a {kind:?}"),
        }
    }
    let counted: BTreeSet<&str> =
        scrape.samples.iter().filter(|s| s.metric.ends_with("_count")).map(|s| family(&s.metric)).collect();
    let listed: BTreeSet<&str> =
        METRICS.iter().filter(|m| matches!(m.kind, Kind::Histogram(_))).map(|m| m.name).collect();
    for name in counted.intersection(&listed) {
        assert!(histograms.contains(name), "{name} has a _count but no _bucket series");
    }
}

#[tokio::test]
async fn every_metric_has_help_and_every_histogram_buckets() {
    let app = TestApp::sqlite().await;
    let events: Vec<_> = (0..20).map(|i| bet(&format!("m{i}"), &format!("p{}", i % 4), 100)).collect();
    let answer: serde_json::Value = app.post_json(BATCH, &json!(events)).await.json().await.unwrap();
    let last = answer["results"][19]["position"].as_u64().unwrap();
    let session = event("m-s", "p0", "player.session.started", json!({"channel": "web"}));
    assert_eq!(app.post_json(BATCH, &json!([session])).await.status(), 202);
    let features = app.get(&format!("/v1/players/p3/features?min_position={last}")).await;
    assert_eq!(features.status(), 200);
    assert_eq!(app.get("/v1/players/nobody/features").await.status(), 404);

    // The lag is measured twice a second from the projection's start, and the
    // batch's commit lands behind the answer from memory, on the projection's threads.
    let expected = [
        "nudge_build_info",
        "nudge_http_request_duration_seconds",
        "nudge_projection_commit_seconds",
        "nudge_projection_batch_events",
        "nudge_projection_lag_seconds",
        "nudge_projection_lag_events",
    ];
    let mut scrape = parse(&app.get("/metrics").await.text().await.unwrap());
    for _ in 0..400 {
        let families: BTreeSet<&str> = scrape.samples.iter().map(|s| family(&s.metric)).collect();
        if expected.iter().all(|name| families.contains(name)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        scrape = parse(&app.get("/metrics").await.text().await.unwrap());
    }
    check_exposition(&scrape);
    let families: BTreeSet<&str> = scrape.samples.iter().map(|s| family(&s.metric)).collect();
    for name in expected {
        assert!(families.contains(name), "{name} missing from {families:?}");
    }
    let requests = scrape
        .samples
        .iter()
        .find(|s| s.metric == "nudge_http_request_duration_seconds" && s.labels.get("route") == Some("/v1/events"));
    assert!(matches!(requests.map(|s| &s.value), Some(Value::Histogram(_))), "{requests:?}");
}

#[tokio::test]
async fn metrics_listen_serves_the_metrics_on_an_address_of_its_own() {
    let db = TempSqlite::new().unwrap();
    let (_child, addresses) = serve_reporting(
        "127.0.0.1:0",
        &db.url(),
        &["--metrics-listen", "127.0.0.1:0"],
        &["address", "metrics_address"],
    );
    let (address, metrics) = (&addresses[0], &addresses[1]);
    assert_ne!(address, metrics);
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{address}/healthz")).send().await.unwrap().status(), 200);

    let response = client.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4");
    let scrape = parse(&response.text().await.unwrap());
    check_exposition(&scrape);
    let info = scrape.samples.iter().find(|s| s.metric == "nudge_build_info").unwrap();
    assert_eq!(info.labels.get("version"), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(info.value, Value::Gauge(1.0));
    let requests = scrape.samples.iter().find(|s| s.metric == "nudge_http_request_duration_seconds").unwrap();
    assert_eq!(requests.labels.get("route"), Some("/healthz"));

    // Only the metrics there; and still on the main listener.
    assert_eq!(client.get(format!("{metrics}/healthz")).send().await.unwrap().status(), 404);
    assert_eq!(client.get(format!("{address}/metrics")).send().await.unwrap().status(), 200);
}
