//! Player events as typed data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{Currency, Money, PlayerId};

/// A validated player event: a CloudEvent of one of the player event types.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerEvent {
    /// CloudEvent `id`, unique within `source`.
    pub id: String,
    /// CloudEvent `source`: the system that saw it happen.
    pub source: String,
    /// CloudEvent `subject`: whose event it is.
    pub player_id: PlayerId,
    /// CloudEvent `time`: when it happened.
    pub time: DateTime<Utc>,
    /// The type and its typed data.
    pub data: EventData,
    /// Fields of `data` nudge does not know, kept as sent.
    pub extra: Map<String, Value>,
    /// CloudEvent extension attributes (strings, integers, booleans), kept as sent.
    pub extensions: BTreeMap<String, Value>,
}

impl PlayerEvent {
    /// The CloudEvent `type`, e.g. `player.bet.placed`.
    pub fn event_type(&self) -> EventType {
        self.data.event_type()
    }

    /// The name of the player's stream.
    pub fn stream_name(&self) -> String {
        self.player_id.stream_name()
    }

    /// The deterministic event id: UUIDv5 of (`source`, `id`).
    pub fn event_uuid(&self) -> Uuid {
        crate::event_uuid(&self.source, &self.id)
    }
}

/// Defines an enum written as lower-case strings, with its parser.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value as written in events.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Reads a value as written in events.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(
    /// The CloudEvent `type` of a player event: every type nudge accepts, named
    /// here only, for reading, writing and the API's schema alike.
    EventType {
        /** `data`: country, currency, birth year. */ Registered => "player.registered",
        /** `data`: channel. */ SessionStarted => "player.session.started",
        /** No `data`. */ SessionEnded => "player.session.ended",
        /** `data`: amount, currency. */ DepositSucceeded => "player.deposit.succeeded",
        /** `data`: amount, currency, reason. */ DepositFailed => "player.deposit.failed",
        /** `data`: amount, currency. */ WithdrawalRequested => "player.withdrawal.requested",
        /** `data`: amount, currency. */ WithdrawalCancelled => "player.withdrawal.cancelled",
        /** `data`: game, category. */ GameLaunched => "player.game.launched",
        /** `data`: bet, game, stake, currency. */ BetPlaced => "player.bet.placed",
        /** `data`: bet, game, payout, currency. */ BetSettled => "player.bet.settled",
        /** `data`: kind, amount, period. */ LimitChanged => "player.limit.changed",
        /** `data`: duration in days. */ SelfExcluded => "player.self_excluded",
        /** `data`: recommendation, response. */ InterventionResponded => "player.intervention.responded",
    }
);
string_enum!(
    /// Where a session takes place.
    Channel { /** A browser. */ Web => "web", /** The mobile app. */ Mobile => "mobile", /** A shop terminal. */ Retail => "retail" }
);
string_enum!(
    /// What a responsible-gambling limit bounds.
    LimitKind { /** Money deposited. */ Deposit => "deposit", /** Money lost. */ Loss => "loss", /** Minutes played. */ Session => "session" }
);
string_enum!(
    /// The period a limit applies to.
    LimitPeriod { /** A day. */ Day => "day", /** A week. */ Week => "week", /** A month. */ Month => "month" }
);
string_enum!(
    /// A player's answer to an intervention.
    InterventionResponse { /** Taken up. */ Accepted => "accepted", /** Closed. */ Dismissed => "dismissed", /** Not answered. */ Ignored => "ignored" }
);

/// An ISO 3166-1 alpha-2 country code: two upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country([u8; 2]);

impl Country {
    /// Checks and wraps a country code.
    pub fn parse(s: &str) -> Option<Self> {
        match s.as_bytes() {
            &[a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Some(Self([a, b])),
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }
}

/// The type of a player event and its typed data.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    /// [`EventType::Registered`]
    Registered {
        /// Country of residence.
        country: Country,
        /// Account currency.
        currency: Currency,
        /// Year of birth, when known.
        birth_year: Option<u16>,
    },
    /// [`EventType::SessionStarted`]
    SessionStarted {
        /// Where.
        channel: Channel,
    },
    /// [`EventType::SessionEnded`]
    SessionEnded,
    /// [`EventType::DepositSucceeded`]
    DepositSucceeded {
        /// How much.
        amount: Money,
    },
    /// [`EventType::DepositFailed`]
    DepositFailed {
        /// How much was tried.
        amount: Money,
        /// Why it failed.
        reason: String,
    },
    /// [`EventType::WithdrawalRequested`]
    WithdrawalRequested {
        /// How much.
        amount: Money,
    },
    /// [`EventType::WithdrawalCancelled`]
    WithdrawalCancelled {
        /// How much.
        amount: Money,
    },
    /// [`EventType::GameLaunched`]
    GameLaunched {
        /// Which game.
        game_id: String,
        /// Its category, e.g. `slots`.
        category: String,
    },
    /// [`EventType::BetPlaced`]
    BetPlaced {
        /// The bet.
        bet_id: String,
        /// The game.
        game_id: String,
        /// The stake, greater than zero.
        stake: Money,
    },
    /// [`EventType::BetSettled`]
    BetSettled {
        /// The bet.
        bet_id: String,
        /// The game.
        game_id: String,
        /// What was paid out: zero for a lost bet.
        payout: Money,
    },
    /// [`EventType::LimitChanged`]
    LimitChanged {
        /// What the limit bounds.
        kind: LimitKind,
        /// The new limit: minor units, or minutes for a session limit.
        amount: i64,
        /// Its period.
        period: LimitPeriod,
    },
    /// [`EventType::SelfExcluded`]
    SelfExcluded {
        /// For how long.
        duration_days: u32,
    },
    /// [`EventType::InterventionResponded`]
    InterventionResponded {
        /// The recommendation answered.
        recommendation_id: Uuid,
        /// The answer.
        response: InterventionResponse,
    },
}

impl EventData {
    /// The CloudEvent `type`.
    pub fn event_type(&self) -> EventType {
        match self {
            Self::Registered { .. } => EventType::Registered,
            Self::SessionStarted { .. } => EventType::SessionStarted,
            Self::SessionEnded => EventType::SessionEnded,
            Self::DepositSucceeded { .. } => EventType::DepositSucceeded,
            Self::DepositFailed { .. } => EventType::DepositFailed,
            Self::WithdrawalRequested { .. } => EventType::WithdrawalRequested,
            Self::WithdrawalCancelled { .. } => EventType::WithdrawalCancelled,
            Self::GameLaunched { .. } => EventType::GameLaunched,
            Self::BetPlaced { .. } => EventType::BetPlaced,
            Self::BetSettled { .. } => EventType::BetSettled,
            Self::LimitChanged { .. } => EventType::LimitChanged,
            Self::SelfExcluded { .. } => EventType::SelfExcluded,
            Self::InterventionResponded { .. } => EventType::InterventionResponded,
        }
    }
}
