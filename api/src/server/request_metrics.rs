//! The request metrics (`nudge_http_requests_total`,
//! `nudge_http_request_duration_seconds`), their handles kept per method,
//! route and status: registering a metric hashes its name and labels and
//! allocates them, which every request would otherwise pay twice.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
    time::Duration,
};

use axum::http::{Method, StatusCode};
use metrics::{Counter, Histogram};

/// The handles of one method, route and status.
#[derive(Clone)]
struct Handles {
    requests: Counter,
    duration: Histogram,
}

impl Handles {
    /// Counts one request that took `took`.
    fn record(&self, took: Duration) {
        self.requests.increment(1);
        self.duration.record(took.as_secs_f64());
    }
}

/// The handles of each route, under one method and status.
type Routes = HashMap<Box<str>, Handles>;

/// Counts requests and records their durations.
#[derive(Default)]
pub struct RequestMetrics {
    handles: RwLock<HashMap<(&'static str, StatusCode), Routes>>,
}

impl RequestMetrics {
    /// Records one answered request: `route` is the matched route's template
    /// ("" when none matched), so the labels stay few.
    pub fn record(&self, method: &Method, route: &str, status: StatusCode, took: Duration) {
        let method = method_label(method);
        let handles = self.handles.read().unwrap_or_else(PoisonError::into_inner);
        match handles.get(&(method, status)).and_then(|routes| routes.get(route)) {
            Some(known) => known.record(took),
            None => {
                drop(handles);
                self.register(method, route, status).record(took);
            }
        }
    }

    /// Registers the metrics of new labels and keeps their handles.
    fn register(&self, method: &'static str, route: &str, status: StatusCode) -> Handles {
        let labels =
            [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.as_u16().to_string())];
        let handles = Handles {
            requests: metrics::counter!("nudge_http_requests_total", &labels),
            duration: metrics::histogram!("nudge_http_request_duration_seconds", &labels),
        };
        let mut all = self.handles.write().unwrap_or_else(PoisonError::into_inner);
        all.entry((method, status)).or_default().insert(route.into(), handles.clone());
        handles
    }
}

/// The method's label: a method outside HTTP's own is `OTHER`, so a client
/// cannot make up new series.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN.iter().find(|known| *known == method).map_or("OTHER", Method::as_str)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::{Method, StatusCode};
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::{RequestMetrics, method_label};

    #[test]
    fn methods_outside_http_are_counted_as_other() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }

    #[test]
    fn each_request_counts_once_under_its_own_labels() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let requests = RequestMetrics::default();
            for _ in 0..3 {
                requests.record(&Method::GET, "/healthz", StatusCode::OK, Duration::from_millis(1));
            }
            requests.record(&Method::GET, "/healthz", StatusCode::NOT_FOUND, Duration::from_millis(1));
            requests.record(&Method::POST, "/v1/events", StatusCode::OK, Duration::from_millis(1));
        });
        let text = handle.render();
        let count = |labels: &str| {
            text.lines()
                .find(|line| line.starts_with(&format!("nudge_http_requests_total{{{labels}}}")))
                .and_then(|line| line.rsplit(' ').next())
                .map(str::to_owned)
        };
        assert_eq!(count(r#"method="GET",route="/healthz",status="200""#).as_deref(), Some("3"));
        assert_eq!(count(r#"method="GET",route="/healthz",status="404""#).as_deref(), Some("1"));
        assert_eq!(count(r#"method="POST",route="/v1/events",status="200""#).as_deref(), Some("1"));
    }
}
