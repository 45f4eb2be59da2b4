//! The feature projection against real databases: it converges on what a replay
//! of every stream gives, and a rebuild from zero reproduces the rows exactly.

#![allow(clippy::unwrap_used)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use domain::{EventData, PlayerEvent};
use ml::ActiveModel;
use projections::{
    Changes, Decider, FeatureProjection, PlayerState, ProjectionConfig, ProjectionError, ReadModel, Table,
    read_model::RowUpdate,
};
use simulator::Population;
use store::{
    EventStore,
    testing::{PgSchema, TempSqlite},
};
use tokio_util::sync::CancellationToken;

const PLAYERS: u64 = 150;

fn population() -> Population {
    Population::new(PLAYERS, 11, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap())
}

fn config() -> ProjectionConfig {
    // Small batches and a small memory, so that batches split players, players
    // are evicted and activated again from their rows.
    ProjectionConfig {
        batch_events: 97,
        batch_wait: Duration::from_millis(1),
        partitions: 3,
        players_in_memory: 40,
        idle: Duration::from_secs(600),
        ..ProjectionConfig::default()
    }
}

/// Waits (at most a minute) until the live rows include everything stored.
async fn caught_up(projection: &FeatureProjection, store: &dyn EventStore) {
    let head = store.head().await.unwrap();
    assert!(projection.wait_for(head, Duration::from_secs(60)).await, "the projection did not reach {head}");
}

/// Waits (at most a minute) until a rebuild has replaced the live rows.
async fn rebuilt(projection: &FeatureProjection) {
    for _ in 0..1_200 {
        if projection.status().await.unwrap().rebuild.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the rebuild did not finish");
}

/// Every player's state as a replay of their stream up to position `until`
/// gives it (no model: the hard rules alone decide, as in the projection).
async fn replay(store: &dyn EventStore, until: u64) -> HashMap<String, (u64, PlayerState)> {
    let mut players: HashMap<String, (u64, PlayerState)> = HashMap::new();
    let decider = Decider::default();
    let mut after = None;
    loop {
        let page = store.read_all(after, 1_000, domain::STREAM_PREFIX).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.position);
        for recorded in page.into_iter().filter(|e| e.position <= until) {
            let event = PlayerEvent::from_json(&recorded.cloud_event().unwrap()).unwrap();
            let entry = players.entry(event.player_id.to_string()).or_default();
            entry.1.apply(&event, recorded.position, &decider);
            entry.0 = recorded.revision;
        }
    }
    players
}

async fn assert_rows_equal_replay(store: &dyn EventStore, read_model: &ReadModel, events: &[PlayerEvent]) {
    let replayed = replay(store, u64::MAX).await;
    assert_eq!(replayed.len() as u64, PLAYERS);
    let ids: Vec<String> = replayed.keys().cloned().collect();
    let rows = read_model.load(Table::Live, &ids).await.unwrap();
    assert_eq!(rows.len(), replayed.len());
    for row in rows {
        let (revision, state) = &replayed[&row.player_id];
        assert_eq!((row.revision, &row.state), (*revision, state), "player {}", row.player_id);
    }
    // Nothing lost, nothing counted twice.
    let bets = events.iter().filter(|e| matches!(e.data, EventData::BetPlaced { .. })).count() as i64;
    let counted: i64 = replayed.values().map(|(_, state)| state.fold.features().bet_count).sum();
    assert_eq!(counted, bets);
}

async fn projects_then_rebuilds_identically(store: Arc<dyn EventStore>, read_model: ReadModel) {
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let population = population();
    let mut events = Vec::new();
    for day in 0..3 {
        events.extend(population.day(day));
    }
    let (first, second) = events.split_at(events.len() / 2);
    Population::append(store.as_ref(), first).await.unwrap();

    let projection =
        FeatureProjection::start(store.clone(), read_model.clone(), config(), ActiveModel::default(), stop.clone())
            .await
            .unwrap();
    // More events arrive while the projection catches up.
    Population::append(store.as_ref(), second).await.unwrap();
    caught_up(&projection, store.as_ref()).await;
    assert_rows_equal_replay(store.as_ref(), &read_model, &events).await;
    let live = read_model.dump(Table::Live).await.unwrap();
    assert_eq!(live.len() as u64, PLAYERS);

    assert!(projection.rebuild().await.unwrap());
    rebuilt(&projection).await;
    caught_up(&projection, store.as_ref()).await;
    assert_eq!(read_model.dump(Table::Live).await.unwrap(), live, "the rebuilt rows differ");
    assert!(read_model.dump(Table::Rebuild).await.unwrap().is_empty());
    assert_eq!(read_model.checkpoint(Table::Live).await.unwrap(), Some(store.head().await.unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_projects_then_rebuilds_identically() {
    let db = TempSqlite::new().unwrap();
    let store = Arc::new(db.open().await.unwrap());
    let read_model = ReadModel::connect(&db.url()).await.unwrap();
    projects_then_rebuilds_identically(store, read_model).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_projects_then_rebuilds_identically() {
    let schema = PgSchema::new().await.unwrap();
    let store = Arc::new(schema.open().await.unwrap());
    let read_model = ReadModel::connect(&schema.url()).await.unwrap();
    projects_then_rebuilds_identically(store, read_model).await;
}

#[tokio::test]
async fn every_feature_has_a_column_in_both_databases() {
    use domain::Features;
    let db = TempSqlite::new().unwrap();
    let _store = db.open().await.unwrap();
    let schema = PgSchema::new().await.unwrap();
    let _pg = schema.open().await.unwrap();
    for read_model in [ReadModel::connect(&db.url()).await.unwrap(), ReadModel::connect(&schema.url()).await.unwrap()] {
        // A row written with every column, read back as text: one value per column.
        let mut state = PlayerState::default();
        state.apply(&population().day(0)[0], 1, &Decider::default());
        let row = projections::PlayerRow { player_id: "p0".to_owned(), revision: 0, position: 1, state };
        let update = projections::read_model::RowUpdate::of("p0".to_owned(), 0, 1, &row.state).unwrap();
        let changes = projections::Changes { rows: vec![update], ..Default::default() };
        let fence = read_model.claim_all(Table::Live, "test", Duration::from_secs(3_600)).await.unwrap();
        read_model.commit(Table::Live, &changes, 1, &fence).await.unwrap();
        let dump = read_model.dump(Table::Live).await.unwrap();
        assert_eq!(dump.len(), 1);
        assert_eq!(dump[0].len(), Features::NAMES.len() + 4, "player_id, revision, position, features, state");
        assert_eq!(read_model.load(Table::Live, &["p0".to_owned()]).await.unwrap(), vec![row]);
    }
}

/// Two projections on one PostgreSQL schema: the first takes every partition,
/// folds what is stored and stalls before its commit until its lease lapsed;
/// the second takes the partitions over and projects everything; the first's
/// commit is then fenced, and the rows stay those of a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_stalled_projection_is_fenced_once_another_took_its_partitions_over() {
    let schema = PgSchema::new().await.unwrap();
    let store: Arc<dyn EventStore> = Arc::new(schema.open().await.unwrap());
    let read_model = ReadModel::connect(&schema.url()).await.unwrap();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let population = population();
    let events: Vec<PlayerEvent> = (0..3).flat_map(|day| population.day(day)).collect();
    let (first, second) = events.split_at(events.len() / 2);
    Population::append(store.as_ref(), first).await.unwrap();

    // The stalled one: a lease that lapses at once, and a fold of what is stored.
    let stalled = read_model.claim_all(Table::Live, "stalled", Duration::ZERO).await.unwrap();
    let folded_up_to = store.head().await.unwrap();
    let rows: Vec<RowUpdate> = replay(store.as_ref(), folded_up_to)
        .await
        .into_iter()
        .map(|(player, (revision, state))| RowUpdate::of(player, revision, folded_up_to, &state).unwrap())
        .collect();
    let stale = Changes { rows, ..Changes::default() };

    // The other takes the partitions over and projects everything, more events included.
    Population::append(store.as_ref(), second).await.unwrap();
    let projection =
        FeatureProjection::start(store.clone(), read_model.clone(), config(), ActiveModel::default(), stop.clone())
            .await
            .unwrap();
    caught_up(&projection, store.as_ref()).await;

    let fenced = read_model.commit(Table::Live, &stale, folded_up_to, &stalled).await;
    match fenced {
        Err(ProjectionError::Fenced { partitions, .. }) => assert_eq!(partitions.len(), stalled.leases.len()),
        other => panic!("the stalled commit was not fenced: {other:?}"),
    }
    assert_rows_equal_replay(store.as_ref(), &read_model, &events).await;
    let (_, _, leases) = read_model.cluster(Duration::from_secs(5)).await.unwrap();
    let head = store.head().await.unwrap();
    for lease in leases {
        assert_eq!((lease.epoch, lease.checkpoint), (2, head), "partition {}", lease.partition);
        assert_eq!(lease.owner.as_deref(), Some(projection.instance()));
    }
}

/// Waits (at most a minute) until `owner` holds every partition.
async fn holds_all(read_model: &ReadModel, owner: &str) {
    for _ in 0..3_000 {
        let (_, _, leases) = read_model.cluster(Duration::from_secs(3_600)).await.unwrap();
        if leases.iter().all(|l| l.owner.as_deref() == Some(owner)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, _, leases) = read_model.cluster(Duration::from_secs(3_600)).await.unwrap();
    panic!(
        "{owner} never held every partition: {:?}",
        leases.iter().map(|l| (l.partition, l.owner.clone())).collect::<Vec<_>>()
    );
}

/// With a TTL of an hour, instances balance only every six minutes unless
/// told: a join and a clean leave are signalled, so the partitions move at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_join_and_a_leave_move_partitions_without_waiting_for_a_tick() {
    let schema = PgSchema::new().await.unwrap();
    let store: Arc<dyn EventStore> = Arc::new(schema.open().await.unwrap());
    let read_model = ReadModel::connect(&schema.url()).await.unwrap();
    let start = |id: &str, stop: &CancellationToken| {
        let config = ProjectionConfig { lease_ttl: Duration::from_secs(3_600), instance: id.to_owned(), ..config() };
        FeatureProjection::start(store.clone(), read_model.clone(), config, ActiveModel::default(), stop.clone())
    };
    let (stop_one, stop_two) = (CancellationToken::new(), CancellationToken::new());
    let _guards = (stop_one.clone().drop_guard(), stop_two.clone().drop_guard());
    let _one = start("one", &stop_one).await.unwrap();
    holds_all(&read_model, "one").await;

    let _two = start("two", &stop_two).await.unwrap();
    for _ in 0..3_000 {
        let (_, _, leases) = read_model.cluster(Duration::from_secs(3_600)).await.unwrap();
        if leases.iter().any(|l| l.owner.as_deref() == Some("two")) && leases.iter().all(|l| l.owner.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, _, leases) = read_model.cluster(Duration::from_secs(3_600)).await.unwrap();
    assert!(leases.iter().any(|l| l.owner.as_deref() == Some("two")), "the one already there handed nothing over");

    stop_one.cancel();
    holds_all(&read_model, "two").await;
}
