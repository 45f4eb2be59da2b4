//! Micro-batches of a subscription, and how long each waits for more events.
//!
//! A batch costs about a millisecond of CPU whatever its size (its transaction,
//! the lease fence, the upsert's statement), so under load a batch that waits
//! longer saves CPU that ingest needs; when events are few, a short wait keeps
//! features fresh. The wait therefore grows with the rate events arrive at.

use std::time::Duration;

use futures::StreamExt;
use store::{EventStream, RecordedEvent};
use tokio::time::Instant;

use crate::ProjectionError;

/// The rate up to which a batch waits the shortest wait; above it the wait
/// grows in proportion, so that batches hold more events as more arrive.
const BASE_RATE: f64 = 2_000.0;

/// How quickly the rate estimate follows a change: over about this long.
const RATE_HORIZON: Duration = Duration::from_millis(100);

/// How long a micro-batch waits for more events after its first: `shortest`
/// while events arrive at up to [`BASE_RATE`] a second, in proportion to the
/// rate above it, never more than `longest` (nor less than `shortest`).
#[derive(Debug)]
struct BatchWait {
    shortest: Duration,
    longest: Duration,
    /// Events a second, smoothed over [`RATE_HORIZON`].
    rate: f64,
    /// When the last batch closed.
    closed: Instant,
}

impl BatchWait {
    fn new(shortest: Duration, longest: Duration, now: Instant) -> Self {
        Self { shortest, longest: longest.max(shortest), rate: 0.0, closed: now }
    }

    /// The wait of a batch whose first event came at `now`: a batch that
    /// starts after a quiet spell waits as the quiet rate has it.
    fn at(&self, now: Instant) -> Duration {
        let rate = self.estimate(1, now);
        self.shortest.mul_f64((rate / BASE_RATE).max(1.0)).min(self.longest)
    }

    /// A batch of `events` closed at `now`: every event since the last one
    /// closed is in it, so they came at `events` over that time.
    fn closed(&mut self, events: usize, now: Instant) {
        self.rate = self.estimate(events, now);
        self.closed = now;
    }

    /// The rate with `events` more counted at `now`, weighted by the time
    /// since the last batch closed: a long quiet spell replaces the estimate
    /// at once, a burst of small batches moves it gradually.
    fn estimate(&self, events: usize, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.closed).as_secs_f64();
        if elapsed == 0.0 {
            return self.rate;
        }
        let weight = 1.0 - (-elapsed / RATE_HORIZON.as_secs_f64()).exp();
        self.rate + weight * (events as f64 / elapsed - self.rate)
    }
}

/// Micro-batches of a subscription: at most `max` events, or what came within
/// the [`BatchWait`] after the first. Cancel-safe: what a cancelled call took
/// stays pending.
pub(crate) struct Batches {
    events: EventStream,
    pending: Vec<RecordedEvent>,
    deadline: Option<Instant>,
    max: usize,
    wait: BatchWait,
    /// The projection's name, as its metrics label it.
    projection: &'static str,
}

impl Batches {
    /// Batches of at most `max` events, each waiting from `shortest` to `longest` for more.
    pub(crate) fn new(
        events: EventStream,
        max: usize,
        (shortest, longest): (Duration, Duration),
        projection: &'static str,
    ) -> Self {
        let wait = BatchWait::new(shortest, longest, Instant::now());
        Self { events, pending: Vec::new(), deadline: None, max: max.max(1), wait, projection }
    }

    /// Whether events are waiting for the next batch.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next micro-batch; empty when the subscription ended.
    pub(crate) async fn next(&mut self) -> Result<Vec<RecordedEvent>, ProjectionError> {
        while self.pending.len() < self.max {
            let next = match self.deadline {
                None => self.events.next().await,
                Some(deadline) => match tokio::time::timeout_at(deadline, self.events.next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
            };
            match next {
                Some(event) => {
                    self.pending.push(event?);
                    if self.deadline.is_none() {
                        let now = Instant::now();
                        let waited = self.wait.at(now);
                        metrics::gauge!("nudge_projection_batch_wait_seconds", "projection" => self.projection)
                            .set(waited.as_secs_f64());
                        self.deadline = Some(now + waited);
                    }
                }
                None => break,
            }
        }
        self.deadline = None;
        self.wait.closed(self.pending.len(), Instant::now());
        Ok(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// The wait once events have come steadily at `rate` a second for a while.
    fn settled(rate: u64) -> Duration {
        let start = Instant::now();
        let mut wait = BatchWait::new(MS, 5 * MS, start);
        for tick in 1..=1_000u32 {
            wait.closed(usize::try_from(rate / 1_000).unwrap_or(usize::MAX), start + tick * MS);
        }
        wait.at(start + 1_000 * MS)
    }

    #[test]
    fn the_wait_is_the_shortest_up_to_the_base_rate_and_grows_with_the_rate_above_it() {
        assert_eq!(settled(0), MS);
        assert_eq!(settled(2_000), MS);
        let at_8k = settled(8_000);
        assert!(at_8k > 3 * MS && at_8k < 5 * MS, "{at_8k:?}");
        assert_eq!(settled(20_000), 5 * MS);
    }

    #[test]
    fn a_batch_after_a_quiet_spell_waits_the_shortest_wait() {
        let start = Instant::now();
        let mut wait = BatchWait::new(MS, 5 * MS, start);
        for tick in 1..=1_000u32 {
            wait.closed(20, start + tick * MS);
        }
        let busy = start + 1_000 * MS;
        assert_eq!(wait.at(busy + Duration::from_micros(200)), 5 * MS, "right after a busy batch");
        assert_eq!(wait.at(busy + Duration::from_secs(10)), MS, "the first event after ten quiet seconds");
    }

    #[test]
    fn a_longest_wait_below_the_shortest_keeps_the_wait_fixed() {
        let start = Instant::now();
        let mut wait = BatchWait::new(10 * MS, MS, start);
        wait.closed(1_000, start + MS);
        assert_eq!(wait.at(start + MS), 10 * MS);
    }

    proptest! {
        #[test]
        fn the_wait_stays_between_its_bounds(
            shortest in 0u32..20, longest in 0u32..20, batches in prop::collection::vec((0usize..5_000, 0u64..2_000), 1..50),
        ) {
            let start = Instant::now();
            let (shortest, longest) = (shortest * MS, longest * MS);
            let mut wait = BatchWait::new(shortest, longest, start);
            let mut now = start;
            for (events, micros) in batches {
                now += Duration::from_micros(micros);
                let waited = wait.at(now);
                prop_assert!(waited >= shortest && waited <= longest.max(shortest), "{waited:?}");
                wait.closed(events, now);
            }
        }
    }
}
