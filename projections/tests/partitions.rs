//! What the read-model database records once, for every instance sharing it:
//! the number of logical partitions, fixed since, and the peers' secret.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU32;

use projections::{ProjectionError, ReadModel};
use store::testing::{PgSchema, TempSqlite};

fn count(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

async fn recorded_at_the_first_start_and_fixed_since(url: &str, other: &str) {
    let read_model = ReadModel::connect(url).await.unwrap();
    assert_eq!(read_model.logical_partitions(count(16)).await.unwrap().get(), 16);
    assert_eq!(read_model.logical_partitions(None).await.unwrap().get(), 16);
    assert_eq!(read_model.logical_partitions(count(16)).await.unwrap().get(), 16);
    let refused = read_model.logical_partitions(count(64)).await.unwrap_err();
    assert!(matches!(refused, ProjectionError::PartitionsFixed { .. }), "{refused}");
    assert!(refused.to_string().contains("made with 16 partitions"), "{refused}");

    let fresh = ReadModel::connect(other).await.unwrap();
    assert_eq!(fresh.logical_partitions(None).await.unwrap().get(), 64);
    assert_eq!(fresh.logical_partitions(count(64)).await.unwrap().get(), 64);

    // Another instance on the same database gets the same secret; another database, another.
    let secret = read_model.peer_secret().await.unwrap();
    assert_eq!(secret.len(), 64, "{secret}");
    assert_eq!(ReadModel::connect(url).await.unwrap().peer_secret().await.unwrap(), secret);
    assert_ne!(fresh.peer_secret().await.unwrap(), secret);
}

#[tokio::test]
async fn sqlite_records_the_partitions_once() {
    let (db, other) = (TempSqlite::new().unwrap(), TempSqlite::new().unwrap());
    recorded_at_the_first_start_and_fixed_since(&db.url(), &other.url()).await;
}

#[tokio::test]
async fn postgres_records_the_partitions_once() {
    let (schema, other) = (PgSchema::new().await.unwrap(), PgSchema::new().await.unwrap());
    recorded_at_the_first_start_and_fixed_since(&schema.url(), &other.url()).await;
}
