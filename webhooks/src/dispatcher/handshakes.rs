//! The validation handshakes of subscriptions waiting for one: one at a time
//! per subscription, tried again on the retry schedule while refused.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::worker::Context;
use crate::{Next, Subscription, Validation};

/// When each waiting subscription is next asked, and how often it was.
#[derive(Default)]
pub(super) struct Handshakes {
    state: Arc<Mutex<HashMap<Uuid, Attempts>>>,
}

#[derive(Debug, Clone, Copy)]
struct Attempts {
    made: u32,
    next: Option<DateTime<Utc>>,
}

impl Handshakes {
    /// Starts the subscription's handshake if none runs and its time has come.
    pub(super) fn due(&mut self, subscription: &Subscription, context: &Context) {
        let now = Utc::now();
        {
            let Ok(mut state) = self.state.lock() else { return };
            let attempts = state.entry(subscription.id).or_insert(Attempts { made: 0, next: Some(now) });
            match attempts.next {
                Some(next) if next <= now => attempts.next = None,
                _ => return,
            }
        }
        let (state, context, subscription) = (Arc::clone(&self.state), context.clone(), subscription.clone());
        tokio::spawn(async move {
            let result = context.sender.handshake(&subscription.url).await;
            let now = Utc::now();
            let (validation, error) = match &result {
                Ok(()) => (Validation::Allowed, None),
                Err(error) => (Validation::Pending, Some(error.as_str())),
            };
            if let Err(e) = context.database.set_validation(subscription.id, validation, error, now).await {
                tracing::error!(error = %e, "cannot record a webhook handshake");
            }
            match result {
                Ok(()) => tracing::info!(subscription = %subscription.id, "webhook subscriber allowed delivery"),
                Err(error) => tracing::warn!(subscription = %subscription.id, %error, "webhook handshake refused"),
            }
            if let Ok(mut state) = state.lock()
                && let Some(attempts) = state.get_mut(&subscription.id)
            {
                attempts.made += 1;
                // The schedule's waits, without a window: a subscriber may take its time.
                attempts.next = Some(match context.schedule.next(attempts.made, now, now, None, 0.5) {
                    Next::At(at) => at,
                    Next::DeadLetter => now + chrono::Duration::hours(6),
                });
            }
            context.subscriptions.raise();
        });
    }

    /// Forgets subscriptions that no longer wait for a handshake.
    pub(super) fn forget_all_but(&mut self, current: &HashMap<Uuid, Subscription>) {
        if let Ok(mut state) = self.state.lock() {
            state.retain(|id, _| current.get(id).is_some_and(|s| s.enabled && !s.deliverable()));
        }
    }
}
