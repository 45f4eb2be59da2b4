//! The KurrentDB (EventStoreDB) event store, through the official client.
//!
//! Positions: nudge's global position is the event's *prepare* position in the
//! `$all` log, unique per event. Events appended by gRPC since v20 are committed
//! one by one (no explicit transactions), so their commit position equals their
//! prepare position, and `Position { commit: p, prepare: p }` names the event at
//! `p` when reading or subscribing from it.
//!
//! Atomicity: KurrentDB has no multi-stream transaction, so a call appending to
//! several streams is atomic per stream only. Idempotency: the server's own dedupe
//! is best effort, so [`KurrentStore::append`] looks for each event's id among the
//! stream's last [`DEDUPE_WINDOW`] events first; beyond that window the
//! projections skip already-applied (`source`, `id`) pairs (DESIGN.md).

use std::collections::HashMap;

use async_trait::async_trait;
use kurrentdb::{
    AppendToStreamOptions, Client, ClientSettings, CurrentRevision, EventData, Position, ReadAllOptions,
    ReadStreamOptions, ResolvedEvent, RetryOptions, StreamPosition, StreamState, SubscribeToAllOptions,
    SubscriptionFilter,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    Appended, EventStore, EventStream, ExpectedRevision, NewEvent, RecordedEvent, StoreError, StreamAppend, plan::check,
};

/// How many of a stream's last events an append checks for repeats.
pub const DEDUPE_WINDOW: usize = 1_000;

/// How often an append with `ExpectedRevision::Any` retries after losing a race.
const RACE_RETRIES: usize = 5;

/// The metadata stored with every event, so reads need not parse the payload.
#[derive(Serialize, Deserialize)]
struct Metadata {
    source: String,
    id: String,
}

/// An event store in a KurrentDB cluster.
#[derive(Clone)]
pub struct KurrentStore {
    client: Client,
}

impl std::fmt::Debug for KurrentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KurrentStore").finish_non_exhaustive()
    }
}

impl KurrentStore {
    /// Connects to `url` (`kurrentdb://user:pass@host:2113?tls=false`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let settings: ClientSettings = url.parse().map_err(|e| StoreError::InvalidUrl(format!("{e}")))?;
        let client = Client::new(settings).map_err(|e| StoreError::Kurrent(e.to_string()))?;
        Ok(Self { client })
    }

    async fn append_one(&self, append: &StreamAppend) -> Result<Vec<Appended>, StoreError> {
        for _ in 0..RACE_RETRIES {
            match self.try_append(append).await {
                Err(StoreError::WrongExpectedRevision { .. }) if append.expected == ExpectedRevision::Any => continue,
                result => return result,
            }
        }
        self.try_append(append).await
    }

    /// Reads the stream's tail, appends what it does not hold yet, guarded by the
    /// revision it saw, and answers where every event is.
    async fn try_append(&self, append: &StreamAppend) -> Result<Vec<Appended>, StoreError> {
        let tail = self.tail(&append.stream).await?;
        let last = tail.first().map(|e| e.revision);
        let mut known: HashMap<Uuid, Appended> = tail
            .iter()
            .map(|e| (e.event_id, Appended { revision: e.revision, position: e.position, duplicate: true }))
            .collect();
        let mut fresh = Vec::new();
        for event in &append.events {
            if !known.contains_key(&event.event_id) && !fresh.iter().any(|f: &&NewEvent| f.event_id == event.event_id) {
                fresh.push(event);
            }
        }
        if !fresh.is_empty() {
            check(&append.stream, append.expected, last)?;
            let state = last.map_or(StreamState::NoStream, StreamState::StreamRevision);
            let data = fresh.iter().map(|e| event_data(e)).collect::<Result<Vec<_>, _>>()?;
            let options = AppendToStreamOptions::default().stream_state(state);
            self.client
                .append_to_stream(append.stream.as_str(), &options, data)
                .await
                .map_err(|e| error(e, &append.stream, append.expected))?;
            let first = last.map_or(0, |r| r + 1);
            for written in self.read_stream(&append.stream, first, fresh.len()).await? {
                let appended = Appended { revision: written.revision, position: written.position, duplicate: false };
                known.insert(written.event_id, appended);
            }
        }
        let mut answered = std::collections::HashSet::new();
        append
            .events
            .iter()
            .map(|event| {
                let original = known.get(&event.event_id).copied().ok_or_else(|| {
                    StoreError::Kurrent(format!(
                        "event {} was appended to {} but could not be read back",
                        event.event_id, append.stream
                    ))
                })?;
                let repeat = !answered.insert(event.event_id);
                Ok(Appended { duplicate: original.duplicate || repeat, ..original })
            })
            .collect()
    }

    /// The stream's last events, newest first (empty when it does not exist).
    async fn tail(&self, stream: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        let options = ReadStreamOptions::default().backwards().position(StreamPosition::End).max_count(DEDUPE_WINDOW);
        let read = self.client.read_stream(stream, &options).await;
        match collect(read, usize::MAX).await {
            Err(StoreError::StreamNotFound(_)) => Ok(Vec::new()),
            result => result,
        }
    }
}

fn event_data(event: &NewEvent) -> Result<EventData, StoreError> {
    let metadata = Metadata { source: event.source.clone(), id: event.id.clone() };
    let data = EventData::json(&event.event_type, &event.payload)?.id(event.event_id);
    Ok(data.metadata_as_json(&metadata)?)
}

fn error(e: kurrentdb::Error, stream: &str, expected: ExpectedRevision) -> StoreError {
    match e {
        kurrentdb::Error::ResourceNotFound => StoreError::StreamNotFound(stream.to_owned()),
        kurrentdb::Error::WrongExpectedVersion { current, .. } => StoreError::WrongExpectedRevision {
            stream: stream.to_owned(),
            expected,
            actual: match current {
                CurrentRevision::Current(r) => Some(r),
                CurrentRevision::NoStream => None,
            },
        },
        other => StoreError::Kurrent(other.to_string()),
    }
}

/// Turns a read or subscribed event back into nudge's form.
fn recorded(resolved: &ResolvedEvent) -> Result<Option<RecordedEvent>, StoreError> {
    let Some(event) = resolved.event.as_ref() else { return Ok(None) };
    if event.event_type.starts_with('$') || event.stream_id().starts_with('$') {
        return Ok(None);
    }
    let position = event.position.prepare;
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let metadata: Metadata =
        serde_json::from_slice(&event.custom_metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;
    Ok(Some(RecordedEvent {
        stream: event.stream_id().to_owned(),
        revision: event.revision,
        position,
        event_id: event.id,
        source: metadata.source,
        id: metadata.id,
        event_type: event.event_type.clone(),
        payload: serde_json::from_slice(&event.data).map_err(|e| corrupt(format!("payload: {e}")))?,
    }))
}

/// Reads up to `limit` events of a read, skipping system events.
async fn collect(
    read: Result<kurrentdb::ReadStream, kurrentdb::Error>,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let not_found = |e: kurrentdb::Error| match e {
        kurrentdb::Error::ResourceNotFound => StoreError::StreamNotFound(String::new()),
        other => StoreError::Kurrent(other.to_string()),
    };
    let mut read = read.map_err(not_found)?;
    let mut events = Vec::new();
    while events.len() < limit {
        match read.next().await.map_err(not_found)? {
            Some(resolved) => events.extend(recorded(&resolved)?),
            None => break,
        }
    }
    Ok(events)
}

fn from_position(after: Option<u64>) -> StreamPosition<Position> {
    after.map_or(StreamPosition::Start, |p| StreamPosition::Position(Position { commit: p, prepare: p }))
}

#[async_trait]
impl EventStore for KurrentStore {
    async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<Vec<Appended>>, StoreError> {
        let mut answers = Vec::with_capacity(appends.len());
        for append in &appends {
            answers.push(self.append_one(append).await?);
        }
        Ok(answers)
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let options =
            ReadStreamOptions::default().forwards().position(StreamPosition::Position(from_revision)).max_count(limit);
        let read = self.client.read_stream(stream, &options).await;
        collect(read, limit).await.map_err(|e| match e {
            StoreError::StreamNotFound(_) => StoreError::StreamNotFound(stream.to_owned()),
            other => other,
        })
    }

    async fn read_all(&self, after: Option<u64>, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        let filter = SubscriptionFilter::on_stream_name().add_prefix(prefix);
        // Reading $all from a position includes the event at it: ask for one more
        // and drop it.
        let options =
            ReadAllOptions::default().forwards().position(from_position(after)).filter(filter).max_count(limit + 1);
        let read = self.client.read_all(&options).await;
        let mut events = collect(read, limit + 1).await?;
        events.retain(|e| Some(e.position) != after);
        events.truncate(limit);
        Ok(events)
    }

    fn subscribe_all(&self, after: Option<u64>, prefix: &str) -> EventStream {
        let options = SubscribeToAllOptions::default()
            .position(from_position(after))
            .filter(SubscriptionFilter::on_stream_name().add_prefix(prefix))
            .retry_options(RetryOptions::default().retry_forever());
        let client = self.client.clone();
        let stream = futures::stream::once(async move { client.subscribe_to_all(&options).await });
        let events = futures::StreamExt::flat_map(stream, |subscription| {
            futures::stream::unfold(subscription, |mut subscription| async move {
                loop {
                    match subscription.next().await {
                        Ok(resolved) => match recorded(&resolved) {
                            Ok(Some(event)) => return Some((Ok(event), subscription)),
                            Ok(None) => continue,
                            Err(error) => return Some((Err(error), subscription)),
                        },
                        Err(error) => return Some((Err(StoreError::Kurrent(error.to_string())), subscription)),
                    }
                }
            })
        });
        Box::pin(events)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let options = ReadAllOptions::default().backwards().position(StreamPosition::End).max_count(1);
        let mut read = self.client.read_all(&options).await.map_err(|e| StoreError::Kurrent(e.to_string()))?;
        read.next().await.map_err(|e| StoreError::Kurrent(e.to_string()))?;
        Ok(())
    }
}
