//! The data an event store takes in and hands back.

use std::{borrow::Cow, collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use domain::PlayerEvent;
use uuid::Uuid;

use crate::StoreError;

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
    /// The whole CloudEvent as structured-mode JSON text, written once (shared,
    /// so that this process's subscriptions hand it on without a copy).
    pub payload: Arc<str>,
    /// The player event the payload was made from, when there is one: this
    /// process's subscriptions hand it on, so that no reader parses it again.
    pub decoded: Option<Arc<PlayerEvent>>,
}

impl TryFrom<PlayerEvent> for NewEvent {
    type Error = StoreError;

    /// The event to store for `event`; it keeps `event` itself as [`NewEvent::decoded`].
    fn try_from(event: PlayerEvent) -> Result<Self, StoreError> {
        Ok(Self {
            event_id: event.event_uuid(),
            source: event.source.clone(),
            id: event.id.clone(),
            event_type: event.event_type().as_str().to_owned(),
            time: event.time,
            payload: event.to_json_text()?.into(),
            decoded: Some(Arc::new(event)),
        })
    }
}

/// Where the answer to an event of [`StreamAppend::per_stream`] will be: (index
/// of its stream's append, index within it).
pub type Slot = (usize, usize);

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
    /// appearance, and for each event where its answer will be.
    pub fn per_stream(events: Vec<PlayerEvent>) -> Result<(Vec<StreamAppend>, Vec<Slot>), StoreError> {
        let mut appends: Vec<StreamAppend> = Vec::new();
        let mut by_stream: HashMap<String, usize> = HashMap::new();
        let mut slots = Vec::with_capacity(events.len());
        for event in events {
            let stream = event.stream_name();
            let a = *by_stream.entry(stream.clone()).or_insert_with(|| {
                appends.push(StreamAppend { stream, expected: ExpectedRevision::Any, events: Vec::new() });
                appends.len() - 1
            });
            appends[a].events.push(NewEvent::try_from(event)?);
            slots.push((a, appends[a].events.len() - 1));
        }
        Ok((appends, slots))
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
    /// The whole CloudEvent as structured-mode JSON text, as the store hands it
    /// back (PostgreSQL's `jsonb` spaces and orders it its own way).
    pub payload: Arc<str>,
    /// The player event, when this process appended it and still had it at
    /// hand: [`RecordedEvent::decode`] answers it without parsing the payload.
    pub decoded: Option<Arc<PlayerEvent>>,
}

impl RecordedEvent {
    /// The player event stored here: the one way the projection, point-in-time
    /// features and the training and backtest replays read a stored event.
    ///
    /// A stored event that no longer validates (stored before a rule was
    /// tightened, or written around the API) is skipped by every reader alike:
    /// `None`, and a warning naming its stream, revision and position and what
    /// is wrong. Never fatal: the reader goes on with the stream's later events,
    /// so the live features, the features as of a moment and a replay for
    /// training all fold the same events, and none stops at a bad one.
    pub fn decode(&self) -> Option<Cow<'_, PlayerEvent>> {
        if let Some(event) = &self.decoded {
            return Some(Cow::Borrowed(event));
        }
        let decoded = self
            .cloud_event()
            .map_err(|e| e.to_string())
            .and_then(|json| PlayerEvent::from_json(&json).map_err(|errors| errors.to_string()));
        match decoded {
            Ok(event) => Some(Cow::Owned(event)),
            Err(errors) => {
                tracing::warn!(
                    stream = %self.stream,
                    revision = self.revision,
                    position = self.position,
                    %errors,
                    "stored event no longer valid: skipped"
                );
                None
            }
        }
    }

    /// The stored CloudEvent as a JSON value; [`StoreError::Corrupt`] when its
    /// text is not JSON (written around nudge).
    pub fn cloud_event(&self) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&self.payload)
            .map_err(|e| StoreError::Corrupt { position: self.position, reason: format!("payload: {e}") })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn stored(payload: impl Into<Arc<str>>) -> RecordedEvent {
        RecordedEvent {
            stream: "player-42".to_owned(),
            revision: 3,
            position: 17,
            event_id: Uuid::nil(),
            source: "casino".to_owned(),
            id: "b1".to_owned(),
            event_type: "player.bet.placed".to_owned(),
            payload: payload.into(),
            decoded: None,
        }
    }

    fn bet(stake: i64) -> Value {
        json!({
            "specversion": "1.0", "id": "b1", "source": "casino", "type": "player.bet.placed",
            "subject": "42", "time": "2026-11-24T12:00:00Z",
            "data": {"bet_id": "b1", "game_id": "g1", "stake": stake, "currency": "EUR"},
        })
    }

    #[test]
    fn a_stored_event_decodes_as_it_was_appended() {
        let event = PlayerEvent::from_json(&bet(250)).ok();
        let appended = event.clone().and_then(|e| NewEvent::try_from(e).ok()).map(|e| stored(e.payload));
        assert_eq!(appended.as_ref().and_then(|e| e.decode()).map(Cow::into_owned), event);
    }

    #[test]
    fn an_event_this_process_appended_decodes_to_the_event_it_was_made_from() {
        let event = PlayerEvent::from_json(&bet(250)).ok();
        let appended = event.clone().and_then(|e| NewEvent::try_from(e).ok());
        let recorded = appended.map(|e| RecordedEvent { decoded: e.decoded, ..stored(e.payload) });
        let decoded = recorded.as_ref().and_then(|e| e.decode());
        assert!(matches!(decoded, Some(Cow::Borrowed(_))), "taken as it was, not parsed again");
        assert_eq!(decoded.map(Cow::into_owned), event);
    }

    #[test]
    fn a_stored_event_that_no_longer_validates_is_skipped() {
        assert_eq!(stored(bet(0).to_string()).decode(), None);
        assert_eq!(stored(json!({"type": "player.bet.placed"}).to_string()).decode(), None);
        assert_eq!(stored("{not json").decode(), None);
        assert!(matches!(stored("{not json").cloud_event(), Err(StoreError::Corrupt { position: 17, .. })));
    }
}
