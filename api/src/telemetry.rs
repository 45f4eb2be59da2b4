//! Logs (tracing), traces and metrics (Prometheus) set-up.

pub mod prometheus;
mod statements;

pub use prometheus::metrics;
pub use statements::Statements;

use std::io::IsTerminal;

use axum::{extract::Request, http::HeaderMap};
use domain::{TRACEPARENT, TRACESTATE, TraceContext, TraceParent};
use opentelemetry::{
    Context,
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider},
};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use reqwest::Url;
use tracing::{
    Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id},
};
use tracing_opentelemetry::{OpenTelemetrySpanExt, OtelData};
use tracing_subscriber::{EnvFilter, Layer, fmt, layer, prelude::*, registry::LookupSpan};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("cannot export spans over OTLP: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The tracing set-up; dropping it sends the spans still buffered for export.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(Err(error)) = self.provider.take().map(|provider| provider.shutdown()) {
            tracing::warn!(%error, "spans may not all have been exported");
        }
    }
}

/// The levels logged without `RUST_LOG`: `info`, but PostgreSQL's notices
/// only from `warn` (each start would log that the migrations table exists).
const DEFAULT_LEVELS: &str = "info,sqlx::postgres::notice=warn";

/// Installs the global tracing subscriber, `RUST_LOG` overriding the default
/// level, and with `otlp` (an OTLP/HTTP collector) exports the spans there.
pub fn init_tracing(format: LogFormat, otlp: Option<&Url>) -> Result<Telemetry, TelemetryError> {
    let provider = otlp.map(exporter).transpose()?;
    let spans = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("nudge")));
    let joined = provider.as_ref().map(|_| TraceFields);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LEVELS));
    let registry = tracing_subscriber::registry().with(filter).with(spans).with(joined);
    match format {
        // Colours only on a terminal: a file or a log collector would keep the escape codes.
        LogFormat::Text => {
            let ansi = std::io::stdout().is_terminal();
            registry.with(fmt::layer().with_ansi(ansi).event_format(Statements::text(fmt::format()))).init()
        }
        LogFormat::Json => {
            registry.with(fmt::layer().json().event_format(Statements::json(fmt::format().json()))).init()
        }
    }
    Ok(Telemetry { provider })
}

/// Spans batched to the collector at `url` over OTLP/HTTP (protobuf): its base
/// URL gets the traces path `/v1/traces`, a URL with a path is used as it is.
fn exporter(url: &Url) -> Result<SdkTracerProvider, TelemetryError> {
    let endpoint = match url.path() {
        "" | "/" => format!("{}/v1/traces", url.as_str().trim_end_matches('/')),
        _ => url.to_string(),
    };
    let exporter = SpanExporter::builder().with_http().with_endpoint(endpoint).build()?;
    let resource = Resource::builder().with_service_name("nudge").build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// The request's `traceparent` header, when there is exactly one and it is valid.
pub fn traceparent(headers: &HeaderMap) -> Option<TraceParent> {
    trace_context(headers).map(|context| context.parent)
}

/// The request's trace context: its one valid `traceparent`, and its
/// `tracestate` (several headers joined, as Trace Context allows).
pub fn trace_context(headers: &HeaderMap) -> Option<TraceContext> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let (Some(value), None) = (values.next(), values.next()) else { return None };
    let states: Vec<&str> = headers.get_all(TRACESTATE).iter().filter_map(|v| v.to_str().ok()).collect();
    let state = (!states.is_empty()).then(|| states.join(","));
    TraceContext::parse(value.to_str().ok()?, state.as_deref())
}

/// The span of one HTTP request, with its id and the trace its `traceparent` names.
pub fn request_span(request: &Request) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        uri = %request.uri(),
        request_id = id,
        trace_id = tracing::field::Empty,
    );
    if let Some(trace) = traceparent(request.headers()) {
        span.record("trace_id", trace.trace_id_hex());
        span.set_parent(remote(trace));
    }
    span
}

/// The caller's span, as the parent of nudge's (a no-op without OTLP export).
fn remote(trace: TraceParent) -> Context {
    let span = SpanContext::new(
        TraceId::from_bytes(trace.trace_id()),
        SpanId::from_bytes(trace.parent_id()),
        TraceFlags::new(trace.flags()),
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(span)
}

/// Exports spans that carry a `traceparent` field (the projection's and the
/// webhook dispatcher's, crates that know nothing of OpenTelemetry) in that
/// trace, as children of its span, and with the id their `span_id` field gives
/// (the one a webhook request names as its parent), so that one trace runs from
/// the event to its delivery.
struct TraceFields;

impl<S> Layer<S> for TraceFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: layer::Context<'_, S>) {
        let mut fields = SpanTrace::default();
        attributes.record(&mut fields);
        let (Some(parent), Some(span)) = (fields.parent, context.span(id)) else { return };
        let mut extensions = span.extensions_mut();
        let Some(data) = extensions.get_mut::<OtelData>() else { return };
        data.parent_cx = remote(parent);
        data.builder.sampling_result = None;
        if let Some(span_id) = fields.span_id {
            data.builder.span_id = Some(SpanId::from_bytes(span_id));
        }
    }
}

/// The `traceparent` and `span_id` fields of a span, when valid.
#[derive(Default)]
struct SpanTrace {
    parent: Option<TraceParent>,
    span_id: Option<[u8; 8]>,
}

impl Visit for SpanTrace {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            TRACEPARENT => self.parent = TraceParent::parse(&text),
            "span_id" => {
                self.span_id = u64::from_str_radix(&text, 16).ok().filter(|_| text.len() == 16).map(u64::to_be_bytes)
            }
            _ => {}
        }
    }
}
