//! The catch-up subscription to `$all`: nudge's events in log order, the
//! deleted ones left out.

use std::sync::Arc;

use kurrentdb::{Client, SubscribeToAllOptions, Subscription};

use super::{RETRY_PAUSE, connection::Connection, deletions::Deletions, from_position, recorded};
use crate::{RecordedEvent, StoreError};

/// A catch-up subscription to `$all`, asked for on first poll.
pub(super) struct Feed {
    pub(super) connection: Arc<Connection>,
    /// Where the subscription starts: moved past each event received, so that
    /// a new subscription goes on from there.
    pub(super) options: SubscribeToAllOptions,
    /// The subscription, and the client it was asked of.
    pub(super) subscription: Option<(Arc<Client>, Subscription)>,
    pub(super) failed: bool,
    pub(super) deletions: Arc<Deletions>,
    /// An event received but not handed out yet: looking for deletions failed.
    pub(super) pending: Option<RecordedEvent>,
}

impl Feed {
    /// The next nudge event. The client resubscribes by itself after a dropped
    /// subscription; an error it gives back means its connection failed, so the
    /// next poll subscribes again, with the connection's client of then.
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
                && let Err(e) = self.deletions.look(&self.connection).await
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
        let (client, subscription) = match &mut self.subscription {
            Some(subscription) => subscription,
            slot @ None => {
                let client = self.connection.current();
                let subscription = client.subscribe_to_all(&self.options).await;
                slot.insert((client, subscription))
            }
        };
        loop {
            match subscription.next().await {
                Ok(resolved) => {
                    let Some(event) = resolved.event else { continue };
                    let options = std::mem::take(&mut self.options);
                    self.options = options.position(from_position(Some(event.position.prepare)));
                    match recorded(event) {
                        Ok(Some(event)) => return Ok(event),
                        Ok(None) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => {
                    let error = self.connection.error(client, e, "$all");
                    self.failed = true;
                    self.subscription = None;
                    return Err(error);
                }
            }
        }
    }
}
