//! A run that others can stop and hold stopped: a promotion swaps the rows under
//! the live run, an erasure deletes a player's rows under every run.

use std::sync::{Mutex, PoisonError};

use tokio::sync::{MutexGuard, watch};
use tokio_util::sync::CancellationToken;

/// The gate a run holds while it runs, and the token that stops it.
#[derive(Default)]
pub(crate) struct Pausable {
    /// Stops the current run.
    token: Mutex<CancellationToken>,
    /// Held by the run while it runs, and by whoever holds it stopped.
    gate: tokio::sync::Mutex<()>,
    /// How many are holding the run stopped or waiting to.
    holders: watch::Sender<usize>,
}

/// Keeps a run stopped while it lives.
pub(crate) struct Held<'a> {
    _counted: Counted<'a>,
    _gate: MutexGuard<'a, ()>,
}

/// One holder counted in, counted out on drop (even when a `hold` is dropped
/// while it waits).
struct Counted<'a>(&'a Pausable);

impl<'a> Counted<'a> {
    fn new(pausable: &'a Pausable) -> Self {
        pausable.holders.send_modify(|n| *n += 1);
        Self(pausable)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.holders.send_modify(|n| *n -= 1);
    }
}

impl Pausable {
    /// Waits until nobody holds the run stopped; answers the gate to keep while
    /// it runs and the token that stops it (a child of `parent`).
    pub(crate) async fn enter(&self, parent: &CancellationToken) -> (MutexGuard<'_, ()>, CancellationToken) {
        let mut holders = self.holders.subscribe();
        loop {
            // The sender lives in `self`: waiting cannot fail.
            let _ = holders.wait_for(|n| *n == 0).await;
            // The token is in place before the count is checked: a holder that
            // counts itself in after the check cancels this very token.
            let token = parent.child_token();
            *self.token.lock().unwrap_or_else(PoisonError::into_inner) = token.clone();
            let gate = self.gate.lock().await;
            if *self.holders.borrow() == 0 {
                return (gate, token);
            }
        }
    }

    /// Stops the run (it lands its commit in flight first) and keeps it from
    /// starting again until the answer is dropped.
    pub(crate) async fn hold(&self) -> Held<'_> {
        let counted = Counted::new(self);
        self.token.lock().unwrap_or_else(PoisonError::into_inner).cancel();
        Held { _counted: counted, _gate: self.gate.lock().await }
    }
}
