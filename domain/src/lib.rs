//! The language of nudge: player events, their CloudEvents 1.0 mapping and their
//! validation, and the per-player feature fold. Pure: no I/O, no async.

mod cloudevent;
mod event;
mod features;
mod money;
mod player;
mod validation;

pub use cloudevent::{EVENT_TYPES, event_uuid};
pub use event::{Channel, Country, EventData, InterventionResponse, LimitKind, LimitPeriod, PlayerEvent};
pub use features::{FeatureValue, Features, PlayerFeatures};
pub use money::{Currency, CurrencyError, Money};
pub use player::{PlayerId, PlayerIdError, STREAM_PREFIX};
pub use validation::{FieldError, ValidationErrors};
