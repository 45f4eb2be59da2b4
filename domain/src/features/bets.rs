//! The bets of the last 7 days, kept in time order beside their sums, so that
//! a snapshot takes the week as it stands and adds up only the last day's
//! bets, from the newest end, instead of walking every bet of the week for
//! every event.

use std::collections::VecDeque;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{AfterSettlement, BetMark, DAY, HOUR, WEEK, snapshot::add};

/// The bets held, oldest first, and what they add up to.
#[derive(Debug, Clone, Default)]
pub(super) struct Bets {
    marks: VecDeque<BetMark>,
    sums: Sums,
}

/// Exact sums over every bet held, wider than the features' saturating ones.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    count: u64,
    night: u64,
    after_loss: (i128, u64),
    after_other: (i128, u64),
    /// Bets held with a negative stake (validation lets none through): while
    /// any is, saturating sums depend on their order, so they are walked.
    negative: u64,
}

/// What the week's bets add up to, saturating as the features do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Week {
    /// Bets placed.
    pub(super) bets: u32,
    /// Of those, placed between midnight and 6 a.m. (UTC).
    pub(super) night: u32,
    /// Stake and number of the first bets after a losing settlement.
    pub(super) after_loss: (i64, i64),
    /// Stake and number of the first bets after any other settlement.
    pub(super) after_other: (i64, i64),
}

impl Bets {
    /// Holds a bet, in time order (after those placed at the same time).
    pub(super) fn push(&mut self, bet: BetMark) {
        if self.marks.back().is_none_or(|last| last.0 <= bet.0) {
            self.marks.push_back(bet);
        } else {
            let at = self.marks.partition_point(|mark| mark.0 <= bet.0);
            self.marks.insert(at, bet);
        }
        self.sums.count(bet, true);
    }

    /// Drops the bets placed at or before `cutoff`.
    pub(super) fn expire(&mut self, cutoff: i64) {
        while let Some(&oldest) = self.marks.front().filter(|mark| mark.0 <= cutoff) {
            self.marks.pop_front();
            self.sums.count(oldest, false);
        }
    }

    /// The bets of the 7 days to `now`.
    pub(super) fn week(&self, now: i64) -> Week {
        let all_in_week = self.marks.front().is_none_or(|oldest| oldest.0 > now - WEEK);
        if all_in_week && self.sums.negative == 0 {
            // With no negative stake, a saturating sum is the exact one, capped.
            let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            let side =
                |(sum, n): (i128, u64)| (i64::try_from(sum).unwrap_or(i64::MAX), i64::try_from(n).unwrap_or(i64::MAX));
            let s = &self.sums;
            return Week {
                bets: narrow(s.count),
                night: narrow(s.night),
                after_loss: side(s.after_loss),
                after_other: side(s.after_other),
            };
        }
        let mut week = Week::default();
        for bet in self.marks.iter().filter(|b| b.0 > now - WEEK) {
            week.bets = week.bets.saturating_add(1);
            week.night = week.night.saturating_add(u32::from(at_night(bet.0)));
            match bet.2 {
                AfterSettlement::Loss => add(&mut week.after_loss.0, &mut week.after_loss.1, bet.1),
                AfterSettlement::Other => add(&mut week.after_other.0, &mut week.after_other.1, bet.1),
                AfterSettlement::Neither => {}
            }
        }
        week
    }

    /// The stake and number of the bets placed in the `window` to `now`.
    pub(super) fn within(&self, now: i64, window: i64) -> (i64, i64) {
        let mut sum = (0, 0);
        if self.sums.negative == 0 {
            // In time order, so the window is the newest end.
            self.marks.iter().rev().take_while(|b| b.0 > now - window).for_each(|b| add(&mut sum.0, &mut sum.1, b.1));
        } else {
            self.marks.iter().filter(|b| b.0 > now - window).for_each(|b| add(&mut sum.0, &mut sum.1, b.1));
        }
        sum
    }
}

impl Sums {
    /// Counts `bet` in (`held`) or out.
    fn count(&mut self, bet: BetMark, held: bool) {
        let step = |n: &mut u64, by: u64| *n = if held { *n + by } else { *n - by };
        let amount = |sum: &mut i128| *sum = if held { *sum + i128::from(bet.1) } else { *sum - i128::from(bet.1) };
        step(&mut self.count, 1);
        step(&mut self.night, u64::from(at_night(bet.0)));
        step(&mut self.negative, u64::from(bet.1 < 0));
        let side = match bet.2 {
            AfterSettlement::Loss => &mut self.after_loss,
            AfterSettlement::Other => &mut self.after_other,
            AfterSettlement::Neither => return,
        };
        amount(&mut side.0);
        step(&mut side.1, 1);
    }
}

/// Whether a bet at `t` was placed between midnight and 6 a.m. (UTC).
fn at_night(t: i64) -> bool {
    t.rem_euclid(DAY) < 6 * HOUR
}

impl PartialEq for Bets {
    fn eq(&self, other: &Self) -> bool {
        self.marks == other.marks
    }
}

/// Stored as the list of bets alone: the sums are worked out again on reading.
impl Serialize for Bets {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.marks.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Bets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut marks = Vec::<BetMark>::deserialize(deserializer)?;
        // A state stored before bets were kept in time order holds them as they came.
        marks.sort_by_key(|mark| mark.0);
        let mut bets = Self::default();
        marks.into_iter().for_each(|mark| bets.push(mark));
        Ok(bets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_bet_is_held_in_time_order_and_expires_with_its_time() {
        let mut bets = Bets::default();
        for t in [10, 30, 20, 30, 5] {
            bets.push(BetMark(t, t, AfterSettlement::Neither));
        }
        assert_eq!(bets.marks.iter().map(|m| m.0).collect::<Vec<_>>(), [5, 10, 20, 30, 30]);
        bets.expire(10);
        assert_eq!(bets.week(20 + WEEK - 1).bets, 3, "from the sums");
        assert_eq!(bets.week(20 + WEEK).bets, 2, "walked: the oldest is out of the week");
        assert_eq!(bets.within(30, 11), (80, 3));
    }

    #[test]
    fn with_a_negative_stake_the_sums_saturate_in_time_order() {
        let mut bets = Bets::default();
        for (t, stake) in [(1, i64::MAX), (2, 10), (3, -20)] {
            bets.push(BetMark(t, stake, AfterSettlement::Loss));
        }
        // Capped at the second bet, then lowered: not the exact sum less nothing.
        assert_eq!(bets.week(3).after_loss, (i64::MAX - 20, 3));
        assert_eq!(bets.within(3, HOUR), (i64::MAX - 20, 3));
    }
}
