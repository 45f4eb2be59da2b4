//! Reading CloudEvents from an HTTP request in any of the three content modes:
//! structured (`application/cloudevents+json`, Dapr's envelope among them), batch
//! (`application/cloudevents-batch+json`) and binary (`ce-*` headers, JSON body).

use axum::http::{HeaderMap, header};
use chrono::Utc;
use domain::{EventTimeWindow, PlayerEvent, TraceContext, ValidationErrors};
use serde_json::{Map, Value};

use crate::{
    server::dapr,
    server::problem::{ApiError, FieldProblem},
};

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";

/// The CloudEvents a request holds, not yet validated.
pub struct Received {
    /// The events, in request order.
    pub values: Vec<Value>,
    /// Whether Dapr delivered them, and so expects Dapr's answer.
    pub from_dapr: bool,
}

/// Reads the events of a request in whichever mode it was sent.
pub fn read(headers: &HeaderMap, body: &[u8], max_batch: usize) -> Result<Received, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let values = match media_type.as_str() {
        STRUCTURED => match json(body)? {
            value if dapr::is_envelope(&value) => {
                return Ok(Received { values: vec![dapr::open(value)], from_dapr: true });
            }
            value => vec![value],
        },
        BATCH => match json(body)? {
            Value::Array(values) if values.len() > max_batch => {
                return Err(ApiError::BatchTooLarge { max: max_batch, len: values.len() });
            }
            Value::Array(values) if values.is_empty() => {
                return Err(ApiError::MalformedBody("a batch must hold at least one event".to_owned()));
            }
            Value::Array(values) => values,
            _ => return Err(ApiError::MalformedBody("a batch must be a JSON array of CloudEvents".to_owned())),
        },
        _ if headers.contains_key("ce-specversion") => vec![binary(headers, content_type, body)?],
        _ => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "content type {content_type:?} is not accepted: send {STRUCTURED}, {BATCH}, \
                 or a binary-mode CloudEvent (ce-* headers) with a JSON body"
            )));
        }
    };
    Ok(Received { values, from_dapr: false })
}

/// Validates every event, all or nothing (its time within `times` around the
/// clock), and settles each one's trace context: its own `traceparent`, else
/// `trace` (the request's).
pub fn validate(
    values: &[Value],
    trace: Option<&TraceContext>,
    times: &EventTimeWindow,
) -> Result<Vec<PlayerEvent>, ApiError> {
    let mut events = Vec::with_capacity(values.len());
    let mut problems = Vec::new();
    let now = Utc::now();
    for (index, value) in values.iter().enumerate() {
        let event = PlayerEvent::from_json(value)
            .and_then(|event| times.check(event.time, now).map(|()| event).map_err(|e| ValidationErrors(vec![e])));
        match event {
            Ok(mut event) => {
                event.adopt_trace(trace);
                events.push(event);
            }
            Err(ValidationErrors(errors)) => {
                problems.extend(errors.into_iter().map(|e| FieldProblem::event(index, e.pointer, e.message)))
            }
        }
    }
    if problems.is_empty() { Ok(events) } else { Err(ApiError::InvalidEvents(problems)) }
}

fn json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedBody(format!("the body is not valid JSON: {e}")))
}

/// Rebuilds a binary-mode event as its structured form: every `ce-` header is an
/// attribute, the content type is `datacontenttype`, the body is `data`.
fn binary(headers: &HeaderMap, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let mut event = Map::new();
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else { continue };
        let value = value.to_str().map_err(|_| {
            let message = format!("header {name} must be visible ASCII");
            ApiError::InvalidEvents(vec![FieldProblem::event(0, format!("/{attribute}"), message)])
        })?;
        event.insert(attribute.to_owned(), Value::String(value.to_owned()));
    }
    if !content_type.is_empty() {
        event.insert("datacontenttype".to_owned(), Value::String(content_type.to_owned()));
    }
    if !body.is_empty() {
        let data = serde_json::from_slice(body).map_err(|e| {
            let message = format!("the body is not valid JSON: {e}");
            ApiError::InvalidEvents(vec![FieldProblem::event(0, "/data".to_owned(), message)])
        })?;
        event.insert("data".to_owned(), data);
    }
    Ok(Value::Object(event))
}
