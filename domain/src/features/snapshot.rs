//! The features a fold state stands for, as named values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DAY, FOUR_WEEKS, HOUR, MINUTE, MONTH, PlayerFeatures, WEEK};
use crate::LimitKind;

/// One feature's value, typed for storage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValue<'a> {
    /// A count, an amount in minor units or a length of time in whole units.
    Int(i64),
    /// A count or amount that may be unknown.
    OptInt(Option<i64>),
    /// A ratio or mean.
    Float(f64),
    /// A ratio or mean that may be unknown.
    OptFloat(Option<f64>),
    /// A yes or no.
    Bool(bool),
    /// A moment that may be unknown.
    Time(Option<DateTime<Utc>>),
    /// A name that may be unknown.
    Text(Option<&'a str>),
}

/// Declares [`Features`], the list of its names and its values in that order.
macro_rules! features {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $variant:ident),+ $(,)?) => {
        /// A player's features as of the latest event seen. Money is in minor units.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
        pub struct Features {
            $($(#[$doc])* pub $name: $ty,)+
        }

        impl Features {
            /// Every feature name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),+];

            /// Every feature value, in the order of [`Features::NAMES`].
            pub fn values(&self) -> Vec<FeatureValue<'_>> {
                vec![$(features!(@value self, $name, $variant)),+]
            }
        }
    };
    (@value $self:ident, $name:ident, Text) => { FeatureValue::Text($self.$name.as_deref()) };
    (@value $self:ident, $name:ident, $variant:ident) => { FeatureValue::$variant($self.$name) };
}

features! {
    /// Sum of succeeded deposits.
    deposit_total: i64 => Int,
    /// Number of succeeded deposits.
    deposit_count: i64 => Int,
    /// Sum of requested withdrawals.
    withdrawal_total: i64 => Int,
    /// Number of bets placed.
    bet_count: i64 => Int,
    /// Sum of stakes.
    stake_total: i64 => Int,
    /// Sum of payouts.
    payout_total: i64 => Int,
    /// `stake_total` − `payout_total`.
    net_loss: i64 => Int,
    /// Earliest event time.
    first_seen: Option<DateTime<Utc>> => Time,
    /// Latest event time.
    last_seen: Option<DateTime<Utc>> => Time,
    /// A session started and has not ended.
    in_session: bool => Bool,
    /// Start of the open session, or of the last one.
    session_started_at: Option<DateTime<Utc>> => Time,
    /// Length of the open session so far, or of the last one.
    session_seconds: i64 => Int,
    /// Bets placed in the open (or last) session.
    session_bet_count: i64 => Int,
    /// Stakes placed in the open (or last) session.
    session_stake: i64 => Int,
    /// Stakes minus payouts settled in the open (or last) session.
    session_net_loss: i64 => Int,
    /// Sessions started in the last 24 hours.
    sessions_24h: i64 => Int,
    /// Stakes placed in the last hour.
    stake_1h: i64 => Int,
    /// Bets placed in the last hour.
    bets_1h: i64 => Int,
    /// Stakes placed minus payouts settled in the last hour.
    net_loss_1h: i64 => Int,
    /// Stakes placed in the last 24 hours.
    stake_24h: i64 => Int,
    /// Bets placed in the last 24 hours.
    bets_24h: i64 => Int,
    /// Stakes placed minus payouts settled in the last 24 hours.
    net_loss_24h: i64 => Int,
    /// Sum of succeeded deposits in the last 24 hours.
    deposit_amount_24h: i64 => Int,
    /// Number of succeeded deposits in the last 24 hours.
    deposit_count_24h: i64 => Int,
    /// Sum of succeeded deposits in the last 7 days.
    deposit_amount_7d: i64 => Int,
    /// Number of succeeded deposits in the last 7 days.
    deposit_count_7d: i64 => Int,
    /// Settled bets in a row that paid out less than their stake.
    loss_streak: i64 => Int,
    /// Succeeded deposits of the last 24 hours made within 10 minutes of a losing settlement.
    deposits_after_loss_24h: i64 => Int,
    /// Failed deposits in the last 24 hours.
    failed_deposits_24h: i64 => Int,
    /// Cancelled withdrawals in the last 30 days.
    cancelled_withdrawals_30d: i64 => Int,
    /// Share of the last 7 days' bets placed between 00:00 and 06:00 UTC (0 without bets).
    night_bet_share_7d: f64 => Float,
    /// This session's mean stake over the lifetime mean stake before it (1 without history).
    stake_escalation: f64 => Float,
    /// Mean stake of first bets after a loss over that after any other settlement, last 7 days (1 when either is empty).
    loss_chasing: f64 => Float,
    /// Limit changes in the last 30 days that raised the previous limit of the same kind.
    limit_increases_30d: i64 => Int,
    /// Deposit limit changes in the last 7 days that raised the previous deposit limit.
    deposit_limit_raises_7d: i64 => Int,
    /// Whole minutes since the last settlement that paid out more than its stake.
    minutes_since_last_win: Option<i64> => OptInt,
    /// Sessions started in the last 7 days.
    sessions_7d: i64 => Int,
    /// Mean length in minutes of the sessions started in the last 7 days (0 without any).
    avg_session_minutes_7d: f64 => Float,
    /// Days between the last two session starts.
    days_between_sessions: Option<f64> => OptFloat,
    /// Sessions started in the last 28 days.
    sessions_28d: i64 => Int,
    /// Sessions started in the last 7 days against the player's own weekly rate over the 21 days before
    /// them (as much of those as the player was seen, at least 3 days): (`sessions_7d` + 1) / (that rate + 1);
    /// 1 for a player seen for less than 10 days. Below 1 when play thins out.
    session_rate_trend: f64 => Float,
    /// Mean length of the sessions started in the last 7 days over that of the sessions started in the
    /// 21 days before them (1 when either has none).
    session_minutes_trend: f64 => Float,
    /// `days_between_sessions` over the mean days between the earlier session starts of the last 28 days
    /// (1 without three starts in them). Above 1 when the latest gap is longer than the player's usual one.
    session_gap_trend: f64 => Float,
    /// The category launched most in the last 30 days (ties: the first by name).
    favourite_category: Option<String> => Text,
    /// Distinct categories launched in the last 7 days.
    categories_7d: i64 => Int,
    /// When the latest self-exclusion ends.
    self_excluded_until: Option<DateTime<Utc>> => Time,
    /// The latest deposit limit, in minor units.
    deposit_limit: Option<i64> => OptInt,
}

/// The last instant RFC 3339 can write (9999-12-31T23:59:59.999Z), in ms.
const LATEST: i64 = 253_402_300_799_999;

/// A time in milliseconds since the epoch as a timestamp.
fn timestamp(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}

/// Adds `amount` to `sum` and one to `count`, both saturating.
pub(super) fn add(sum: &mut i64, count: &mut i64, amount: i64) {
    *sum = sum.saturating_add(amount);
    *count = count.saturating_add(1);
}

/// A ratio of two means, 1.0 when either side has nothing.
fn ratio_of_means((sum_a, n_a): (i64, i64), (sum_b, n_b): (i64, i64)) -> f64 {
    if n_a == 0 || n_b == 0 || sum_b == 0 {
        return 1.0;
    }
    (sum_a as f64 / n_a as f64) / (sum_b as f64 / n_b as f64)
}

/// The shortest stretch before the last 7 days that gives a player a rhythm of their own.
const BASELINE_AT_LEAST: i64 = 3 * DAY;

/// (`last_week` + 1) over (the weekly rate of `earlier` sessions + 1), those
/// started in the 21 days before the last 7, of which the player was seen
/// `seen - 7 days`; 1 when that is shorter than [`BASELINE_AT_LEAST`].
fn session_rate_trend(last_week: i64, earlier: i64, seen: i64) -> f64 {
    let baseline = (seen - WEEK).min(FOUR_WEEKS - WEEK);
    if baseline < BASELINE_AT_LEAST {
        return 1.0;
    }
    let weekly = earlier as f64 * WEEK as f64 / baseline as f64;
    (last_week as f64 + 1.0) / (weekly + 1.0)
}

/// The latest gap between session starts over the mean of the earlier gaps of
/// the last 28 days; 1 without a latest gap or two earlier ones.
fn session_gap_trend(state: &PlayerFeatures, latest_days: Option<f64>, now: i64) -> f64 {
    let (mut first, mut before_latest, mut latest, mut starts) = (None, None, None, 0usize);
    for t in state.sessions.iter().map(|s| s.0).filter(|t| *t > now - FOUR_WEEKS) {
        first.get_or_insert(t);
        (before_latest, latest) = (latest, Some(t));
        starts += 1;
    }
    let (Some(latest_days), Some(first), Some(before_latest)) = (latest_days, first, before_latest) else {
        return 1.0;
    };
    // The earlier gaps run from the first start to the one before the latest.
    let mean_days = (before_latest - first) as f64 / starts.saturating_sub(2).max(1) as f64 / DAY as f64;
    if starts < 3 || mean_days <= 0.0 { 1.0 } else { latest_days / mean_days }
}

impl Features {
    pub(super) fn of(state: &PlayerFeatures) -> Self {
        let now = state.last_seen.unwrap_or(0);
        let within = |t: i64, window: i64| t > now - window;
        let session = state.session.as_ref();
        let in_session = session.is_some_and(|s| s.ended_at.is_none());

        let mut features = Self {
            deposit_total: state.deposit_total,
            deposit_count: state.deposit_count,
            withdrawal_total: state.withdrawal_total,
            bet_count: state.bet_count,
            stake_total: state.stake_total,
            payout_total: state.payout_total,
            net_loss: state.stake_total.saturating_sub(state.payout_total),
            first_seen: state.first_seen.and_then(timestamp),
            last_seen: state.last_seen.and_then(timestamp),
            in_session,
            session_started_at: session.and_then(|s| timestamp(s.started_at)),
            session_seconds: session.map_or(0, |s| (s.ended_at.unwrap_or(now) - s.started_at).max(0) / 1000),
            session_bet_count: session.map_or(0, |s| s.bets),
            session_stake: session.map_or(0, |s| s.stake),
            session_net_loss: session.map_or(0, |s| s.stake.saturating_sub(s.payout)),
            loss_streak: state.loss_streak,
            stake_escalation: session
                .map_or(1.0, |s| ratio_of_means((s.stake, s.bets), (s.stake_before, s.bets_before))),
            minutes_since_last_win: state.last_win_at.map(|t| (now - t) / MINUTE),
            days_between_sessions: match (state.previous_session_start, session) {
                (Some(previous), Some(s)) => Some((s.started_at - previous).abs() as f64 / DAY as f64),
                _ => None,
            },
            // A longer exclusion than the calendar RFC 3339 writes is one for good.
            self_excluded_until: state.self_excluded_until.map(|t| t.min(LATEST)).and_then(timestamp),
            deposit_limit: state.limits.get(LimitKind::Deposit.as_str()).copied(),
            ..Self::default()
        };

        let week = state.bets.week(now);
        (features.stake_1h, features.bets_1h) = state.bets.within(now, HOUR);
        (features.stake_24h, features.bets_24h) = state.bets.within(now, DAY);
        features.night_bet_share_7d = if week.bets == 0 { 0.0 } else { f64::from(week.night) / f64::from(week.bets) };
        features.loss_chasing = ratio_of_means(week.after_loss, week.after_other);

        let (mut payout_1h, mut payout_24h) = (0, 0);
        for payout in state.payouts.iter().filter(|p| within(p.0, DAY)) {
            payout_24h = payout.1.saturating_add(payout_24h);
            if within(payout.0, HOUR) {
                payout_1h = payout.1.saturating_add(payout_1h);
            }
        }
        features.net_loss_1h = features.stake_1h.saturating_sub(payout_1h);
        features.net_loss_24h = features.stake_24h.saturating_sub(payout_24h);

        for deposit in state.deposits.iter().filter(|d| within(d.0, WEEK)) {
            add(&mut features.deposit_amount_7d, &mut features.deposit_count_7d, deposit.1);
            if within(deposit.0, DAY) {
                add(&mut features.deposit_amount_24h, &mut features.deposit_count_24h, deposit.1);
                features.deposits_after_loss_24h =
                    features.deposits_after_loss_24h.saturating_add(i64::from(deposit.2));
            }
        }

        let count =
            |times: &std::collections::VecDeque<i64>, window| times.iter().filter(|t| within(**t, window)).count();
        features.failed_deposits_24h = count(&state.failed_deposits, DAY) as i64;
        features.cancelled_withdrawals_30d = count(&state.cancelled_withdrawals, MONTH) as i64;
        for raise in state.limit_increases.iter().filter(|r| within(r.at, MONTH)) {
            features.limit_increases_30d = features.limit_increases_30d.saturating_add(1);
            features.deposit_limit_raises_7d =
                features.deposit_limit_raises_7d.saturating_add(i64::from(raise.deposit && within(raise.at, WEEK)));
        }

        let (mut minutes_7d, mut earlier) = (0.0, (0.0, 0i64));
        for span in state.sessions.iter().filter(|s| within(s.0, FOUR_WEEKS)) {
            let minutes = (span.1.unwrap_or(now) - span.0).max(0) as f64 / MINUTE as f64;
            features.sessions_28d = features.sessions_28d.saturating_add(1);
            if within(span.0, WEEK) {
                features.sessions_7d = features.sessions_7d.saturating_add(1);
                features.sessions_24h = features.sessions_24h.saturating_add(i64::from(within(span.0, DAY)));
                minutes_7d += minutes;
            } else {
                earlier = (earlier.0 + minutes, earlier.1.saturating_add(1));
            }
        }
        if features.sessions_7d > 0 {
            features.avg_session_minutes_7d = minutes_7d / features.sessions_7d as f64;
        }
        features.session_minutes_trend = if features.sessions_7d == 0 || earlier.1 == 0 || earlier.0 <= 0.0 {
            1.0
        } else {
            features.avg_session_minutes_7d / (earlier.0 / earlier.1 as f64)
        };
        features.session_rate_trend =
            session_rate_trend(features.sessions_7d, earlier.1, now - state.first_seen.unwrap_or(now));
        features.session_gap_trend = session_gap_trend(state, features.days_between_sessions, now);

        // Launches of the last 30 days by category, and whether any was in the
        // last 7: a player plays few categories, so a list beats a map.
        let mut launches_30d: Vec<(&str, i64, bool)> = Vec::new();
        for (t, category) in state.launches.iter().filter(|l| within(l.0, MONTH)) {
            let this_week = within(*t, WEEK);
            match launches_30d.iter_mut().find(|(name, ..)| name == category) {
                Some((_, launches, week)) => (*launches, *week) = (launches.saturating_add(1), *week || this_week),
                None => launches_30d.push((category, 1, this_week)),
            }
        }
        // The most launched; of those launched as often, the first by name.
        features.favourite_category = launches_30d
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(category, ..)| (*category).to_owned());
        features.categories_7d = launches_30d.iter().filter(|(.., week)| *week).count() as i64;
        features
    }
}
