//! The data an event store takes in and hands back.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::PlayerEvent;
use uuid::Uuid;

/// How far a stream must have grown for an append to it to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedRevision {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this revision.
    Exact(u64),
}

/// An event to append: the CloudEvent and the keys the store indexes it by.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Deterministic event id: UUIDv5 of (`source`, `id`).
    pub event_id: Uuid,
    /// CloudEvent `source`.
    pub source: String,
    /// CloudEvent `id`, unique within `source`.
    pub id: String,
    /// CloudEvent `type`.
    pub event_type: String,
    /// CloudEvent `time`.
    pub time: DateTime<Utc>,
    /// The whole CloudEvent in structured JSON form.
    pub payload: serde_json::Value,
}

impl From<&PlayerEvent> for NewEvent {
    fn from(event: &PlayerEvent) -> Self {
        Self {
            event_id: event.event_uuid(),
            source: event.source.clone(),
            id: event.id.clone(),
            event_type: event.event_type().as_str().to_owned(),
            time: event.time,
            payload: event.to_json(),
        }
    }
}

/// Events to append to one stream, guarded by an expected revision.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    /// Stream name, e.g. `player-42`.
    pub stream: String,
    /// The revision the stream must be at.
    pub expected: ExpectedRevision,
    /// The events, in order.
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    /// One append per player stream (guarded by nothing), in order of first
    /// appearance, and for each event where its answer will be: (index of its
    /// stream's append, index within it).
    pub fn per_stream(events: &[PlayerEvent]) -> (Vec<StreamAppend>, Vec<(usize, usize)>) {
        let mut appends: Vec<StreamAppend> = Vec::new();
        let mut by_stream: HashMap<String, usize> = HashMap::new();
        let slots = events
            .iter()
            .map(|event| {
                let stream = event.stream_name();
                let a = *by_stream.entry(stream.clone()).or_insert_with(|| {
                    appends.push(StreamAppend { stream, expected: ExpectedRevision::Any, events: Vec::new() });
                    appends.len() - 1
                });
                appends[a].events.push(NewEvent::from(event));
                (a, appends[a].events.len() - 1)
            })
            .collect();
        (appends, slots)
    }
}

/// Where one appended event landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Revision within its stream, from 0.
    pub revision: u64,
    /// Global position across all streams.
    pub position: u64,
    /// True when the event was already stored (same `source` and `id`): this
    /// is where the original landed, and nothing was appended.
    pub duplicate: bool,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Stream name.
    pub stream: String,
    /// Revision within the stream, from 0.
    pub revision: u64,
    /// Global position.
    pub position: u64,
    /// Deterministic event id.
    pub event_id: Uuid,
    /// CloudEvent `source`.
    pub source: String,
    /// CloudEvent `id`.
    pub id: String,
    /// CloudEvent `type`.
    pub event_type: String,
    /// The whole CloudEvent in structured JSON form.
    pub payload: serde_json::Value,
}
