//! The catch-up subscription to `$all`: nudge's events in log order, the
//! deleted ones left out.

use std::sync::Arc;

use kurrentdb::{Client, SubscribeToAllOptions, Subscription};

use super::{RETRY_PAUSE, deletions::Deletions, error, recorded};
use crate::{RecordedEvent, StoreError};

/// A catch-up subscription to `$all`, asked for on first poll.
pub(super) struct Feed {
    pub(super) client: Client,
    pub(super) options: SubscribeToAllOptions,
    pub(super) subscription: Option<Subscription>,
    pub(super) failed: bool,
    pub(super) deletions: Arc<Deletions>,
    /// An event received but not handed out yet: looking for deletions failed.
    pub(super) pending: Option<RecordedEvent>,
}

impl Feed {
    /// The next nudge event. The client resubscribes by itself after the last event
    /// it handed out, so after an error the same subscription goes on.
    pub(super) async fn next(mut self) -> Option<(Result<RecordedEvent, StoreError>, Self)> {
        loop {
            if std::mem::take(&mut self.failed) {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            let event = match self.pending.take() {
                Some(event) => event,
                None => match self.receive().await {
                    Ok(event) => event,
                    Err(e) => return Some((Err(e), self)),
                },
            };
            // Past the end of the log last looked at, deletions may be unknown yet.
            if self.deletions.behind(event.position)
                && let Err(e) = self.deletions.look(&self.client).await
            {
                self.pending = Some(event);
                self.failed = true;
                return Some((Err(e), self));
            }
            if !self.deletions.covers(&event) {
                return Some((Ok(event), self));
            }
        }
    }

    /// The next nudge event from the server.
    async fn receive(&mut self) -> Result<RecordedEvent, StoreError> {
        let subscription = match &mut self.subscription {
            Some(subscription) => subscription,
            slot @ None => slot.insert(self.client.subscribe_to_all(&self.options).await),
        };
        loop {
            match subscription.next().await {
                Ok(resolved) => match resolved.event.map(recorded) {
                    Some(Ok(Some(event))) => return Ok(event),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(None)) | None => {}
                },
                Err(e) => {
                    self.failed = true;
                    return Err(error(e, "$all"));
                }
            }
        }
    }
}
