//! The event store port.

use async_trait::async_trait;
use std::num::NonZeroU32;

use futures::stream::BoxStream;
use tokio::sync::watch;

use crate::{Appended, RecordedEvent, StoreError, StreamAppend};

/// A live feed of events: first those already stored, then each new one as it commits.
pub type EventStream = BoxStream<'static, Result<RecordedEvent, StoreError>>;

/// A live feed of some logical partitions' events, and the position up to
/// which every event of theirs has been yielded (which moves on while other
/// partitions' events arrive and none of theirs do).
pub struct PartitionFeed {
    /// The events, in global order: those of the partitions asked for, or of
    /// every partition from a store that does not record them.
    pub events: EventStream,
    /// Moves on when the feed has yielded everything of its partitions up to a
    /// position; never moves from a store that does not record partitions.
    pub through: watch::Receiver<u64>,
}

/// An append-only store of event streams with a global order.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends to one or more streams, all or nothing, and answers where each event
    /// landed, per stream in the order given.
    ///
    /// An event whose (`source`, `id`) is already stored is not appended again: its
    /// answer is the original's, marked `duplicate`. The expected revision of a
    /// stream is checked only when the append brings new events to it.
    async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<Vec<Appended>>, StoreError>;

    /// Reads up to `limit` events of one stream, from `from_revision` on.
    /// Fails with [`StoreError::StreamNotFound`] when the stream does not exist.
    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Reads up to `limit` events of the streams whose name starts with `prefix`,
    /// in global order, starting after position `after` (from the start when `None`).
    async fn read_all(&self, after: Option<u64>, limit: usize, prefix: &str) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Follows every stream whose name starts with `prefix` from after `after`:
    /// catches up on what is stored, then yields new events as they commit, each
    /// exactly once, in global order.
    fn subscribe_all(&self, after: Option<u64>, prefix: &str) -> EventStream;

    /// Follows the player streams of the logical partitions `partitions` (of
    /// `count`, by `domain::partition_of`) from after `after`. A store that
    /// records each event's partition reads only theirs; the others yield every
    /// event, and the caller keeps those it wants.
    fn subscribe_partitions(
        &self,
        after: Option<u64>,
        prefix: &str,
        _partitions: &[u32],
        _count: NonZeroU32,
    ) -> PartitionFeed {
        PartitionFeed { events: self.subscribe_all(after, prefix), through: watch::Sender::new(0).subscribe() }
    }

    /// The number of logical partitions the store records each event's
    /// partition for, if it does.
    fn partitions(&self) -> Option<NonZeroU32> {
        None
    }

    /// Deletes a stream for good (a player's erasure) and answers how many events
    /// it held: they leave every later read, and an append to the same name starts
    /// the stream afresh. A stream that does not exist deletes nothing.
    async fn delete_stream(&self, stream: &str) -> Result<u64, StoreError>;

    /// The position of the last event stored in a player stream (0 when there
    /// is none), as seen by every process sharing the store.
    async fn head(&self) -> Result<u64, StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
