//! A batch's recommendations reach the webhook outbox once each: a batch
//! committed again (a replay) queues only those it had not stored, whatever
//! the number of statements its rows are written in.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use projections::{Changes, ReadModel, RecommendationQuery, Table};
use store::testing::{PgSchema, TempSqlite};

/// More than one multi-row statement holds.
const RECOMMENDATIONS: u64 = 1_200;

async fn a_batch_committed_again_queues_each_recommendation_once(read_model: ReadModel) {
    let fence = read_model.claim_all(Table::Live, "test", Duration::from_secs(60)).await.unwrap();
    let recommendations: Vec<_> = (1..=RECOMMENDATIONS)
        .map(|position| simulator::recommendation(&format!("player-{}", position % 7), position, "/test"))
        .collect();
    let first = Changes { recommendations: recommendations[..700].to_vec(), ..Changes::default() };
    read_model.commit(Table::Live, &first, 700, &fence).await.unwrap();
    let again = Changes { recommendations: recommendations.clone(), ..Changes::default() };
    read_model.commit(Table::Live, &again, RECOMMENDATIONS, &fence).await.unwrap();

    assert_eq!(read_model.webhooks().outbox_len().await.unwrap(), RECOMMENDATIONS);
    let everything = RecommendationQuery { player_id: None, kind: None, after: None, limit: 2_000 };
    let stored = read_model.recommendations(&everything).await.unwrap();
    let positions: Vec<u64> = stored.iter().map(|r| r.triggered_by.position).collect();
    assert_eq!(positions, (1..=RECOMMENDATIONS).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_batch_committed_again_queues_each_recommendation_once_on_sqlite() {
    let sqlite = TempSqlite::new().unwrap();
    a_batch_committed_again_queues_each_recommendation_once(ReadModel::connect(&sqlite.url()).await.unwrap()).await;
}

#[tokio::test]
async fn a_batch_committed_again_queues_each_recommendation_once_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    a_batch_committed_again_queues_each_recommendation_once(ReadModel::connect(&schema.url()).await.unwrap()).await;
}
