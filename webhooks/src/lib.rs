//! nudge's webhooks: recommendations delivered to subscribers as CloudEvents,
//! signed as the Standard Webhooks specification says.

mod cloudevent;
mod secret;
mod signature;
mod target;

pub use cloudevent::{BATCH_CONTENT_TYPE, Binary, EVENT_TYPE, STRUCTURED_CONTENT_TYPE, batch, binary, structured};
pub use secret::{SecretError, SigningSecret};
pub use signature::{SignatureError, Signed, sign, verify};
pub use target::{TargetError, check_target, is_private};
