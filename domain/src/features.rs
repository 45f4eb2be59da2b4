//! The per-player feature fold: the one piece of code behind the live read model,
//! training-set replay and point-in-time queries.
//!
//! Times are event times (the CloudEvent `time`) in whole milliseconds since the
//! Unix epoch, never the wall clock. A window of length `w` holds what happened
//! after `last_seen - w`, `last_seen` being the latest event time seen so far.
//!
//! Every sum and count saturates at the `i64` bounds instead of wrapping
//! (validation keeps each amount at most [`MAX_AMOUNT`](crate::MAX_AMOUNT)).

mod bets;
mod open_bets;
#[cfg(test)]
mod properties;
mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{EventData, LimitKind, PlayerEvent};

pub use snapshot::{FeatureValue, Features};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// The longest window any feature looks back over.
const MONTH: i64 = 30 * DAY;
const WEEK: i64 = 7 * DAY;
/// How far back session starts are kept: a player's own rhythm, against which the last week is read.
const FOUR_WEEKS: i64 = 28 * DAY;
/// How soon after a losing settlement a deposit counts as chasing the loss.
const DEPOSIT_AFTER_LOSS: i64 = 10 * MINUTE;

/// The fold's whole state for one player: resumable from its serialized form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlayerFeatures {
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    deposit_total: i64,
    deposit_count: i64,
    withdrawal_total: i64,
    bet_count: i64,
    stake_total: i64,
    payout_total: i64,
    /// The open session, or the last one when none is open.
    session: Option<Session>,
    /// The session start before the latest one.
    previous_session_start: Option<i64>,
    /// Sessions started in the last 28 days.
    sessions: VecDeque<SessionSpan>,
    /// Bets placed in the last 7 days.
    bets: bets::Bets,
    /// Payouts settled in the last 24 hours.
    payouts: VecDeque<Mark>,
    /// Succeeded deposits of the last 7 days.
    deposits: VecDeque<DepositMark>,
    /// Failed deposits of the last 24 hours.
    failed_deposits: VecDeque<i64>,
    /// Cancelled withdrawals of the last 30 days.
    cancelled_withdrawals: VecDeque<i64>,
    /// Limit raises of the last 30 days.
    limit_increases: VecDeque<LimitRaise>,
    /// Games launched in the last 30 days, with their category.
    launches: VecDeque<(i64, String)>,
    /// The latest limit of each kind.
    limits: BTreeMap<String, i64>,
    /// Bets placed and not settled yet (forgotten after 30 days): their stake.
    open_bets: open_bets::OpenBets,
    loss_streak: i64,
    /// Whether the latest settlement lost, until the next bet takes it.
    pending_settlement: Option<bool>,
    last_loss_at: Option<i64>,
    last_win_at: Option<i64>,
    self_excluded_until: Option<i64>,
}

/// A session: when it ran and what was played in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Session {
    started_at: i64,
    ended_at: Option<i64>,
    bets: i64,
    stake: i64,
    payout: i64,
    /// Lifetime bets and stake when the session started.
    bets_before: i64,
    stake_before: i64,
}

/// When a session started and, once known, ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct SessionSpan(i64, Option<i64>);

/// A limit raised: when, and whether it was the deposit limit. Stored as one
/// signed number, the time negated for a deposit limit, so that a state written
/// when only the time was kept still reads (its raises as other limits').
#[derive(Debug, Clone, Copy, PartialEq)]
struct LimitRaise {
    at: i64,
    deposit: bool,
}

impl Serialize for LimitRaise {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.deposit { -self.at } else { self.at }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for LimitRaise {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = i64::deserialize(deserializer)?;
        Ok(Self { at: stored.saturating_abs(), deposit: stored < 0 })
    }
}

/// An amount at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Mark(i64, i64);

/// A bet: time, stake, and what the settlement right before it was.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct BetMark(i64, i64, AfterSettlement);

/// A succeeded deposit: time, amount, whether it came soon after a losing settlement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct DepositMark(i64, i64, bool);

/// What a bet was placed right after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum AfterSettlement {
    /// Not the first bet after a settlement.
    #[serde(rename = "n")]
    Neither,
    /// The first bet after a losing settlement.
    #[serde(rename = "l")]
    Loss,
    /// The first bet after any other settlement.
    #[serde(rename = "o")]
    Other,
}

impl PlayerFeatures {
    /// Folds one event in; events must come in stream order.
    pub fn apply(&mut self, event: &PlayerEvent) {
        let t = event.time.timestamp_millis();
        self.first_seen = Some(self.first_seen.map_or(t, |first| first.min(t)));
        self.last_seen = Some(self.last_seen.map_or(t, |last| last.max(t)));
        match &event.data {
            EventData::SessionStarted { .. } => self.start_session(t),
            EventData::SessionEnded => self.end_session(t),
            EventData::DepositSucceeded { amount } => {
                self.deposit_total = self.deposit_total.saturating_add(amount.amount);
                self.deposit_count = self.deposit_count.saturating_add(1);
                let after_loss = self.last_loss_at.is_some_and(|l| (0..=DEPOSIT_AFTER_LOSS).contains(&(t - l)));
                self.deposits.push_back(DepositMark(t, amount.amount, after_loss));
            }
            EventData::DepositFailed { .. } => self.failed_deposits.push_back(t),
            EventData::WithdrawalRequested { amount } => {
                self.withdrawal_total = self.withdrawal_total.saturating_add(amount.amount);
            }
            EventData::WithdrawalCancelled { .. } => self.cancelled_withdrawals.push_back(t),
            EventData::GameLaunched { category, .. } => self.launches.push_back((t, category.clone())),
            EventData::BetPlaced { bet_id, stake, .. } => self.place_bet(t, bet_id, stake.amount),
            EventData::BetSettled { bet_id, payout, .. } => self.settle_bet(t, bet_id, payout.amount),
            EventData::LimitChanged { kind, amount, .. } => {
                let previous = self.limits.insert(kind.as_str().to_owned(), *amount);
                if previous.is_some_and(|previous| *amount > previous) {
                    self.limit_increases.push_back(LimitRaise { at: t, deposit: matches!(kind, LimitKind::Deposit) });
                }
            }
            EventData::SelfExcluded { duration_days } => {
                self.self_excluded_until = Some(t.saturating_add(i64::from(*duration_days).saturating_mul(DAY)));
            }
            EventData::Registered { .. } | EventData::InterventionResponded { .. } => {}
        }
        self.forget_old();
    }

    fn start_session(&mut self, t: i64) {
        // A start while a session is open ends that one.
        self.end_session(t);
        self.previous_session_start = self.session.as_ref().map(|s| s.started_at);
        self.session = Some(Session {
            started_at: t,
            bets_before: self.bet_count,
            stake_before: self.stake_total,
            ..Session::default()
        });
        self.sessions.push_back(SessionSpan(t, None));
    }

    fn end_session(&mut self, t: i64) {
        if let Some(session) = self.session.as_mut().filter(|s| s.ended_at.is_none()) {
            session.ended_at = Some(t);
            if let Some(span) = self.sessions.back_mut().filter(|span| span.1.is_none()) {
                span.1 = Some(t);
            }
        }
    }

    fn open_session(&mut self) -> Option<&mut Session> {
        self.session.as_mut().filter(|s| s.ended_at.is_none())
    }

    fn place_bet(&mut self, t: i64, bet_id: &str, stake: i64) {
        self.bet_count = self.bet_count.saturating_add(1);
        self.stake_total = self.stake_total.saturating_add(stake);
        if let Some(session) = self.open_session() {
            session.bets = session.bets.saturating_add(1);
            session.stake = session.stake.saturating_add(stake);
        }
        let after = match self.pending_settlement.take() {
            Some(true) => AfterSettlement::Loss,
            Some(false) => AfterSettlement::Other,
            None => AfterSettlement::Neither,
        };
        self.bets.push(BetMark(t, stake, after));
        self.open_bets.insert(bet_id, Mark(t, stake));
    }

    fn settle_bet(&mut self, t: i64, bet_id: &str, payout: i64) {
        self.payout_total = self.payout_total.saturating_add(payout);
        if let Some(session) = self.open_session() {
            session.payout = session.payout.saturating_add(payout);
        }
        self.payouts.push_back(Mark(t, payout));
        // A settlement of a bet never seen placed neither loses nor wins.
        let stake = self.open_bets.remove(bet_id).map(|Mark(_, stake)| stake);
        let lost = stake.is_some_and(|stake| payout < stake);
        if lost {
            self.loss_streak = self.loss_streak.saturating_add(1);
            self.last_loss_at = Some(t);
        } else {
            self.loss_streak = 0;
        }
        if stake.is_some_and(|stake| payout > stake) {
            self.last_win_at = Some(t);
        }
        self.pending_settlement = Some(lost);
    }

    /// Drops what every window has left behind, so the state stays bounded.
    fn forget_old(&mut self) {
        let Some(now) = self.last_seen else { return };
        fn expire<T>(marks: &mut VecDeque<T>, time: impl Fn(&T) -> i64, cutoff: i64) {
            while marks.front().is_some_and(|mark| time(mark) <= cutoff) {
                marks.pop_front();
            }
        }
        expire(&mut self.sessions, |s| s.0, now - FOUR_WEEKS);
        self.bets.expire(now - WEEK);
        expire(&mut self.payouts, |p| p.0, now - DAY);
        expire(&mut self.deposits, |d| d.0, now - WEEK);
        expire(&mut self.failed_deposits, |t| *t, now - DAY);
        expire(&mut self.cancelled_withdrawals, |t| *t, now - MONTH);
        expire(&mut self.limit_increases, |r| r.at, now - MONTH);
        expire(&mut self.launches, |l| l.0, now - MONTH);
        self.open_bets.forget_until(now - MONTH);
    }

    /// How long the open session has lasted as of the latest event, in seconds;
    /// `None` when no session is open.
    pub fn open_session_seconds(&self) -> Option<i64> {
        let session = self.session.as_ref().filter(|s| s.ended_at.is_none())?;
        Some((self.last_seen? - session.started_at).max(0) / 1_000)
    }

    /// The features as of the latest event seen.
    pub fn features(&self) -> Features {
        Features::of(self)
    }
}
