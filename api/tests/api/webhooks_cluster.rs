//! Webhooks from two instances on one PostgreSQL database: the requests in
//! flight to a subscriber across both stay within `--webhook-concurrency`,
//! and each validation handshake is sent by one of them.

use std::time::Duration;

use serde_json::{Value, json};
use webhooks::DispatcherConfig;

use crate::{
    helpers::{TestApp, quick_webhooks},
    receiver::Receiver,
    webhooks::{check_arrivals, long_session, post_projected, recommendations, subscribe, webhook_until},
};

/// The tests' quick schedule, with a timeout no slow machine reaches: an
/// attempt given up on while the receiver still holds it would count twice.
fn patient() -> DispatcherConfig {
    let mut config = quick_webhooks();
    config.client.timeout = Duration::from_secs(30);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_bound_holds_across_instances() {
    let (first, second) = TestApp::postgres_pair_with(DispatcherConfig { concurrency: 2, ..patient() }).await;
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(100));
    let (id, secret) = subscribe(&first, &receiver, json!({"handshake": false})).await;
    for p in 0..8 {
        let app = if p % 2 == 0 { &first } else { &second };
        post_projected(app, long_session(&format!("c{p}"), 0, 5)).await;
    }
    let expected = recommendations(&first).await;
    assert!(expected.len() > 16, "too few recommendations to fill the slots: {}", expected.len());
    receiver.wait_until("every recommendation", |_| receiver.taken().len() == expected.len()).await;
    check_arrivals(&receiver.arrivals(), &expected, &secret, &[]);
    assert!(receiver.most_in_flight() <= 2, "{} requests were in flight at once", receiver.most_in_flight());
    // The last settlement lands a moment after the receiver has the request.
    let pending = format!("/v1/webhooks/{id}/deliveries?status=pending");
    for _ in 0..1_200 {
        let listed: Value = second.get(&pending).await.json().await.unwrap();
        if listed["deliveries"] == json!([]) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries still pending two minutes after the receiver took them all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_sends_each_handshake() {
    let (first, second) = TestApp::postgres_pair_with(patient()).await;
    let receiver = Receiver::start().await;
    // Three times as long as the instances take to look at the subscriptions
    // again: an instance that did not see the other's claim would send its
    // own meanwhile.
    receiver.delay_handshakes(Duration::from_millis(600));
    let (id, _) = subscribe(&first, &receiver, json!({"handshake": true})).await;
    let allowed = webhook_until(&second, &id, "allowed", |w| w["validation"] == "allowed").await;
    assert_eq!(receiver.handshakes(), 1, "{allowed}");

    receiver.allow_handshake(false);
    receiver.delay_handshakes(Duration::ZERO);
    let url = format!("{}/v1/webhooks/{id}", second.address);
    let patch = json!({"url": format!("{}?v=2", receiver.url)});
    let moved: Value = second.client.patch(url).json(&patch).send().await.unwrap().json().await.unwrap();
    assert_eq!(moved["validation"], "pending", "{moved}");
    let refused = webhook_until(&first, &id, "a refused handshake", |w| w["validation_error"].is_string()).await;
    assert_eq!(refused["validation"], "pending", "{refused}");
    receiver.allow_handshake(true);
    webhook_until(&first, &id, "allowed again", |w| w["validation"] == "allowed").await;
}
