//! Reading CloudEvents from an HTTP request in any of the three content modes:
//! structured (`application/cloudevents+json`, Dapr's envelope among them), batch
//! (`application/cloudevents-batch+json`) and binary (`ce-*` headers, JSON body).

use axum::http::{HeaderMap, header};
use chrono::Utc;
use domain::{EventTimeWindow, PlayerEvent, TraceContext, ValidationErrors};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::{
    server::dapr,
    server::headers::single,
    server::problem::{ApiError, FieldProblem},
    server::strict_json::{self, JsonError},
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
    let content_type = single(headers, &header::CONTENT_TYPE)?.and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let values = match media_type.as_str() {
        STRUCTURED => match json(body, Events::One)? {
            value if dapr::is_envelope(&value) => {
                return Ok(Received { values: vec![dapr::open(value)], from_dapr: true });
            }
            value => vec![value],
        },
        BATCH => match json(body, Events::Batch)? {
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

/// What a JSON body holds: one event (or Dapr's envelope of one), a batch of
/// them, or one event's `data`.
#[derive(Clone, Copy)]
enum Events {
    One,
    Batch,
    Data,
}

/// Parses a body, refusing a key repeated in any object as a problem of the
/// event that holds it, at the member's pointer inside the event.
fn json(body: &[u8], events: Events) -> Result<Value, ApiError> {
    let (pointer, key) = match strict_json::parse(body) {
        Ok(value) => return Ok(value),
        Err(JsonError::Syntax(e)) => {
            let message = format!("the body is not valid JSON: {e}");
            return Err(match events {
                Events::Data => ApiError::InvalidEvents(vec![FieldProblem::event(0, "/data".to_owned(), message)]),
                Events::One | Events::Batch => ApiError::MalformedBody(message),
            });
        }
        Err(JsonError::DuplicateKey { pointer, key }) => (pointer, key),
    };
    let (index, pointer) = match events {
        Events::One => (0, pointer),
        Events::Data => (0, format!("/data{pointer}")),
        Events::Batch => {
            let path = pointer.strip_prefix('/').unwrap_or(&pointer);
            let (index, inside) = path.split_once('/').unwrap_or((path, ""));
            (index.parse().unwrap_or_default(), format!("/{inside}"))
        }
    };
    let message = format!("the key `{key}` appears twice in one object: send it once");
    Err(ApiError::InvalidEvents(vec![FieldProblem::event(index, pointer, message)]))
}

/// Rebuilds a binary-mode event as its structured form: every `ce-` header is an
/// attribute (sent once, percent-decoded as the CloudEvents HTTP binding has
/// it), the content type is `datacontenttype`, the body is `data`.
fn binary(headers: &HeaderMap, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let mut event = Map::new();
    for name in headers.keys() {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else { continue };
        let Some(value) = single(headers, name)? else { continue };
        let refused =
            |message: String| ApiError::InvalidEvents(vec![FieldProblem::event(0, format!("/{attribute}"), message)]);
        let value = value.to_str().map_err(|_| refused(format!("header {name} must be visible ASCII")))?;
        let value = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| refused(format!("header {name} must percent-decode to UTF-8")))?;
        event.insert(attribute.to_owned(), Value::String(value.into_owned()));
    }
    if !content_type.is_empty() {
        event.insert("datacontenttype".to_owned(), Value::String(content_type.to_owned()));
    }
    if !body.is_empty() {
        event.insert("data".to_owned(), json(body, Events::Data)?);
    }
    Ok(Value::Object(event))
}
