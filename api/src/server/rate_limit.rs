//! Per-key request rate limits: a generic cell rate algorithm (GCRA), one
//! theoretical arrival time per key, so a key may burst up to one second's
//! worth of requests and then go at the configured rate.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use uuid::Uuid;

/// Requests per second allowed to each API key.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time between two requests at the steady rate.
    interval: Duration,
    /// How far ahead of now a key's arrival time may run: the burst.
    tolerance: Duration,
    arrivals: Mutex<HashMap<Uuid, Instant>>,
}

impl RateLimiter {
    /// Allows `per_second` requests a second to each key, and bursts of as many.
    pub fn new(per_second: NonZeroU32) -> Self {
        let interval = Duration::from_secs(1) / per_second.get();
        Self { interval, tolerance: interval * (per_second.get() - 1), arrivals: Mutex::default() }
    }

    /// Takes one request of `key` at `now`; when over the limit, how long until it may try again.
    pub fn check(&self, key: Uuid, now: Instant) -> Result<(), Duration> {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let arrival = arrivals.get(&key).copied().unwrap_or(now).max(now);
        let ahead = arrival - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        arrivals.insert(key, arrival + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32) -> RateLimiter {
        RateLimiter::new(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
    }

    #[test]
    fn a_burst_of_one_seconds_worth_passes_then_the_next_waits() {
        let limiter = limiter(10);
        let (key, now) = (Uuid::now_v7(), Instant::now());
        for _ in 0..10 {
            assert_eq!(limiter.check(key, now), Ok(()));
        }
        assert_eq!(limiter.check(key, now), Err(Duration::from_millis(100)));
        assert_eq!(limiter.check(key, now + Duration::from_millis(100)), Ok(()));
        assert!(limiter.check(key, now + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn keys_are_limited_apart() {
        let limiter = limiter(1);
        let now = Instant::now();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(limiter.check(a, now), Ok(()));
        assert_eq!(limiter.check(a, now), Err(Duration::from_secs(1)));
        assert_eq!(limiter.check(b, now), Ok(()));
    }

    #[test]
    fn an_idle_key_saves_no_more_than_one_burst() {
        let limiter = limiter(2);
        let (key, now) = (Uuid::now_v7(), Instant::now());
        assert_eq!(limiter.check(key, now), Ok(()));
        let later = now + Duration::from_secs(3600);
        assert_eq!(limiter.check(key, later), Ok(()));
        assert_eq!(limiter.check(key, later), Ok(()));
        assert_eq!(limiter.check(key, later), Err(Duration::from_millis(500)));
    }
}
