//! The README's metrics table against the catalogue, so that every metric an
//! operator can scrape is documented with its type and labels, and no other.

use super::{Kind, METRICS};
use crate::readme;

/// The README's name for a kind.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Histogram(_) => "histogram",
    }
}

/// The rows of the table under `## Metrics`: the metrics a row names (a row
/// may name several of one kind), its type and its labels cell.
fn rows() -> Vec<(Vec<&'static str>, &'static str, &'static str)> {
    readme::table("Metrics")
        .into_iter()
        .filter_map(|cells| {
            let names = cells.first()?.split(", ").map(|name| name.trim_matches('`')).collect();
            Some((names, *cells.get(1)?, *cells.get(2)?))
        })
        .collect()
}

#[test]
fn every_metric_is_in_the_readme_with_its_type_and_labels() {
    let rows = rows();
    for metric in METRICS {
        let Some((_, kind, labels)) = rows.iter().find(|(names, _, _)| names.contains(&metric.name)) else {
            panic!("README's Metrics table lacks {}", metric.name)
        };
        assert_eq!(*kind, kind_name(metric.kind), "{}'s type", metric.name);
        for label in metric.labels {
            assert!(labels.contains(&format!("`{label}`")), "README does not give {}'s label {label}", metric.name);
        }
        assert_eq!(labels.is_empty(), metric.labels.is_empty(), "{}'s labels: README gives {labels:?}", metric.name);
    }
}

#[test]
fn every_metric_in_the_readme_is_exported() {
    let rows = rows();
    assert!(rows.len() > 20, "the table was read: {} rows", rows.len());
    for name in rows.iter().flat_map(|(names, _, _)| names) {
        assert!(
            METRICS.iter().any(|metric| metric.name == *name),
            "README documents {name}, which nudge does not export"
        );
    }
}
