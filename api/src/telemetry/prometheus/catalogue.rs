//! Every metric nudge exports: its kind, labels, help text and, for a
//! histogram, its buckets.

/// What a metric is, for Prometheus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted into these buckets (upper bounds).
    Histogram(&'static [f64]),
}

/// One metric family nudge exports.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Its name, as scraped.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// Its `# HELP` text.
    pub help: &'static str,
}

/// HTTP requests: sub-millisecond reads up to the 30 s request timeout.
const REQUEST_SECONDS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Read-model commits: a few milliseconds, seconds on a struggling database.
const COMMIT_SECONDS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Webhook attempts: a subscriber's answer, up to the 15 s attempt timeout.
const DELIVERY_SECONDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0];
/// Micro-batch sizes: one event up to the largest `--projection-batch-events`.
const BATCH_SIZES: &[f64] =
    &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 100_000.0];
/// Appends sharing one group commit: one up to the queue's depth.
const GROUP_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1_024.0, 4_096.0];

/// Every metric nudge exports.
pub const METRICS: &[Metric] = &[
    Metric {
        name: "nudge_build_info",
        kind: Kind::Gauge,
        labels: &["version"],
        help: "Always 1; the version of nudge running.",
    },
    Metric {
        name: "nudge_http_requests_total",
        kind: Kind::Counter,
        labels: &["method", "route", "status"],
        help: "HTTP requests answered.",
    },
    Metric {
        name: "nudge_http_request_duration_seconds",
        kind: Kind::Histogram(REQUEST_SECONDS),
        labels: &["method", "route", "status"],
        help: "Time to answer an HTTP request.",
    },
    Metric {
        name: "nudge_http_rate_limited_total",
        kind: Kind::Counter,
        labels: &["key"],
        help: "Requests refused with 429 because their API key went over its rate.",
    },
    Metric {
        name: "nudge_ingested_events_total",
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Events ingested: appended, or duplicate (already stored, appended once).",
    },
    Metric {
        name: "nudge_store_appended_events_total",
        kind: Kind::Counter,
        labels: &[],
        help: "Events appended to the event store.",
    },
    Metric {
        name: "nudge_store_group_commit_seconds",
        kind: Kind::Histogram(COMMIT_SECONDS),
        labels: &[],
        help: "Time of one group commit: its reads, inserts and sync.",
    },
    Metric {
        name: "nudge_store_group_commit_calls",
        kind: Kind::Histogram(GROUP_SIZES),
        labels: &[],
        help: "Append requests committed together in one group commit.",
    },
    Metric {
        name: "nudge_store_append_lock_fallbacks_total",
        kind: Kind::Counter,
        labels: &[],
        help: "PostgreSQL appends that lost the race to another process and were retried under the lock.",
    },
    Metric {
        name: "nudge_store_followers",
        kind: Kind::Gauge,
        labels: &[],
        help: "Other processes following the PostgreSQL event store, counted every second; its commits notify them only while there are any.",
    },
    Metric {
        name: "nudge_projection_events_total",
        kind: Kind::Counter,
        labels: &["projection"],
        help: "Events projected into the read model.",
    },
    Metric {
        name: "nudge_projection_batch_events",
        kind: Kind::Histogram(BATCH_SIZES),
        labels: &["projection"],
        help: "Events folded since the previous read-model commit, by commit.",
    },
    Metric {
        name: "nudge_projection_batch_rows",
        kind: Kind::Histogram(BATCH_SIZES),
        labels: &["projection"],
        help: "Feature rows written by one read-model commit.",
    },
    Metric {
        name: "nudge_projection_batch_wait_seconds",
        kind: Kind::Gauge,
        labels: &["projection"],
        help: "How long the latest micro-batch waited at most for more events after its first: longer as events arrive faster.",
    },
    Metric {
        name: "nudge_projection_commit_seconds",
        kind: Kind::Histogram(COMMIT_SECONDS),
        labels: &["projection"],
        help: "Time to commit one micro-batch to the read model.",
    },
    Metric {
        name: "nudge_sqlite_checkpoint_seconds",
        kind: Kind::Histogram(COMMIT_SECONDS),
        labels: &["file"],
        help: "Time of one passive checkpoint of a SQLite file's WAL (store or read_models), run beside the writer.",
    },
    Metric {
        name: "nudge_sqlite_checkpoint_finishes_total",
        kind: Kind::Counter,
        labels: &["file"],
        help: "SQLite: checkpoints the writer finished between two transactions, so that the WAL starts over under steady load.",
    },
    Metric {
        name: "nudge_sqlite_wal_frames",
        kind: Kind::Gauge,
        labels: &["file"],
        help: "Pages in a SQLite file's WAL at its last checkpoint.",
    },
    Metric {
        name: "nudge_projection_lag_events",
        kind: Kind::Gauge,
        labels: &["projection"],
        help: "Events (log distance on KurrentDB) between the projection's checkpoint and the store's head.",
    },
    Metric {
        name: "nudge_projection_lag_seconds",
        kind: Kind::Gauge,
        labels: &["projection"],
        help: "Age of the oldest event not projected yet, to half a second: 0 when caught up.",
    },
    Metric {
        name: "nudge_projection_players_in_memory",
        kind: Kind::Gauge,
        labels: &["projection", "partition"],
        help: "Players whose fold state a projection partition holds in memory.",
    },
    Metric {
        name: "nudge_projection_rows_unwritten",
        kind: Kind::Gauge,
        labels: &["projection", "partition"],
        help: "Players whose feature row waits in a projection partition to be written (--projection-write-behind).",
    },
    Metric {
        name: "nudge_projection_failures_total",
        kind: Kind::Counter,
        labels: &["projection"],
        help: "Projection runs that failed and restarted from their checkpoint.",
    },
    Metric {
        name: "nudge_projection_events_skipped_total",
        kind: Kind::Counter,
        labels: &[],
        help: "Stored events the projection skipped because they no longer validate.",
    },
    Metric {
        name: "nudge_projection_fenced_commits_total",
        kind: Kind::Counter,
        labels: &["projection"],
        help: "Read-model commits rolled back because a partition they wrote had changed hands.",
    },
    Metric {
        name: "nudge_projection_leases_lost_total",
        kind: Kind::Counter,
        labels: &["projection"],
        help: "Partition leases this instance found taken by another (or fenced) when it renewed them.",
    },
    Metric {
        name: "nudge_projection_lease_errors_total",
        kind: Kind::Counter,
        labels: &[],
        help: "Lease renewals and rebalances that failed and were retried at the next tick.",
    },
    Metric {
        name: "nudge_projection_partitions_owned",
        kind: Kind::Gauge,
        labels: &["projection"],
        help: "Logical partitions this instance holds leases on.",
    },
    Metric {
        name: "nudge_feature_cache_reads_total",
        kind: Kind::Counter,
        labels: &["result"],
        help: "Feature reads looked up in memory: answered there (hit) or from the read-model database (miss).",
    },
    Metric {
        name: "nudge_feature_reads_forwarded_total",
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Feature reads forwarded to the instance folding the player: answered there, or failed and answered here.",
    },
    Metric {
        name: "nudge_feature_reads_from_peers_total",
        kind: Kind::Counter,
        labels: &[],
        help: "Feature reads another instance forwarded here, proven with the peers' secret: counted against the caller's rate there, not here.",
    },
    Metric {
        name: "nudge_recommendations_total",
        kind: Kind::Counter,
        labels: &["kind", "rule"],
        help: "Recommendations made, by intervention kind and the rule that fired.",
    },
    Metric {
        name: "nudge_webhook_deliveries_total",
        kind: Kind::Counter,
        labels: &["subscription", "outcome"],
        help: "Webhook deliveries attempted: delivered, failed (retried), dead (dead-lettered), gone (410: subscription disabled).",
    },
    Metric {
        name: "nudge_webhook_delivery_duration_seconds",
        kind: Kind::Histogram(DELIVERY_SECONDS),
        labels: &["subscription"],
        help: "Time of one webhook request, until the subscriber's answer or the attempt's end.",
    },
    Metric {
        name: "nudge_webhook_backlog",
        kind: Kind::Gauge,
        labels: &["subscription"],
        help: "Webhook deliveries pending.",
    },
    Metric {
        name: "nudge_webhook_oldest_pending_seconds",
        kind: Kind::Gauge,
        labels: &["subscription"],
        help: "Age of the oldest pending webhook delivery.",
    },
    Metric {
        name: "nudge_webhook_outbox",
        kind: Kind::Gauge,
        labels: &[],
        help: "Recommendations not yet routed to their subscriptions' deliveries.",
    },
    Metric {
        name: "nudge_webhook_routed_total",
        kind: Kind::Counter,
        labels: &[],
        help: "Webhook deliveries created from the outbox.",
    },
    Metric { name: "nudge_erasures_total", kind: Kind::Counter, labels: &[], help: "Players erased." },
];
