//! A handover folds every event once: when a second projection joins, the
//! first hands it its share of the partitions and folds on from where its own
//! commits got to, not from where it took its leases.
//!
//! A file of its own: it installs the process's metrics recorder to count the
//! events each commit folded.

#![allow(clippy::unwrap_used)]

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use domain::PlayerEvent;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use ml::ActiveModel;
use projections::{FeatureProjection, ProjectionConfig, ReadModel};
use simulator::Population;
use store::{EventStore, testing::PgSchema};
use tokio_util::sync::CancellationToken;

const TTL: Duration = Duration::from_secs(1);

/// The events the commits since the last snapshot folded (a snapshot takes
/// the counts it reads).
fn folded(snapshotter: &Snapshotter) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "nudge_projection_events_total")
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

async fn start(
    store: &Arc<dyn EventStore>,
    read_model: &ReadModel,
    id: &str,
    stop: &CancellationToken,
) -> FeatureProjection {
    let config = ProjectionConfig { lease_ttl: TTL, instance: id.to_owned(), ..ProjectionConfig::default() };
    FeatureProjection::start(store.clone(), read_model.clone(), config, ActiveModel::default(), stop.clone())
        .await
        .unwrap()
}

async fn caught_up(projection: &FeatureProjection, store: &dyn EventStore) {
    let head = store.head().await.unwrap();
    assert!(projection.wait_for(head, Duration::from_secs(60)).await, "the projection did not reach {head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_projection_that_hands_partitions_over_folds_each_event_once() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let schema = PgSchema::new().await.unwrap();
    let store: Arc<dyn EventStore> = Arc::new(schema.open().await.unwrap());
    let read_model = ReadModel::connect(&schema.url()).await.unwrap();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let population = Population::new(120, 5, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap());
    let events: Vec<PlayerEvent> = (0..3).flat_map(|day| population.day(day)).collect();
    let (first, second) = events.split_at(events.len() / 2);

    // One projection alone folds the first half.
    Population::append(store.as_ref(), first).await.unwrap();
    let one = start(&store, &read_model, "one", &stop).await;
    caught_up(&one, store.as_ref()).await;
    let alone = folded(&snapshotter);
    assert_eq!(alone, store.head().await.unwrap());

    // A second joins; the first hands it its share, and both fold the rest.
    let two = start(&store, &read_model, "two", &stop).await;
    let mut shared = false;
    for _ in 0..1_500 {
        let (_, _, leases) = read_model.cluster(TTL).await.unwrap();
        let owners: BTreeSet<Option<String>> = leases.into_iter().map(|l| l.owner).collect();
        if owners == BTreeSet::from([Some("one".to_owned()), Some("two".to_owned())]) {
            shared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(shared, "the partitions were never shared by the two");
    Population::append(store.as_ref(), second).await.unwrap();
    caught_up(&one, store.as_ref()).await;
    caught_up(&two, store.as_ref()).await;

    let total = alone + folded(&snapshotter);
    assert_eq!(total, store.head().await.unwrap(), "some events were folded more than once");
}
