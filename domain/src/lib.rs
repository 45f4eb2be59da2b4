//! The language of nudge: player events, their CloudEvents 1.0 mapping and their
//! validation, the per-player feature fold and the intervention policy. Pure: no
//! I/O, no async.

mod cloudevent;
mod event;
mod event_time;
mod features;
mod hex;
mod money;
mod partition;
mod player;
mod policy;
mod recommendation;
mod timestamp;
mod trace_context;
mod validation;

pub use cloudevent::event_uuid;
pub use event::{Channel, Country, EventData, EventType, InterventionResponse, LimitKind, LimitPeriod, PlayerEvent};
pub use event_time::EventTimeWindow;
pub use features::{FeatureValue, Features, PlayerFeatures};
pub use hex::to_hex;
pub use money::{Currency, CurrencyError, MAX_AMOUNT, Money};
pub use partition::{owner_of, partition_of};
pub use player::{PlayerId, PlayerIdError, STREAM_PREFIX};
pub use policy::{
    Assessment, Cooldowns, Decision, InterventionKind, LONG_SESSION_SECONDS, MARKETING_BLOCK_DAYS, Marker, Markers,
    Policy, Recent, Rule, Situation,
};
pub use recommendation::{Reason, Recommendation, Scores, Status, TriggeredBy, recommendation_id};
pub use timestamp::parse_timestamp;
pub use trace_context::{TRACEPARENT, TRACESTATE, TraceContext, TraceParent};
pub use validation::{FieldError, ValidationErrors};
