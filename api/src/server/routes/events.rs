//! Ingest (`POST /v1/events`, Dapr's deliveries too) and stream reads (`GET /v1/players/{id}/events`).

use axum::{
    Extension, Json,
    extract::{Path, Query, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use domain::PlayerEvent;
use serde::{Deserialize, Serialize};
use store::StreamAppend;

use super::params;
use crate::{
    server::AppState, server::dapr, server::ingest, server::openapi::CloudEvent, server::problem::ApiError, telemetry,
};

/// Where one ingested event is stored.
#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct IngestResult {
    /// CloudEvent `id`.
    pub id: String,
    /// CloudEvent `source`.
    pub source: String,
    /// Stream name, `player-{subject}`.
    pub stream: String,
    /// Revision in the stream.
    pub revision: u64,
    /// Global position.
    pub position: u64,
    /// True when this event was already stored: nothing was appended.
    pub duplicate: bool,
}

/// The answer to an ingest, in request order.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"results": [
    {"id": "bet-1", "source": "casino", "stream": "player-42", "revision": 0, "position": 1, "duplicate": false}
]}))]
pub struct IngestResponse {
    /// One result per event sent.
    pub results: Vec<IngestResult>,
}

/// Appends the events of a structured, batch or binary-mode request, all or
/// nothing; an event Dapr delivered gets Dapr's answer.
#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "ingestEvents",
    tag = "events",
    description = "Appends one event (structured mode, `application/cloudevents+json`), a batch \
                   (`application/cloudevents-batch+json`), or a binary-mode event (its attributes in `ce-*` \
                   headers, `data` as the JSON body), all or nothing. A resent event (same `source` and `id`) \
                   is stored once and answered as a duplicate. A structured event with Dapr's `pubsubname` \
                   and `topic` attributes, or any request the Dapr app token admits, is a Dapr delivery: it is answered `200` with Dapr's status \
                   (`SUCCESS`; `DROP` for an event that can never be taken; `RETRY` when the store is \
                   unavailable), never with an error.",
    request_body(content(
        (CloudEvent = "application/cloudevents+json"),
        (Vec<CloudEvent> = "application/cloudevents-batch+json"),
    )),
    responses(
        (status = 202, description = "Stored: where each event is, in request order", body = IngestResponse),
        (status = 200, description = "A Dapr delivery, answered as Dapr expects", body = dapr::DaprAnswer),
        (status = 400, description = "Invalid events: `errors` names each field (`index`, `pointer`); nothing was stored"),
        (status = 413, description = "The body or the batch is larger than allowed"),
        (status = 415, description = "Neither a CloudEvent content type nor a binary-mode event"),
    ),
)]
#[tracing::instrument(name = "ingest", skip_all, fields(events))]
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    dapr_caller: Option<Extension<dapr::Caller>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let received = body
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(state.limits.body_bytes),
            _ => ApiError::MalformedBody(rejection.body_text()),
        })
        .and_then(|body| ingest::read(&headers, &body, state.limits.max_batch));
    let received = match received {
        Ok(received) => received,
        Err(error) if dapr_caller.is_some() => return Ok(dapr::answer::<()>(Err(error))),
        Err(error) => return Err(error),
    };
    let trace = telemetry::trace_context(&headers);
    let appended = match ingest::validate(&received.values, trace.as_ref(), &state.limits.event_times) {
        Ok(events) => append(&state, events).await,
        Err(error) => Err(error),
    };
    if received.from_dapr || dapr_caller.is_some() {
        return Ok(dapr::answer(appended));
    }
    Ok((StatusCode::ACCEPTED, Json(appended?)).into_response())
}

/// Appends validated events; answers where each one is.
async fn append(state: &AppState, events: Vec<PlayerEvent>) -> Result<IngestResponse, ApiError> {
    tracing::Span::current().record("events", events.len());
    // What the answer names of each event and stream, taken before they go to the store.
    let named: Vec<_> = events.iter().map(|e| (e.id.clone(), e.source.clone())).collect();
    let (appends, slots) = StreamAppend::per_stream(events)?;
    let streams: Vec<String> = appends.iter().map(|a| a.stream.clone()).collect();
    let answers = state.store.append(appends).await;
    match &answers {
        Err(error) if error.is_unavailable() => state.writes.record(Some(error)),
        Err(_) => {}
        Ok(_) => state.writes.record(None),
    }
    let answers = answers?;
    let results = named
        .into_iter()
        .zip(slots)
        .filter_map(|((id, source), (stream, index))| {
            let answer = answers.get(stream)?.get(index)?;
            Some(IngestResult {
                id,
                source,
                stream: streams.get(stream)?.clone(),
                revision: answer.revision,
                position: answer.position,
                duplicate: answer.duplicate,
            })
        })
        .collect::<Vec<_>>();
    let duplicates = results.iter().filter(|r| r.duplicate).count() as u64;
    metrics::counter!("nudge_ingested_events_total", "outcome" => "appended")
        .increment(results.len() as u64 - duplicates);
    metrics::counter!("nudge_ingested_events_total", "outcome" => "duplicate").increment(duplicates);
    Ok(IngestResponse { results })
}

/// Query of a stream read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only events after this revision (the `next` of the page before); from the first when absent.
    #[serde(default, deserialize_with = "params::int64")]
    after: Option<u64>,
    /// At most this many events (default 100).
    #[serde(default, deserialize_with = "params::count")]
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// One stored event.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Revision in the stream.
    pub revision: u64,
    /// Global position.
    pub position: u64,
    /// The CloudEvent, structured JSON.
    pub event: serde_json::Value,
}

/// A page of a player's stream.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamPage {
    /// Events in stream order.
    pub events: Vec<StoredEvent>,
    /// The `after` of the next page: the last revision here; `null` at the end of the stream.
    pub next: Option<u64>,
}

/// Reads a player's events in stream order.
#[utoipa::path(
    get,
    path = "/v1/players/{player_id}/events",
    operation_id = "readPlayerEvents",
    tag = "events",
    params(params::PlayerPath, StreamQuery),
    responses(
        (status = 200, description = "A page of the stream", body = StreamPage),
        (status = 404, description = "The player has no stream"),
    ),
)]
#[tracing::instrument(name = "read_stream", skip(state, query))]
pub async fn read_stream(
    State(state): State<AppState>,
    Path(params::PlayerPath { player_id }): Path<params::PlayerPath>,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<StreamPage>, ApiError> {
    let player = params::player_id(&player_id)?;
    let query = params::query(query)?;
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let from = query.after.map_or(0, |after| after.saturating_add(1));
    let mut events = state.store.read_stream(&player.stream_name(), from, limit + 1).await?;
    let next = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| e.revision)
    } else {
        None
    };
    let events = events
        .into_iter()
        .map(|e| Ok(StoredEvent { revision: e.revision, position: e.position, event: e.cloud_event()? }))
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(StreamPage { events, next }))
}
