//! nudge's events as KurrentDB stores them, and back; KurrentDB's errors and
//! positions as nudge's.

use kurrentdb::{CurrentRevision, EventData, Position, ReadAllOptions, StreamPosition, SubscriptionFilter};
use serde::{Deserialize, Serialize};

use super::connection::Connection;
use crate::{ExpectedRevision, NewEvent, RecordedEvent, StoreError};

/// The metadata stored with every event, so reads need not parse the payload.
#[derive(Serialize, Deserialize)]
struct Metadata {
    source: String,
    id: String,
}

/// The event as KurrentDB stores it: nudge's event id, type, payload and (`source`, `id`).
pub(super) fn event_data(event: &NewEvent) -> Result<EventData, StoreError> {
    let metadata = Metadata { source: event.source.clone(), id: event.id.clone() };
    // Stored as it is: the payload is JSON text already.
    let payload = serde_json::value::RawValue::from_string(event.payload.to_string())?;
    let data = EventData::json(&event.event_type, &payload)?.id(event.event_id);
    Ok(data.metadata_as_json(&metadata)?)
}

/// Maps a failed read, or any failure but a revision conflict.
pub(super) fn error(e: kurrentdb::Error, stream: &str) -> StoreError {
    match e {
        kurrentdb::Error::ResourceNotFound => StoreError::StreamNotFound(stream.to_owned()),
        other => StoreError::Kurrent(other.to_string()),
    }
}

/// Maps a failed append.
pub(super) fn append_error(e: kurrentdb::Error, stream: &str, expected: ExpectedRevision) -> StoreError {
    match e {
        kurrentdb::Error::WrongExpectedVersion { current, .. } => StoreError::WrongExpectedRevision {
            stream: stream.to_owned(),
            expected,
            actual: match current {
                CurrentRevision::Current(r) => Some(r),
                CurrentRevision::NoStream => None,
            },
        },
        other => error(other, stream),
    }
}

/// nudge's global position of an event: its prepare position (see the module docs).
pub(super) fn position(event: &kurrentdb::RecordedEvent) -> Result<u64, StoreError> {
    match event.position.prepare {
        u64::MAX => Err(StoreError::Kurrent(format!(
            "the server gave no log position for {}@{}: stream reads need KurrentDB or EventStoreDB 22.6+",
            event.stream_id(),
            event.revision
        ))),
        prepare => Ok(prepare),
    }
}

/// The `Position` an event at nudge position `after` has, or the start.
pub(super) fn from_position(after: Option<u64>) -> StreamPosition<Position> {
    after.map_or(StreamPosition::Start, |p| StreamPosition::Position(Position { commit: p, prepare: p }))
}

/// The server-side filter on stream names: `prefix`, or no system (`$`) stream at all.
pub(super) fn filter(prefix: &str) -> SubscriptionFilter {
    let names = SubscriptionFilter::on_stream_name();
    if prefix.is_empty() { names.regex("^[^$]") } else { names.add_prefix(prefix) }
}

/// Turns a stored event back into nudge's form; `None` for a system event.
pub(super) fn recorded(event: kurrentdb::RecordedEvent) -> Result<Option<RecordedEvent>, StoreError> {
    if event.event_type.starts_with('$') || event.stream_id().starts_with('$') {
        return Ok(None);
    }
    let position = position(&event)?;
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let metadata: Metadata =
        serde_json::from_slice(&event.custom_metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;
    let payload = std::str::from_utf8(&event.data).map_err(|e| corrupt(format!("payload: {e}")))?;
    Ok(Some(RecordedEvent {
        stream: event.stream_id().to_owned(),
        revision: event.revision,
        position,
        event_id: event.id,
        source: metadata.source,
        id: metadata.id,
        event_type: event.event_type,
        payload: payload.into(),
        decoded: None,
    }))
}

/// Reads up to `count` events of `$all` from `cursor` on, with `filter`;
/// answers those after the cursor (a read from a position includes the event
/// there) and how many the server sent, so that a caller knows a short page
/// was the end of the log.
pub(super) async fn page_after(
    connection: &Connection,
    cursor: Option<u64>,
    filter: SubscriptionFilter,
    count: usize,
) -> Result<(Vec<kurrentdb::RecordedEvent>, usize), StoreError> {
    let options = ReadAllOptions::default().forwards().position(from_position(cursor)).filter(filter).max_count(count);
    let client = connection.client();
    let mut read = client.read_all(&options).await.map_err(|e| client.error(e, "$all"))?;
    let (mut events, mut received) = (Vec::new(), 0);
    while let Some(resolved) = read.next().await.map_err(|e| client.error(e, "$all"))? {
        received += 1;
        let Some(event) = resolved.event else { continue };
        if cursor.is_none_or(|c| event.position.prepare > c) {
            events.push(event);
        }
    }
    Ok((events, received))
}
