//! The KurrentDB (EventStoreDB) event store, through the official `kurrentdb` client.
//!
//! Positions: nudge's global position is an event's *prepare* position, its own
//! offset in the log (an append's result names only the last event's). Events
//! appended over gRPC are in no explicit transaction, so each has `commit ==
//! prepare`, and `after` maps back to `Position { commit: after, prepare: after }`.
//! Reading `$all` from a position includes the event there (skipped here);
//! subscribing from one starts after it. Stream reads carry positions from server
//! 22.6 on; an older server reports none, and that is an error here.
//!
//! Atomicity: there is no multi-stream transaction; a call appends stream by
//! stream, in order, atomic per stream only: a failure leaves earlier streams appended.
//!
//! Idempotency: the server's dedupe is best effort, so an append reads the stream's
//! last [`DEDUPE_WINDOW`] events and leaves out those with the same id (the UUIDv5
//! of `source` and `id`). Beyond that window a repeat is appended again
//! (DESIGN.md, "Idempotent ingest").
//!
//! Deletes: a player's erasure soft-deletes their stream (see
//! [`EventStore::delete_stream`] below); reads of `$all` leave the deleted events
//! out ([`deletions`]).
//!
//! Connections: [`KurrentStore::connect`] fails unless a node answers, as the
//! SQL stores do; after that, a client that gave up is made again
//! ([`connection`]), and [`EventStore::ping`] tells whether the server answers.

mod connection;
mod deletions;
mod feed;
mod records;

use std::{collections::HashMap, collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use kurrentdb::{
    AppendToStreamOptions, ClientSettings, DeleteStreamOptions, ReadAllOptions, ReadStreamOptions, RetryOptions,
    StreamPosition, StreamState, SubscribeToAllOptions,
};
use uuid::Uuid;

use self::{
    connection::Connection,
    deletions::Deletions,
    feed::Feed,
    records::{event_data, filter, from_position, page_after, position, recorded},
};
use crate::{
    Appended, EventStore, EventStream, ExpectedRevision, NewEvent, RecordedEvent, StoreError, StreamAppend, plan::check,
};

/// How many of a stream's last events an append looks through for repeats.
const DEDUPE_WINDOW: usize = 1_000;

/// How many more times an append with `ExpectedRevision::Any` tries after losing a race.
const RACE_RETRIES: usize = 5;

/// Events `head` reads back at a time, looking for one not deleted.
const HEAD_PAGE: usize = 100;

/// How long a subscription waits after an error before it asks again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// An event store in a KurrentDB node or cluster.
#[derive(Clone)]
pub struct KurrentStore {
    connection: Arc<Connection>,
    deletions: Arc<Deletions>,
}

impl std::fmt::Debug for KurrentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KurrentStore").finish_non_exhaustive()
    }
}

impl KurrentStore {
    /// Connects to `url`, e.g. `kurrentdb://admin:changeit@localhost:2113?tls=false`,
    /// and reads the end of the log: a server that does not answer is an error now
    /// rather than at the first request.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let settings: ClientSettings = url.parse().map_err(|e| StoreError::InvalidUrl(format!("{e}")))?;
        let store = Self { connection: Arc::new(Connection::new(settings)?), deletions: Arc::default() };
        store.ping().await.map_err(|e| {
            let reason = match e {
                StoreError::Kurrent(reason) => reason,
                other => other.to_string(),
            };
            StoreError::Kurrent(format!("no KurrentDB node answered: {reason}"))
        })?;
        Ok(store)
    }

    /// Appends to one stream, trying again when an `Any` append loses a race.
    async fn append_to(&self, append: &StreamAppend) -> Result<Vec<Appended>, StoreError> {
        let mut retries = 0;
        loop {
            match self.try_append(append).await {
                Err(StoreError::WrongExpectedRevision { .. })
                    if append.expected == ExpectedRevision::Any && retries < RACE_RETRIES =>
                {
                    retries += 1;
                }
                result => return result,
            }
        }
    }

    /// Reads the stream's tail, appends the events it does not hold yet, guarded by
    /// the revision it saw (a concurrent writer makes it fail rather than
    /// interleave), and answers where every event is.
    async fn try_append(&self, append: &StreamAppend) -> Result<Vec<Appended>, StoreError> {
        let stream = append.stream.as_str();
        let (last, mut known) = self.tail(stream).await?;
        let mut fresh: Vec<&NewEvent> = Vec::new();
        for event in &append.events {
            if !known.contains_key(&event.event_id) && fresh.iter().all(|f| f.event_id != event.event_id) {
                fresh.push(event);
            }
        }
        if !fresh.is_empty() {
            check(stream, append.expected, last)?;
            let data = fresh.iter().map(|e| event_data(e)).collect::<Result<Vec<_>, _>>()?;
            let state = last.map_or(StreamState::NoStream, StreamState::StreamRevision);
            let options = AppendToStreamOptions::default().stream_state(state);
            let client = self.connection.client();
            client
                .append_to_stream(stream, &options, data)
                .await
                .map_err(|e| client.append_error(e, stream, append.expected))?;
            // The write result names the last event's position only: read the new
            // events back, from the revision after the one observed, for each one's.
            let first = last.map_or(0, |r| r + 1);
            let options = ReadStreamOptions::default()
                .forwards()
                .position(StreamPosition::Position(first))
                .max_count(fresh.len());
            for event in self.read(stream, &options).await? {
                let appended = Appended { revision: event.revision, position: position(&event)?, duplicate: false };
                known.insert(event.id, appended);
            }
        }
        let mut answered = HashSet::new();
        append
            .events
            .iter()
            .map(|event| {
                let found = known.get(&event.event_id).copied().ok_or_else(|| {
                    StoreError::Kurrent(format!("event {} appended to {stream} was not found back", event.event_id))
                })?;
                let repeat = !answered.insert(event.event_id);
                Ok(Appended { duplicate: found.duplicate || repeat, ..found })
            })
            .collect()
    }

    /// The stream's last revision and where its last [`DEDUPE_WINDOW`] events are,
    /// by event id (`None` and nothing when the stream does not exist).
    async fn tail(&self, stream: &str) -> Result<(Option<u64>, HashMap<Uuid, Appended>), StoreError> {
        let options = ReadStreamOptions::default().backwards().position(StreamPosition::End).max_count(DEDUPE_WINDOW);
        let events = match self.read(stream, &options).await {
            Err(StoreError::StreamNotFound(_)) => return Ok((None, HashMap::new())),
            result => result?,
        };
        let last = events.first().map(|e| e.revision);
        let known = events
            .iter()
            .map(|e| Ok((e.id, Appended { revision: e.revision, position: position(e)?, duplicate: true })))
            .collect::<Result<_, StoreError>>()?;
        Ok((last, known))
    }

    /// The revision of the stream's first or last readable event (`None` when
    /// it does not exist or was deleted).
    async fn edge(&self, stream: &str, options: ReadStreamOptions) -> Result<Option<u64>, StoreError> {
        match self.read(stream, &options.max_count(1)).await {
            Err(StoreError::StreamNotFound(_)) => Ok(None),
            result => Ok(result?.first().map(|e| e.revision)),
        }
    }

    /// Runs a stream read to its end. A missing stream is `StreamNotFound`, whether
    /// the server says so on the call or on the first `next()`.
    async fn read(
        &self,
        stream: &str,
        options: &ReadStreamOptions,
    ) -> Result<Vec<kurrentdb::RecordedEvent>, StoreError> {
        let client = self.connection.client();
        let mut read = client.read_stream(stream, options).await.map_err(|e| client.error(e, stream))?;
        let mut events = Vec::new();
        while let Some(resolved) = read.next().await.map_err(|e| client.error(e, stream))? {
            events.extend(resolved.event);
        }
        Ok(events)
    }
}

#[async_trait]
impl EventStore for KurrentStore {
    async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<Vec<Appended>>, StoreError> {
        let mut answers = Vec::with_capacity(appends.len());
        for append in &appends {
            answers.push(self.append_to(append).await?);
        }
        Ok(answers)
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // At least one, so that a missing stream is reported even for `limit` 0.
        let options = ReadStreamOptions::default()
            .forwards()
            .position(StreamPosition::Position(from_revision))
            .max_count(limit.max(1));
        let mut events = Vec::new();
        for event in self.read(stream, &options).await? {
            events.extend(recorded(event)?);
        }
        events.truncate(limit);
        Ok(events)
    }

    async fn read_all(&self, after: Option<u64>, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.deletions.look(&self.connection).await?;
        let mut events = Vec::new();
        let mut cursor = after;
        // System events count in the server's page but are dropped here: read on
        // until `limit` events are found or a short page shows the end of `$all`.
        while events.len() < limit {
            // Reading from a position includes the event there: ask for one more.
            let count = (limit - events.len()).saturating_add(1);
            let (page, received) = page_after(&self.connection, cursor, filter(prefix), count).await?;
            let start = cursor;
            for event in page {
                cursor = Some(event.position.prepare);
                if events.len() < limit {
                    events.extend(recorded(event)?.filter(|e| !self.deletions.covers(e)));
                }
            }
            if received < count || cursor == start {
                break;
            }
        }
        Ok(events)
    }

    fn subscribe_all(&self, after: Option<u64>, prefix: &str) -> EventStream {
        let options = SubscribeToAllOptions::default()
            .position(from_position(after))
            .filter(filter(prefix))
            .retry_options(RetryOptions::default().retry_forever());
        let feed = Feed {
            connection: Arc::clone(&self.connection),
            options,
            subscription: None,
            failed: false,
            deletions: self.deletions.clone(),
            pending: None,
        };
        Box::pin(futures::stream::unfold(feed, Feed::next))
    }

    /// Soft-deletes the stream rather than tombstoning it: a tombstone forbids
    /// the stream for ever, while a player who comes back after their erasure
    /// must get a stream again. The server hides the events from stream reads at
    /// once and scavenging removes them; until then they are left out of `$all`
    /// reads here ([`deletions`]). The recreated stream's revisions go on from the
    /// deleted one's (the server's rule), where SQL stores start again at 0.
    async fn delete_stream(&self, stream: &str) -> Result<u64, StoreError> {
        let mut retries = 0;
        loop {
            let Some(last) =
                self.edge(stream, ReadStreamOptions::default().backwards().position(StreamPosition::End)).await?
            else {
                return Ok(0);
            };
            let first =
                self.edge(stream, ReadStreamOptions::default().forwards().position(StreamPosition::Start)).await?;
            // Guarded by the last revision seen, so that the count is of what was deleted.
            let options = DeleteStreamOptions::default().stream_state(StreamState::StreamRevision(last));
            let client = self.connection.client();
            match client.delete_stream(stream, &options).await {
                Ok(position) => {
                    match position {
                        Some(position) => self.deletions.deleted(stream, position.prepare),
                        None => self.deletions.look(&self.connection).await?,
                    }
                    return Ok(last - first.unwrap_or(last) + 1);
                }
                Err(kurrentdb::Error::WrongExpectedVersion { .. }) if retries < RACE_RETRIES => retries += 1,
                Err(e) => return Err(client.error(e, stream)),
            }
        }
    }

    /// The last player event in `$all` that is not deleted.
    async fn head(&self) -> Result<u64, StoreError> {
        self.deletions.look(&self.connection).await?;
        let mut before = StreamPosition::End;
        loop {
            let options = ReadAllOptions::default()
                .backwards()
                .position(before)
                .filter(filter(domain::STREAM_PREFIX))
                .max_count(HEAD_PAGE);
            let client = self.connection.client();
            let mut read = client.read_all(&options).await.map_err(|e| client.error(e, "$all"))?;
            let mut received = 0;
            while let Some(resolved) = read.next().await.map_err(|e| client.error(e, "$all"))? {
                received += 1;
                let Some(event) = resolved.event else { continue };
                before = StreamPosition::Position(event.position);
                if let Some(event) = recorded(event)?.filter(|e| !self.deletions.covers(e)) {
                    return Ok(event.position);
                }
            }
            if received < HEAD_PAGE {
                return Ok(0);
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let options = ReadAllOptions::default().backwards().position(StreamPosition::End).max_count(1);
        let client = self.connection.client();
        let mut read = client.read_all(&options).await.map_err(|e| client.error(e, "$all"))?;
        read.next().await.map_err(|e| client.error(e, "$all"))?;
        Ok(())
    }
}
