//! Ingest (`POST /v1/events`, Dapr's deliveries too) and stream reads (`GET /v1/players/{id}/events`).

use axum::{
    Json,
    extract::{Path, Query, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use domain::PlayerEvent;
use serde::{Deserialize, Serialize};
use store::StreamAppend;

use super::params;
use crate::{AppState, dapr, ingest, problem::ApiError, telemetry};

/// Where one ingested event is stored.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
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
#[derive(Debug, Serialize, Deserialize)]
pub struct IngestResponse {
    /// One result per event sent.
    pub results: Vec<IngestResult>,
}

/// Appends the events of a structured, batch or binary-mode request, all or
/// nothing; an event Dapr delivered gets Dapr's answer.
#[tracing::instrument(name = "ingest", skip_all, fields(events))]
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(state.limits.body_bytes),
        _ => ApiError::MalformedBody(rejection.body_text()),
    })?;
    let received = ingest::read(&headers, &body, state.limits.max_batch)?;
    let trace = telemetry::traceparent(&headers);
    let appended = match ingest::validate(&received.values, trace) {
        Ok(events) => append(&state, &events).await,
        Err(error) => Err(error),
    };
    if received.from_dapr {
        return Ok(dapr::answer(appended));
    }
    Ok((StatusCode::ACCEPTED, Json(appended?)).into_response())
}

/// Appends validated events; answers where each one is.
async fn append(state: &AppState, events: &[PlayerEvent]) -> Result<IngestResponse, ApiError> {
    tracing::Span::current().record("events", events.len());
    let (appends, slots) = StreamAppend::per_stream(events);
    let answers = state.store.append(appends).await?;
    let results = events
        .iter()
        .zip(slots)
        .filter_map(|(event, (stream, index))| {
            let answer = answers.get(stream)?.get(index)?;
            Some(IngestResult {
                id: event.id.clone(),
                source: event.source.clone(),
                stream: event.stream_name(),
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
#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    /// First revision to return.
    #[serde(default)]
    from_revision: u64,
    /// Most events to return.
    limit: Option<usize>,
}

/// One stored event.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Revision in the stream.
    pub revision: u64,
    /// Global position.
    pub position: u64,
    /// The CloudEvent, structured JSON.
    pub event: serde_json::Value,
}

/// A page of a player's stream.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamPage {
    /// Events in stream order.
    pub events: Vec<StoredEvent>,
    /// Where the next page starts, `null` at the end of the stream.
    pub next_revision: Option<u64>,
}

/// Reads a player's events in stream order.
#[tracing::instrument(name = "read_stream", skip(state, query))]
pub async fn read_stream(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<StreamPage>, ApiError> {
    let player = params::player_id(&player_id)?;
    let query = params::query(query)?;
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let mut events = state.store.read_stream(&player.stream_name(), query.from_revision, limit + 1).await?;
    let next_revision = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| e.revision + 1)
    } else {
        None
    };
    let events = events
        .into_iter()
        .map(|e| StoredEvent { revision: e.revision, position: e.position, event: e.payload })
        .collect();
    Ok(Json(StreamPage { events, next_revision }))
}
