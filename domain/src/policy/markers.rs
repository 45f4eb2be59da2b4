//! Markers: readable rules beside the model, each a known sign of harm in a
//! player's payments, that give a safer-gambling intervention with or without a
//! model (when the model has not already acted).

use crate::Features;

use super::{InterventionKind, Rule};

/// A marker of harm the policy watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// Deposits declined in the last 24 hours (`failed_deposits_24h`).
    DeclinedDeposits,
    /// Deposits of the last 24 hours made within 10 minutes of a losing settlement (`deposits_after_loss_24h`).
    DepositsAfterLoss,
    /// Deposit limit raises in the last 7 days (`deposit_limit_raises_7d`).
    DepositLimitRaised,
}

impl Marker {
    /// Every marker, in the order the policy tries them.
    pub const ALL: [Self; 3] = [Self::DeclinedDeposits, Self::DepositsAfterLoss, Self::DepositLimitRaised];

    /// The feature the marker counts.
    pub fn feature(self) -> &'static str {
        match self {
            Self::DeclinedDeposits => "failed_deposits_24h",
            Self::DepositsAfterLoss => "deposits_after_loss_24h",
            Self::DepositLimitRaised => "deposit_limit_raises_7d",
        }
    }

    /// The count the marker reads from `features`.
    pub fn count(self, features: &Features) -> i64 {
        match self {
            Self::DeclinedDeposits => features.failed_deposits_24h,
            Self::DepositsAfterLoss => features.deposits_after_loss_24h,
            Self::DepositLimitRaised => features.deposit_limit_raises_7d,
        }
    }

    /// The rule a decision by this marker records.
    pub fn rule(self) -> Rule {
        match self {
            Self::DeclinedDeposits => Rule::MarkerDeclinedDeposits,
            Self::DepositsAfterLoss => Rule::MarkerDepositsAfterLoss,
            Self::DepositLimitRaised => Rule::MarkerDepositLimitRaised,
        }
    }

    /// What the marker recommends: a break for chasing losses with deposits, a
    /// deposit limit for the other payment signs.
    pub fn kind(self) -> InterventionKind {
        match self {
            Self::DepositsAfterLoss => InterventionKind::CoolOff,
            Self::DeclinedDeposits | Self::DepositLimitRaised => InterventionKind::DepositLimitSuggestion,
        }
    }

    /// How many of what the marker counts make it fire unless configured otherwise.
    pub const fn default_threshold(self) -> u32 {
        match self {
            Self::DeclinedDeposits | Self::DepositsAfterLoss => 3,
            Self::DepositLimitRaised => 2,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How many of what each marker counts make it fire; 0 turns a marker off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Markers {
    thresholds: [i64; 3],
}

impl Default for Markers {
    /// Three declined deposits in 24 h, three deposits within 10 minutes of a
    /// losing settlement in 24 h, two deposit limit raises in 7 days.
    fn default() -> Self {
        Marker::ALL
            .into_iter()
            .fold(Self { thresholds: [0; 3] }, |m, marker| m.with(marker, marker.default_threshold()))
    }
}

impl Markers {
    /// The same markers with `marker`'s threshold set to `threshold` (0: off).
    pub fn with(mut self, marker: Marker, threshold: u32) -> Self {
        self.thresholds[marker.index()] = i64::from(threshold);
        self
    }

    /// The threshold of `marker` (0: off).
    pub fn threshold(&self, marker: Marker) -> i64 {
        self.thresholds[marker.index()]
    }

    /// The markers `features` meet, in the order of [`Marker::ALL`].
    pub fn met(&self, features: &Features) -> impl Iterator<Item = Marker> {
        Marker::ALL.into_iter().filter(move |m| {
            let threshold = self.threshold(*m);
            threshold > 0 && m.count(features) >= threshold
        })
    }
}

impl Rule {
    /// The marker behind the rule, if a marker made it.
    pub fn marker(self) -> Option<Marker> {
        Marker::ALL.into_iter().find(|m| m.rule() == self)
    }
}
