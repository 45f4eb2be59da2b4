//! A catch-up subscription built on page reads, for stores that commit in
//! position order (SQLite and PostgreSQL, whose appends serialize on the head).

use std::{collections::VecDeque, sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};

use crate::{EventStore, EventStream, RecordedEvent, StoreError, sql::advance};

/// Events fetched per read while catching up.
pub(crate) const PAGE: usize = 1_000;

/// How long a caught-up subscription waits for a wake-up before it looks anyway:
/// bounds the delay for appends this process was not told about.
const POLL: Duration = Duration::from_millis(500);

/// One read of a subscription: the next events after a position, and the
/// position up to which that read has seen everything it follows, if it knows.
pub(crate) struct Page {
    pub(crate) events: Vec<RecordedEvent>,
    pub(crate) through: Option<u64>,
}

/// How a subscription reads its pages.
#[async_trait]
pub(crate) trait Pages: Send + Sync + 'static {
    /// The next events after `after`, in global order.
    async fn page(&self, after: Option<u64>) -> Result<Page, StoreError>;
}

/// Every event of the streams named `prefix...`.
struct All<S> {
    store: S,
    prefix: String,
}

#[async_trait]
impl<S: EventStore + Clone> Pages for All<S> {
    async fn page(&self, after: Option<u64>) -> Result<Page, StoreError> {
        Ok(Page { events: self.store.read_all(after, PAGE, &self.prefix).await?, through: None })
    }
}

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
    let pages = All { store, prefix: prefix.to_owned() };
    follow_pages(Arc::new(pages), after, wake, Arc::new(watch::Sender::new(0)))
}

/// Follows what `pages` reads from after `after`, woken by `wake`; publishes on
/// `through` every position up to which all it follows has been yielded.
///
/// A task of its own reads the pages, up to [`READ_AHEAD`] of them before the
/// consumer: while it folds and commits one batch the next pages are read, and
/// a consumer that batches what is ready at once finds whole pages there
/// rather than closing a batch at every page while the next one is read.
pub(crate) fn follow_pages(
    pages: Arc<dyn Pages>,
    after: Option<u64>,
    wake: watch::Receiver<u64>,
    through: Arc<watch::Sender<u64>>,
) -> EventStream {
    let (read, ready) = mpsc::channel(READ_AHEAD);
    tokio::spawn(Reader { pages, after, wake, read }.run());
    let state = Follow { ready, buffer: VecDeque::new(), through, pending_through: None };
    Box::pin(futures::stream::unfold(state, Follow::next))
}

/// Pages read and not yet handed out, at most.
const READ_AHEAD: usize = 10;

/// Reads page after page, waiting for the head to move when there is none.
struct Reader {
    pages: Arc<dyn Pages>,
    after: Option<u64>,
    wake: watch::Receiver<u64>,
    read: mpsc::Sender<Result<Page, StoreError>>,
}

impl Reader {
    /// Runs until the subscription is dropped.
    async fn run(mut self) {
        loop {
            // Mark the head as seen before reading, so an append that commits
            // during the read still wakes the wait below.
            let head = *self.wake.borrow_and_update();
            let page = tokio::select! {
                page = self.pages.page(self.after) => page,
                () = self.read.closed() => return,
            };
            if let Ok(page) = &page {
                self.after = self.after.max(page.events.last().map(|e| e.position)).max(page.through);
            }
            let (failed, empty) = (page.is_err(), page.as_ref().is_ok_and(|p| p.events.is_empty()));
            let short = page.as_ref().is_ok_and(|p| p.events.len() < PAGE);
            // An empty page goes out only when it says how far it has seen.
            let news = !empty || page.as_ref().is_ok_and(|p| p.through.is_some());
            if news && self.read.send(page).await.is_err() {
                return;
            }
            // A short page that reached the head seen before the read: the next
            // read would find nothing until the head moves, so wait for that.
            let idle = empty || (short && self.after.is_some_and(|after| after >= head));
            if failed || idle {
                tokio::select! {
                    () = tokio::time::sleep(POLL), if failed => {}
                    _ = tokio::time::timeout(POLL, self.wake.changed()), if idle => {}
                    () = self.read.closed() => return,
                }
            }
        }
    }
}

/// Hands out the pages' events one by one.
struct Follow {
    ready: mpsc::Receiver<Result<Page, StoreError>>,
    buffer: VecDeque<RecordedEvent>,
    through: Arc<watch::Sender<u64>>,
    /// Published once the buffer is drained: everything up to it is yielded then.
    pending_through: Option<u64>,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<RecordedEvent, StoreError>, Self)> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some((Ok(event), self));
            }
            if let Some(through) = self.pending_through.take() {
                self.through.send_if_modified(|t| advance(t, through));
            }
            match self.ready.recv().await? {
                Ok(page) => {
                    self.pending_through = page.through;
                    self.buffer.extend(page.events);
                }
                Err(error) => return Some((Err(error), self)),
            }
        }
    }
}
