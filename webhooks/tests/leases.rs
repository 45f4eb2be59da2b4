//! A claimed delivery's lease, on the real databases: in flight it is no
//! one's to claim and shows when it is tried again; once the lease ends (its
//! attempt crashed) it is due again; settled, its lease is gone.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use projections::ReadModel;
use serde_json::json;
use store::testing::{PgSchema, TempSqlite};
use webhooks::{DeliveryStatus, EVENT_TYPE, Event, Outcome, Settlement};

mod common;
use common::subscription;

async fn leases_hold(read_model: ReadModel) {
    let database = read_model.webhooks();
    let subscription = subscription(&database).await;
    let event = Event {
        id: "e1".to_owned(),
        event_type: EVENT_TYPE.to_owned(),
        subject: "p".to_owned(),
        time: Utc::now(),
        data: json!({"kind": "reality_check"}),
        traceparent: None,
    };
    let start = Utc::now();
    let queued = database.enqueue(subscription.id, &event, start).await.unwrap();
    let lease = start + Duration::seconds(30);
    let claimed = database.claim(subscription.id, 10, start, lease).await.unwrap();
    assert_eq!(claimed.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(queued.id, 1)]);

    let in_flight = database.delivery(subscription.id, queued.id).await.unwrap().unwrap();
    assert_eq!(in_flight.next_attempt_at.map(|t| t.timestamp_millis()), Some(lease.timestamp_millis()));
    let before_the_end = lease - Duration::milliseconds(1);
    assert!(database.claim(subscription.id, 10, before_the_end, before_the_end).await.unwrap().is_empty());

    // The attempt never settled: at the lease's end the delivery is due again.
    let again = database.claim(subscription.id, 10, lease, lease + Duration::seconds(30)).await.unwrap();
    assert_eq!(again.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(queued.id, 2)]);

    let retry_at = lease + Duration::seconds(5);
    let outcome = Outcome {
        seq: again[0].seq,
        subscription: subscription.id,
        player_id: "p".to_owned(),
        settlement: Settlement::RetryAt(retry_at),
        status: Some(503),
        error: None,
        latency_ms: 3,
        at: lease,
    };
    database.settle(&[outcome]).await.unwrap();
    let waiting = database.delivery(subscription.id, queued.id).await.unwrap().unwrap();
    assert_eq!((waiting.status, waiting.attempts, waiting.last_status), (DeliveryStatus::Pending, 2, Some(503)));
    assert_eq!(waiting.next_attempt_at.map(|t| t.timestamp_millis()), Some(retry_at.timestamp_millis()));
    assert_eq!(database.claim(subscription.id, 10, retry_at, retry_at + Duration::seconds(30)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_lease_keeps_a_delivery_in_flight_until_it_ends_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    leases_hold(ReadModel::connect(&schema.url()).await.unwrap()).await;
}

#[tokio::test]
async fn a_lease_keeps_a_delivery_in_flight_until_it_ends_on_sqlite() {
    let file = TempSqlite::new().unwrap();
    leases_hold(ReadModel::connect(&file.url()).await.unwrap()).await;
}
