//! Whether an event's time is plausible: within a window around the server's
//! clock (passed in: the domain reads no clock), and never a leap second. Checked
//! at ingest only: a stored event stays readable whatever the window becomes.

use chrono::{DateTime, Duration, Timelike, Utc};

use crate::FieldError;

/// The event times nudge accepts, relative to the server's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTimeWindow {
    /// The earliest time accepted.
    pub earliest: DateTime<Utc>,
    /// How far ahead of the server's clock a time may be.
    pub max_ahead: Duration,
}

impl Default for EventTimeWindow {
    /// From 2000-01-01T00:00:00Z (10,957 days after the epoch) to 24 hours ahead of the clock.
    fn default() -> Self {
        Self { earliest: DateTime::UNIX_EPOCH + Duration::days(10_957), max_ahead: Duration::hours(24) }
    }
}

impl EventTimeWindow {
    /// Checks `time` (the event's `time`) against the window around `now`; a
    /// leap second (`:60`) is refused whatever the day, since nudge keeps no
    /// table of the real ones and the stores keep no leap seconds.
    pub fn check(&self, time: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), FieldError> {
        let refuse = |message: String| Err(FieldError::new("/time", message));
        if time.nanosecond() >= 1_000_000_000 {
            return refuse("must not be a leap second (:60)".to_owned());
        }
        if time < self.earliest {
            return refuse(format!("must not be before {}", self.earliest.to_rfc3339()));
        }
        let latest = now.checked_add_signed(self.max_ahead).unwrap_or(DateTime::<Utc>::MAX_UTC);
        if time > latest {
            let hours = self.max_ahead.num_minutes() as f64 / 60.0;
            return refuse(format!(
                "must not be more than {hours} h ahead of the server's clock ({})",
                now.to_rfc3339()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_outside_the_window_or_on_a_leap_second_are_refused() {
        let window = EventTimeWindow::default();
        let now = at("2026-12-01T12:00:00Z");
        for accepted in
            ["2000-01-01T00:00:00Z", "2026-11-24T10:00:00Z", "2026-12-02T12:00:00Z", "2016-12-31T23:59:59.999Z"]
        {
            assert_eq!(window.check(at(accepted), now), Ok(()), "{accepted}");
        }
        for refused in [
            "0000-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999Z",
            "2026-12-02T12:00:00.001Z",
            "9999-12-31T23:59:59Z",
            "2026-11-24T10:00:60Z",
            "2016-12-31T23:59:60Z",
        ] {
            let refusal = window.check(at(refused), now);
            assert_eq!(refusal.map_err(|e| e.pointer), Err("/time".to_owned()), "{refused}");
        }
        let narrow = EventTimeWindow { earliest: at("2026-01-01T00:00:00Z"), max_ahead: Duration::minutes(90) };
        assert!(narrow.check(at("2025-12-31T23:59:59Z"), now).is_err());
        let ahead = narrow.check(at("2026-12-01T13:31:00Z"), now).unwrap_err();
        assert_eq!(
            ahead.message,
            "must not be more than 1.5 h ahead of the server's clock (2026-12-01T12:00:00+00:00)"
        );
    }
}
