//! The monitoring in `deploy/`: the Grafana dashboard's and the alerting rules'
//! queries name only metrics and labels nudge exports.

use std::path::Path;

use api::telemetry::prometheus::{Kind, METRICS, Metric};
use serde_json::Value;

/// Labels Prometheus adds to every series it scrapes.
const TARGET_LABELS: &[&str] = &["job", "instance"];

fn deploy_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy").join(path)).unwrap()
}

/// The metric a series name belongs to, and whether it is a histogram's `_bucket`.
fn exported(series: &str) -> Option<(&'static Metric, bool)> {
    let metric = |name: &str| METRICS.iter().find(|m| m.name == name);
    if let Some(m) = metric(series).filter(|m| !matches!(m.kind, Kind::Histogram(_))) {
        return Some((m, false));
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let m = metric(series.strip_suffix(suffix)?).filter(|m| matches!(m.kind, Kind::Histogram(_)))?;
        Some((m, *suffix == "_bucket"))
    })
}

/// The label names a matcher list (`{a="x", b=~"y"}`, without its braces) names.
fn matcher_labels(matchers: &str) -> Vec<&str> {
    matchers
        .split(',')
        .filter_map(|m| m.split(['=', '!']).next().map(str::trim).filter(|name| !name.is_empty()))
        .collect()
}

/// Checks a PromQL expression: it names at least one series; each is one nudge
/// exports, selected by labels it has; `by (...)` groups by labels its series have.
fn check_query(expr: &str) -> Result<(), String> {
    let mut labels: Vec<&str> = TARGET_LABELS.to_vec();
    let mut named = 0;
    let mut rest = expr;
    while let Some(at) = rest.find("nudge_") {
        let end = rest[at..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(rest.len(), |e| at + e);
        let series = &rest[at..end];
        let (metric, bucket) = exported(series).ok_or_else(|| format!("`{series}` is not a series nudge exports"))?;
        labels.extend(metric.labels);
        if bucket {
            labels.push("le");
        }
        if let Some(matchers) = rest[end..].strip_prefix('{').and_then(|m| m.split_once('}')).map(|(m, _)| m) {
            let own = |label: &&str| metric.labels.contains(label) || TARGET_LABELS.contains(label);
            if let Some(label) = matcher_labels(matchers).iter().find(|label| !own(label)) {
                return Err(format!("`{series}` has no label `{label}`"));
            }
        }
        named += 1;
        rest = &rest[end..];
    }
    if named == 0 {
        return Err("names no nudge metric".to_owned());
    }
    for clause in expr.split("by (").skip(1) {
        let grouped = clause.split_once(')').map_or("", |(g, _)| g);
        if let Some(label) = grouped.split(',').map(str::trim).find(|label| !labels.contains(label)) {
            return Err(format!("groups by `{label}`, which none of its series has"));
        }
    }
    if expr.contains("histogram_quantile") && !expr.contains("_bucket") {
        return Err("a quantile not computed from buckets".to_owned());
    }
    Ok(())
}

/// Every panel of the dashboard, those in collapsed rows too.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        all.push(panel);
        all.extend(panel["panels"].as_array().into_iter().flatten());
    }
    all
}

#[test]
fn the_dashboard_queries_only_what_nudge_exports() {
    let dashboard: Value = serde_json::from_str(&deploy_file("grafana/nudge.json")).unwrap();
    let mut ids = Vec::new();
    let mut queried = Vec::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap();
        ids.push(panel["id"].as_u64().unwrap());
        assert!(panel["gridPos"]["w"].as_u64().is_some_and(|w| w > 0 && w <= 24), "{title}: gridPos");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} queries nothing");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            check_query(expr).unwrap_or_else(|error| panic!("{title}: {expr}: {error}"));
            queried.push(expr);
        }
    }
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "panel ids are unique");
    for wanted in [
        "nudge_ingested_events_total",
        "nudge_projection_lag_events",
        "nudge_projection_lag_seconds",
        "nudge_recommendations_total",
        "nudge_webhook_backlog",
        "outcome=\"dead\"",
        "histogram_quantile(0.99, sum by (le) (rate(nudge_http_request_duration_seconds_bucket",
        "status=~\"5..\"",
    ] {
        assert!(queried.iter().any(|expr| expr.contains(wanted)), "no panel shows {wanted}");
    }
}

/// The `expr` of each alerting rule: the text after `expr:` and the lines
/// indented under it.
fn rule_exprs(rules: &str) -> Vec<String> {
    let mut exprs = Vec::new();
    let mut lines = rules.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(first) = line.trim_start().strip_prefix("expr:") else { continue };
        let indent = line.len() - line.trim_start().len();
        let mut expr = first.trim().trim_start_matches(">-").to_owned();
        while let Some(next) = lines.next_if(|l| l.len() - l.trim_start().len() > indent || l.trim().is_empty()) {
            expr.push(' ');
            expr.push_str(next.trim());
        }
        exprs.push(expr);
    }
    exprs
}

#[test]
fn the_alert_rules_query_only_what_nudge_exports() {
    let exprs = rule_exprs(&deploy_file("prometheus/alerts.yml"));
    assert_eq!(exprs.len(), 5);
    for expr in &exprs {
        check_query(expr).unwrap_or_else(|error| panic!("{expr}: {error}"));
    }
}

#[test]
fn the_query_check_refuses_what_nudge_does_not_export() {
    assert!(check_query("rate(nudge_http_requests_total[5m])").is_ok());
    assert!(check_query("rate(nudge_http_request_total[5m])").is_err());
    assert!(check_query("nudge_http_request_duration_seconds").is_err());
    assert!(check_query("histogram_quantile(0.9, nudge_http_request_duration_seconds_count)").is_err());
    assert!(check_query("nudge_webhook_backlog{outcome=\"dead\"}").is_err());
    assert!(check_query("sum by (kind) (nudge_webhook_backlog)").is_err());
    assert!(check_query("up").is_err());
}
