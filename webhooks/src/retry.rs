//! When a failed delivery is tried again: exponential backoff with jitter, the
//! subscriber's `Retry-After` honoured, until the retry window closes.

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, Utc};

/// The waits between attempts and how long to keep trying.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    /// The wait after the first, second, ... failed attempt; the last repeats.
    pub waits: Vec<Duration>,
    /// How long after its first attempt a delivery is tried before it is dead-lettered.
    pub window: Duration,
    /// Each wait is moved by up to this fraction of itself, either way, so that
    /// deliveries failed together do not come back together.
    pub jitter: f64,
}

impl Default for RetrySchedule {
    /// 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then every 6 h up to 3 days.
    fn default() -> Self {
        let waits = [5, 30, 120, 600, 3_600, 21_600].into_iter().map(Duration::from_secs).collect();
        Self { waits, window: Duration::from_secs(3 * 24 * 3_600), jitter: 0.2 }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again then.
    At(DateTime<Utc>),
    /// Give up: dead-letter the delivery.
    DeadLetter,
}

impl RetrySchedule {
    /// After failed attempt number `attempts` (1 for the first) at `now`, of a
    /// delivery whose window opened at `from`; `retry_after` is the subscriber's
    /// own wait, `random` a number in [0, 1).
    pub fn next(
        &self,
        attempts: u32,
        now: DateTime<Utc>,
        from: DateTime<Utc>,
        retry_after: Option<Duration>,
        random: f64,
    ) -> Next {
        let index = (attempts.max(1) as usize - 1).min(self.waits.len().saturating_sub(1));
        let base = self.waits.get(index).copied().unwrap_or_default().as_secs_f64();
        let jittered = base * (1.0 + self.jitter * (2.0 * random - 1.0));
        let wait = retry_after.map_or(jittered, |asked| asked.as_secs_f64().max(jittered));
        // A wait past the last time chrono holds (a `Retry-After` of billions of
        // seconds) never comes.
        let at =
            chrono::Duration::try_milliseconds((wait * 1_000.0) as i64).and_then(|wait| now.checked_add_signed(wait));
        match at {
            Some(at) if at <= after(from, self.window) => Next::At(at),
            _ => Next::DeadLetter,
        }
    }
}

/// `duration` after `time`, or the last time chrono holds if that is later.
pub(crate) fn after(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|duration| time.checked_add_signed(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Reads `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    (at - now).to_std().ok().or(Some(Duration::ZERO))
}

/// Reads a duration written `250ms`, `5s`, `2m`, `6h` or `3d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("`{s}` is not a duration such as 500ms, 5s, 2m, 6h or 3d"))?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{s}`: the unit is one of ms, s, m, h, d")),
    };
    Ok(Duration::from_millis(n.saturating_mul(millis)))
}

/// A list of waits written `5s,30s,2m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waits(pub Vec<Duration>);

impl FromStr for Waits {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let waits = s.split(',').map(parse_duration).collect::<Result<Vec<_>, _>>()?;
        if waits.is_empty() || waits.iter().any(Duration::is_zero) {
            return Err("give at least one wait, none of them zero".to_owned());
        }
        Ok(Self(waits))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).single().unwrap()
    }

    #[test]
    fn the_default_schedule_backs_off_then_repeats_the_last_wait_for_three_days() {
        let schedule = RetrySchedule { jitter: 0.0, ..RetrySchedule::default() };
        let waits: Vec<_> = (1..=8)
            .map(|n| match schedule.next(n, at(0), at(0), None, 0.5) {
                Next::At(t) => (t - at(0)).num_seconds(),
                Next::DeadLetter => -1,
            })
            .collect();
        assert_eq!(waits, [5, 30, 120, 600, 3_600, 21_600, 21_600, 21_600]);
        // Three days after the first attempt, the next 6 h wait would overrun.
        assert_eq!(schedule.next(20, at(3 * 86_400 - 3_600), at(0), None, 0.5), Next::DeadLetter);
        assert_eq!(schedule.next(20, at(2 * 86_400), at(0), None, 0.5), Next::At(at(2 * 86_400 + 21_600)));
    }

    #[test]
    fn a_retry_after_past_the_calendar_dead_letters_and_a_window_past_it_never_closes() {
        let schedule = RetrySchedule { jitter: 0.0, ..RetrySchedule::default() };
        let forever = parse_retry_after(&u64::MAX.to_string(), at(0));
        assert_eq!(schedule.next(1, at(0), at(0), forever, 0.5), Next::DeadLetter);
        let endless = RetrySchedule { window: Duration::MAX, ..schedule };
        assert_eq!(endless.next(7, at(0), at(0), None, 0.5), Next::At(at(21_600)));
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_retry_after_is_a_floor() {
        let schedule = RetrySchedule::default();
        for random in [0.0, 0.25, 0.5, 0.999] {
            let Next::At(t) = schedule.next(2, at(0), at(0), None, random) else { panic!() };
            assert!((24..=36).contains(&(t - at(0)).num_seconds()));
        }
        let asked = Some(Duration::from_secs(600));
        assert_eq!(schedule.next(1, at(0), at(0), asked, 0.5), Next::At(at(600)));
    }

    #[test]
    fn reads_retry_after_and_durations() {
        assert_eq!(parse_retry_after("120", at(0)), Some(Duration::from_secs(120)));
        let date = at(90).to_rfc2822();
        assert_eq!(parse_retry_after(&date, at(0)), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("soon", at(0)), None);
        assert_eq!("5s,30s,2m,6h,3d".parse::<Waits>().map(|w| w.0.len()), Ok(5));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!("5s,0s".parse::<Waits>().is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
