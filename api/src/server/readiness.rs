//! Whether ingest's writes are failing: `/readyz` answers not ready while the
//! last append failed for a passing cause (a full disk, a database gone), until
//! one succeeds or a while has passed without traffic to try one.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// How long a failed append keeps nudge not ready when no append follows it.
pub const FAILURE_HOLD: Duration = Duration::from_secs(3);

/// The last append that failed for a passing cause, until one succeeds.
#[derive(Debug, Clone, Default)]
pub struct WriteHealth(Arc<Mutex<Option<(Instant, String)>>>);

impl WriteHealth {
    /// Records an append's outcome: a passing failure, or a success.
    pub fn record(&self, failure: Option<&dyn std::error::Error>) {
        if let Ok(mut last) = self.0.lock() {
            *last = failure.map(|why| (Instant::now(), why.to_string()));
        }
    }

    /// Why writes are failing, if the last append failed less than [`FAILURE_HOLD`] ago.
    pub fn failing(&self) -> Option<String> {
        let last = self.0.lock().ok()?;
        last.as_ref().filter(|(at, _)| at.elapsed() < FAILURE_HOLD).map(|(_, why)| why.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_holds_until_a_success() {
        let health = WriteHealth::default();
        assert_eq!(health.failing(), None);
        health.record(Some(&std::io::Error::other("database or disk is full")));
        assert_eq!(health.failing().as_deref(), Some("database or disk is full"));
        health.record(None);
        assert_eq!(health.failing(), None);
    }
}
