//! The validation handshakes of subscriptions waiting for one. Each attempt
//! is claimed in the subscription's row first, so that one instance sends it
//! however many dispatch; a refused one is tried again on the retry schedule.

use super::worker::Context;
use crate::{Next, Subscription, Validation};
use chrono::Utc;

/// Sends the subscription's handshake if this instance claims its turn.
pub(super) fn due(subscription: &Subscription, context: &Context) {
    let (context, subscription) = (context.clone(), subscription.clone());
    tokio::spawn(async move {
        let now = Utc::now();
        let lease = context.sender.leased_until(now);
        let made = match context.database.claim_handshake(subscription.id, now, lease).await {
            Ok(Some(made)) => made,
            Ok(None) => return,
            Err(error) => {
                return tracing::error!(subscription = %subscription.id, %error, "cannot claim a webhook handshake");
            }
        };
        let result = context.sender.handshake(&subscription.url).await;
        let now = Utc::now();
        let (validation, error) = match &result {
            Ok(()) => (Validation::Allowed, None),
            Err(error) => (Validation::Pending, Some(error.as_str())),
        };
        // The schedule's waits, without a window: a subscriber may take its time.
        let next = match context.schedule.next(made + 1, now, now, None, 0.5) {
            Next::At(at) => at,
            Next::DeadLetter => now + chrono::Duration::hours(6),
        };
        let recorded =
            context.database.set_validation(subscription.id, &subscription.url, validation, error, now, next);
        if let Err(e) = recorded.await {
            tracing::error!(error = %e, "cannot record a webhook handshake");
        }
        match result {
            Ok(()) => tracing::info!(subscription = %subscription.id, "webhook subscriber allowed delivery"),
            Err(error) => tracing::warn!(subscription = %subscription.id, %error, "webhook handshake refused"),
        }
        context.subscriptions.raise();
    });
}
