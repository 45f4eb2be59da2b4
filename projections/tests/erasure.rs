//! Erasing players while the projection catches up and while a rebuild runs:
//! whatever the projection had already read of them, no row or recommendation
//! of theirs comes back, and every other player is projected in full.

#![allow(clippy::unwrap_used)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use domain::PlayerEvent;
use ml::ActiveModel;
use projections::{FeatureProjection, ProjectionConfig, ReadModel, RecommendationQuery, Table};
use simulator::Population;
use store::{
    EventStore, StreamAppend,
    testing::{PgSchema, TempSqlite},
};
use tokio_util::sync::CancellationToken;

const PLAYERS: u64 = 60;

async fn erasing_while_projecting(store: Arc<dyn EventStore>, read_model: ReadModel) {
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let population = Population::new(PLAYERS, 5, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap());
    let events: Vec<_> = (0..2).flat_map(|day| population.day(day)).collect();
    Population::append(store.as_ref(), &events).await.unwrap();
    let mut players: Vec<String> = events.iter().map(|e| e.player_id.to_string()).collect();
    players.sort_unstable();
    players.dedup();
    let (first, second) = (players[0].clone(), players[players.len() / 2].clone());

    // Small batches and memory: the erasure lands while batches are in flight.
    let config = ProjectionConfig {
        batch_events: 50,
        batch_wait: Duration::from_millis(1),
        partitions: 3,
        players_in_memory: 20,
        ..ProjectionConfig::default()
    };
    let projection =
        FeatureProjection::start(store.clone(), read_model.clone(), config, ActiveModel::default(), stop.clone())
            .await
            .unwrap();
    erase(&store, &projection, &first).await;
    let head = store.head().await.unwrap();
    assert!(projection.wait_for(head, Duration::from_secs(60)).await, "the projection did not reach {head}");
    assert!(projection.rebuild().await.unwrap());
    erase(&store, &projection, &second).await;
    for _ in 0..1_200 {
        if projection.status().await.unwrap().rebuild.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(projection.status().await.unwrap().rebuild.is_none(), "the rebuild did not finish");
    let head = store.head().await.unwrap();
    assert!(projection.wait_for(head, Duration::from_secs(60)).await, "the projection did not reach {head}");

    let rows = read_model.load(Table::Live, &players).await.unwrap();
    let last: HashMap<String, u64> = rows.iter().map(|r| (r.player_id.clone(), r.revision)).collect();
    for player in &players {
        let stream = format!("player-{player}");
        match store.read_stream(&stream, 0, 100_000).await {
            Ok(stored) => assert_eq!(last.get(player), stored.last().map(|e| &e.revision), "player {player}"),
            Err(_) => assert!(!last.contains_key(player), "erased player {player} has a row again"),
        }
    }
    assert_eq!(rows.len(), players.len() - 2);
    for erased in [&first, &second] {
        let query = RecommendationQuery { player_id: Some(erased), kind: None, after: None, limit: 1_000 };
        assert!(read_model.recommendations(&query).await.unwrap().is_empty(), "{erased} has recommendations");
    }
}

async fn erase(store: &Arc<dyn EventStore>, projection: &FeatureProjection, player: &str) {
    assert!(store.delete_stream(&format!("player-{player}")).await.unwrap() > 0);
    projection.erase(player).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_erased_players_stay_out_of_the_read_model() {
    let db = TempSqlite::new().unwrap();
    let store = Arc::new(db.open().await.unwrap());
    let read_model = ReadModel::connect(&db.url()).await.unwrap();
    erasing_while_projecting(store, read_model).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_erased_players_stay_out_of_the_read_model() {
    let schema = PgSchema::new().await.unwrap();
    let store = Arc::new(schema.open().await.unwrap());
    let read_model = ReadModel::connect(&schema.url()).await.unwrap();
    erasing_while_projecting(store, read_model).await;
}

/// A projection that folded a player's stream before another process erased it
/// (so nothing told this one) folds the stream started again afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_started_again_is_folded_afresh_by_a_projection_that_held_the_old_one() {
    let db = TempSqlite::new().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(db.open().await.unwrap());
    let read_model = ReadModel::connect(&db.url()).await.unwrap();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let config = ProjectionConfig { batch_wait: Duration::from_millis(1), ..ProjectionConfig::default() };
    let projection =
        FeatureProjection::start(store.clone(), read_model.clone(), config, ActiveModel::default(), stop.clone())
            .await
            .unwrap();
    let append = |ids: std::ops::Range<u32>| {
        let events: Vec<PlayerEvent> = ids
            .map(|i| {
                PlayerEvent::from_json(&serde_json::json!({
                    "specversion": "1.0", "id": format!("bet-{i}"), "source": "/casino", "type": "player.bet.placed",
                    "subject": "again", "time": format!("2026-11-24T10:{i:02}:00Z"),
                    "data": {"bet_id": format!("b{i}"), "game_id": "g", "stake": 100, "currency": "EUR"},
                }))
                .unwrap()
            })
            .collect();
        let store = store.clone();
        async move { store.append(StreamAppend::per_stream(events).unwrap().0).await.unwrap() }
    };
    let projected = |projection: &FeatureProjection| {
        let (projection, store) = (projection.clone(), store.clone());
        async move {
            let head = store.head().await.unwrap();
            assert!(projection.wait_for(head, Duration::from_secs(60)).await, "the projection did not reach {head}");
        }
    };

    append(0..3).await;
    projected(&projection).await;
    assert_eq!(store.delete_stream("player-again").await.unwrap(), 3);
    append(3..4).await;
    projected(&projection).await;

    let rows = read_model.load(Table::Live, &["again".to_owned()]).await.unwrap();
    let row = rows.first().unwrap();
    assert_eq!((row.revision, row.state.fold.features().bet_count), (0, 1), "the erased bets are gone from the fold");
}
