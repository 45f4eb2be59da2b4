//! What the models read: the numeric features of a [`Features`] snapshot, in a
//! fixed order that the model artifact names.

use domain::Features;

/// The number of model inputs.
pub const INPUTS: usize = 43;

/// The name of each model input, in order: a feature name, or for the few
/// derived ones a name of its own.
pub const INPUT_NAMES: [&str; INPUTS] = [
    "deposit_total",
    "deposit_count",
    "withdrawal_total",
    "bet_count",
    "stake_total",
    "payout_total",
    "net_loss",
    "in_session",
    "session_seconds",
    "session_bet_count",
    "session_stake",
    "session_net_loss",
    "sessions_24h",
    "stake_1h",
    "bets_1h",
    "net_loss_1h",
    "stake_24h",
    "bets_24h",
    "net_loss_24h",
    "deposit_amount_24h",
    "deposit_count_24h",
    "deposit_amount_7d",
    "deposit_count_7d",
    "loss_streak",
    "deposits_after_loss_24h",
    "failed_deposits_24h",
    "cancelled_withdrawals_30d",
    "night_bet_share_7d",
    "stake_escalation",
    "loss_chasing",
    "limit_increases_30d",
    "minutes_since_last_win",
    "sessions_7d",
    "avg_session_minutes_7d",
    "days_between_sessions",
    "sessions_28d",
    "session_rate_trend",
    "session_minutes_trend",
    "session_gap_trend",
    "categories_7d",
    "has_deposit_limit",
    "account_days",
    "self_excluded",
];

/// Inputs the harm score never falls with, whatever the training data say: more
/// declined deposits, deposits chasing a loss or raised limits never make a
/// player look safer.
pub const HARM_MONOTONE: [&str; 3] = ["failed_deposits_24h", "deposits_after_loss_24h", "limit_increases_30d"];

/// The indices of [`HARM_MONOTONE`] among the inputs.
pub fn monotone_inputs() -> Vec<usize> {
    HARM_MONOTONE.iter().filter_map(|name| INPUT_NAMES.iter().position(|n| n == name)).collect()
}

/// The model inputs of a snapshot, as plain values. `minutes_since_last_win` of
/// a player who never won is their account age in minutes; `days_between_sessions`
/// before a second session is 0.
pub fn inputs(f: &Features) -> [f64; INPUTS] {
    let (first, last) = (f.first_seen.map(|t| t.timestamp_millis()), f.last_seen.map(|t| t.timestamp_millis()));
    let age_minutes = match (first, last) {
        (Some(first), Some(last)) => (last - first) / 60_000,
        _ => 0,
    };
    let self_excluded = match (f.self_excluded_until, f.last_seen) {
        (Some(until), Some(last)) => until > last,
        _ => false,
    };
    let int = |v: i64| v as f64;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    [
        int(f.deposit_total),
        int(f.deposit_count),
        int(f.withdrawal_total),
        int(f.bet_count),
        int(f.stake_total),
        int(f.payout_total),
        int(f.net_loss),
        flag(f.in_session),
        int(f.session_seconds),
        int(f.session_bet_count),
        int(f.session_stake),
        int(f.session_net_loss),
        int(f.sessions_24h),
        int(f.stake_1h),
        int(f.bets_1h),
        int(f.net_loss_1h),
        int(f.stake_24h),
        int(f.bets_24h),
        int(f.net_loss_24h),
        int(f.deposit_amount_24h),
        int(f.deposit_count_24h),
        int(f.deposit_amount_7d),
        int(f.deposit_count_7d),
        int(f.loss_streak),
        int(f.deposits_after_loss_24h),
        int(f.failed_deposits_24h),
        int(f.cancelled_withdrawals_30d),
        f.night_bet_share_7d,
        f.stake_escalation,
        f.loss_chasing,
        int(f.limit_increases_30d),
        int(f.minutes_since_last_win.unwrap_or(age_minutes)),
        int(f.sessions_7d),
        f.avg_session_minutes_7d,
        f.days_between_sessions.unwrap_or(0.0),
        int(f.sessions_28d),
        f.session_rate_trend,
        f.session_minutes_trend,
        f.session_gap_trend,
        int(f.categories_7d),
        flag(f.deposit_limit.is_some()),
        age_minutes as f64 / (24.0 * 60.0),
        flag(self_excluded),
    ]
}

/// Compresses heavy tails before scaling: sign(x)·ln(1 + |x|).
pub fn compress(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_has_a_unique_name_and_feature_names_match() {
        let mut names = INPUT_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), INPUTS);
        assert_eq!(monotone_inputs().len(), HARM_MONOTONE.len());
        let derived = ["has_deposit_limit", "account_days", "self_excluded"];
        for name in INPUT_NAMES.iter().filter(|n| !derived.contains(n)) {
            assert!(Features::NAMES.contains(name), "{name} is no feature");
        }
    }

    #[test]
    fn inputs_follow_the_names() {
        let features = Features { bet_count: 7, loss_chasing: 1.5, in_session: true, ..Features::default() };
        let values = inputs(&features);
        let at = |name: &str| values[INPUT_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!((at("bet_count"), at("loss_chasing"), at("in_session")), (7.0, 1.5, 1.0));
        assert_eq!(compress(-(std::f64::consts::E - 1.0)), -1.0);
    }
}
