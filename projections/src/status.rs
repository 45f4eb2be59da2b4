//! Where a projection is, as `GET /v1/projections` reports it.

use std::{collections::VecDeque, time::Instant};

use serde::Serialize;

/// What a projection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionState {
    /// Following the store.
    Running,
    /// Following the store while a rebuild from position 0 runs beside it.
    Rebuilding,
    /// The last run failed; it starts again from its checkpoint shortly.
    Failed,
}

/// Where a projection is, for `GET /v1/projections`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: &'static str,
    /// What it is doing.
    pub state: ProjectionState,
    /// Why the last run failed, while it is failed.
    pub error: Option<String>,
    /// Global position up to which every partition's events are in the rows
    /// served (the lowest partition checkpoint).
    pub checkpoint: u64,
    /// Global position of the last event in the store.
    pub head: u64,
    /// Logical partitions players are spread over, fixed when the database was made.
    pub partitions: u32,
    /// Events appended and not projected yet.
    pub lag_events: u64,
    /// How long ago the oldest event not projected yet was appended (to half
    /// a second: when the store's head was first seen past the checkpoint), 0
    /// when nothing is left to project.
    pub lag_seconds: f64,
    /// The rebuild in progress, if any.
    pub rebuild: Option<RebuildStatus>,
}

/// A rebuild in progress: it replaces the served rows once it reaches their
/// checkpoint in every partition.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RebuildStatus {
    /// Global position it has rebuilt up to in every partition.
    pub checkpoint: u64,
    /// Events between it and the served rows' checkpoint.
    pub remaining_events: u64,
    /// What is served meanwhile.
    pub serving: &'static str,
}

/// Most samples kept while the projection stays behind (half a second apart:
/// over half an hour); past it the oldest one stays and the next is dropped.
const MOST_SAMPLES: usize = 4_096;

/// The store's head as seen at each lag tick, so that lag reads as the age of
/// the oldest event not projected yet. A projection that keeps up under
/// steady load is a few events behind at every tick, yet never more than a
/// tick late: "time since nothing was left" would grow for ever there.
#[derive(Debug, Default)]
pub(crate) struct HeadHistory(VecDeque<(Instant, u64)>);

impl HeadHistory {
    /// Notes the head seen at `now`; when the head was first seen past
    /// `checkpoint`, if it is past it now.
    pub(crate) fn behind_since(&mut self, now: Instant, head: u64, checkpoint: u64) -> Option<Instant> {
        if self.0.back().is_none_or(|&(_, last)| head > last) {
            if self.0.len() >= MOST_SAMPLES {
                self.0.remove(1);
            }
            self.0.push_back((now, head));
        }
        while self.0.front().is_some_and(|&(_, seen)| seen <= checkpoint) {
            self.0.pop_front();
        }
        self.0.front().map(|&(at, _)| at)
    }
}

/// Seconds since `behind_since`, 0 when nothing is left to project.
pub(crate) fn lag_seconds(lag_events: u64, behind_since: Option<Instant>, now: Instant) -> f64 {
    match behind_since {
        Some(since) if lag_events > 0 => now.saturating_duration_since(since).as_secs_f64(),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_projection_that_keeps_up_under_load_lags_by_a_tick_at_most() {
        let (start, tick) = (Instant::now(), Duration::from_millis(500));
        let mut history = HeadHistory::default();
        // Every tick 1,000 more events, and the checkpoint a few short of the head.
        for i in 1..100u32 {
            let now = start + tick * i;
            let head = u64::from(i) * 1_000;
            let since = history.behind_since(now, head, head - 3);
            assert_eq!(since, Some(now));
            assert_eq!(lag_seconds(3, since, now), 0.0);
        }
        assert_eq!(history.0.len(), 1);
    }

    #[test]
    fn a_projection_behind_lags_by_the_age_of_the_oldest_event_left() {
        let (start, tick) = (Instant::now(), Duration::from_millis(500));
        let at = |i: u32| start + tick * i;
        let mut history = HeadHistory::default();
        assert_eq!(history.behind_since(at(0), 10, 10), None);
        assert_eq!(lag_seconds(0, None, at(0)), 0.0);
        assert_eq!(history.behind_since(at(1), 20, 10), Some(at(1)));
        assert_eq!(history.behind_since(at(2), 30, 10), Some(at(1)));
        assert_eq!(history.behind_since(at(3), 30, 10), Some(at(1)));
        assert_eq!(lag_seconds(20, Some(at(1)), at(10)), 4.5);
        // It projects part of what was appended: the age is of what is left.
        assert_eq!(history.behind_since(at(4), 40, 25), Some(at(2)));
        assert_eq!(history.behind_since(at(5), 40, 40), None);
        assert_eq!(history.behind_since(at(6), 50, 40), Some(at(6)));
    }

    #[test]
    fn a_stuck_projection_keeps_its_oldest_sample_within_the_bound() {
        let (start, tick) = (Instant::now(), Duration::from_millis(500));
        let mut history = HeadHistory::default();
        for i in 1..=(MOST_SAMPLES as u32 + 10) {
            assert_eq!(history.behind_since(start + tick * i, 20 + u64::from(i), 10), Some(start + tick));
        }
        assert_eq!(history.0.len(), MOST_SAMPLES);
    }
}
