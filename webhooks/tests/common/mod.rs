//! What the webhook database tests share.

use chrono::Utc;
use webhooks::{Database, EVENT_TYPE, Mode, NewSubscription, SigningSecret, Subscription};

/// A structured-mode subscription to recommendations, stored in `database`.
pub async fn subscription(database: &Database) -> Subscription {
    let subscription = NewSubscription {
        url: "https://192.0.2.1/hooks".to_owned(),
        types: vec![EVENT_TYPE.to_owned()],
        kinds: None,
        mode: Mode::Structured,
        description: String::new(),
        handshake: false,
    }
    .create(SigningSecret::generate().expect("a signing secret"), Utc::now());
    database.insert_subscription(&subscription).await.expect("the subscription stored");
    subscription
}
