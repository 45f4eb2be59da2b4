//! The intervention policy's flags: cooldowns, markers and the marketing block.

use std::time::Duration;

use clap::Args;
use domain::{Cooldowns, InterventionKind, Marker, Markers, Policy};

use crate::durations::{DAY, MINUTE, between};

/// The intervention policy's settings.
#[derive(Debug, Args, Clone)]
pub struct PolicyArgs {
    /// How long after a reality check before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_REALITY_CHECK", default_value = "1h", value_parser = cooldown)]
    pub cooldown_reality_check: Duration,
    /// How long after a deposit limit suggestion before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_DEPOSIT_LIMIT_SUGGESTION", default_value = "1d", value_parser = cooldown)]
    pub cooldown_deposit_limit_suggestion: Duration,
    /// How long after a cool-off offer before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_COOL_OFF", default_value = "1d", value_parser = cooldown)]
    pub cooldown_cool_off: Duration,
    /// How long after a retention offer before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_RETENTION_OFFER", default_value = "1d", value_parser = cooldown)]
    pub cooldown_retention_offer: Duration,
    /// How long after a game recommendation before another goes to the same player.
    #[arg(long, env = "NUDGE_COOLDOWN_GAME_RECOMMENDATION", default_value = "1d", value_parser = cooldown)]
    pub cooldown_game_recommendation: Duration,
    /// Days after a safer-gambling intervention during which the player gets no marketing kind.
    #[arg(long, env = "NUDGE_MARKETING_BLOCK_DAYS", default_value_t = domain::MARKETING_BLOCK_DAYS,
          value_parser = clap::value_parser!(u32).range(0..=3_650))]
    pub marketing_block_days: u32,
    /// Declined deposits in 24 hours that fire the `marker:declined_deposits` rule (0: off).
    #[arg(long, env = "NUDGE_MARKER_DECLINED_DEPOSITS", default_value_t = Marker::DeclinedDeposits.default_threshold(),
          value_parser = clap::value_parser!(u32).range(0..=1_000))]
    pub marker_declined_deposits: u32,
    /// Deposits within 10 minutes of a losing settlement in 24 hours that fire `marker:deposits_after_loss` (0: off).
    #[arg(long, env = "NUDGE_MARKER_DEPOSITS_AFTER_LOSS", default_value_t = Marker::DepositsAfterLoss.default_threshold(),
          value_parser = clap::value_parser!(u32).range(0..=1_000))]
    pub marker_deposits_after_loss: u32,
    /// Deposit limit raises in 7 days that fire `marker:deposit_limit_raised` (0: off).
    #[arg(long, env = "NUDGE_MARKER_DEPOSIT_LIMIT_RAISES", default_value_t = Marker::DepositLimitRaised.default_threshold(),
          value_parser = clap::value_parser!(u32).range(0..=1_000))]
    pub marker_deposit_limit_raises: u32,
}

impl PolicyArgs {
    /// The policy with the configured cooldowns, markers and marketing block.
    pub fn policy(&self) -> Policy {
        let cooldowns = [
            (InterventionKind::RealityCheck, self.cooldown_reality_check),
            (InterventionKind::DepositLimitSuggestion, self.cooldown_deposit_limit_suggestion),
            (InterventionKind::CoolOff, self.cooldown_cool_off),
            (InterventionKind::RetentionOffer, self.cooldown_retention_offer),
            (InterventionKind::GameRecommendation, self.cooldown_game_recommendation),
        ];
        let cooldowns = cooldowns
            .into_iter()
            .fold(Cooldowns::default(), |c, (kind, d)| c.with(kind, i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
        let markers = Markers::default()
            .with(Marker::DeclinedDeposits, self.marker_declined_deposits)
            .with(Marker::DepositsAfterLoss, self.marker_deposits_after_loss)
            .with(Marker::DepositLimitRaised, self.marker_deposit_limit_raises);
        Policy::new(cooldowns).with_markers(markers).with_marketing_block(self.marketing_block_days)
    }
}

/// A cooldown: up to a year; a plain number in minutes is deprecated.
fn cooldown(raw: &str) -> Result<Duration, String> {
    between(Duration::ZERO, 365 * DAY, Some(MINUTE))(raw)
}
