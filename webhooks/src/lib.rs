//! nudge's webhooks: recommendations delivered to subscribers as CloudEvents,
//! signed as the Standard Webhooks specification says, from the outbox the
//! projection writes, at least once and in order per player.

mod cidr;
mod client;
mod cloudevent;
mod database;
mod dispatcher;
mod error;
mod outbox;
mod retry;
mod secret;
mod signature;
mod special;
mod subscription;
mod target;

pub use cidr::{Cidr, CidrError};
pub use client::{Answer, ClientConfig, MAX_RESPONSE_BYTES, Sender};
pub use cloudevent::{
    BATCH_CONTENT_TYPE, Binary, EVENT_TYPE, EVENT_TYPES, Event, STRUCTURED_CONTENT_TYPE, TEST_EVENT_TYPE, batch,
    binary, structured,
};
pub use database::deliveries::{Delivery, Status as DeliveryStatus};
pub use database::{Claimed, Database, DeliveryQuery, Outcome, Settlement};
pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use error::WebhookError;
pub use outbox::{Outbox, Queued, Recommendations};
pub use retry::{Next, RetrySchedule, Waits, parse_duration, parse_retry_after};
pub use secret::{SecretError, SigningSecret};
pub use signature::{SignatureError, Signed, sign, verify};
pub use special::{SPECIAL_RANGES, Special, SpecialRange, special_range};
pub use subscription::{Mode, NewSubscription, ROTATION_OVERLAP, Subscription, SubscriptionPatch, Validation, rotate};
pub use target::{TargetError, TargetPolicy, check_target, masked_url};
