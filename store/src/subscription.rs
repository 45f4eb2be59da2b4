//! A catch-up subscription built on `read_all`, for stores that commit in
//! position order (SQLite and PostgreSQL, whose appends serialize on the head).

use std::{collections::VecDeque, time::Duration};

use tokio::sync::watch;

use crate::{EventStore, EventStream, RecordedEvent};

/// Events fetched per read while catching up.
const PAGE: usize = 1_000;

/// How long a caught-up subscription waits for a wake-up before it looks anyway:
/// bounds the delay for appends this process was not told about.
const POLL: Duration = Duration::from_millis(500);

/// Follows `store` from after `after`, woken by `wake` whenever the head moves.
///
/// A read error is yielded and the subscription goes on from where it was after
/// the poll interval; a consumer that wants to stop drops the stream.
pub(crate) fn follow<S: EventStore + Clone>(
    store: S,
    after: Option<u64>,
    prefix: &str,
    wake: watch::Receiver<u64>,
) -> EventStream {
    let state = Follow { store, after, prefix: prefix.to_owned(), wake, buffer: VecDeque::new(), failed: false };
    Box::pin(futures::stream::unfold(state, Follow::next))
}

struct Follow<S> {
    store: S,
    after: Option<u64>,
    prefix: String,
    wake: watch::Receiver<u64>,
    buffer: VecDeque<RecordedEvent>,
    failed: bool,
}

impl<S: EventStore + Clone> Follow<S> {
    async fn next(mut self) -> Option<(Result<RecordedEvent, crate::StoreError>, Self)> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.after = Some(event.position);
                return Some((Ok(event), self));
            }
            if std::mem::take(&mut self.failed) {
                tokio::time::sleep(POLL).await;
            }
            // Mark the head as seen before reading, so an append that commits
            // during the read still wakes the wait below.
            self.wake.borrow_and_update();
            match self.store.read_all(self.after, PAGE, &self.prefix).await {
                Ok(events) if events.is_empty() => {
                    let _ = tokio::time::timeout(POLL, self.wake.changed()).await;
                }
                Ok(events) => self.buffer.extend(events),
                Err(error) => {
                    self.failed = true;
                    return Some((Err(error), self));
                }
            }
        }
    }
}
