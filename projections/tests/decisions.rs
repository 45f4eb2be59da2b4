//! Decisions inside the projection: the same events and model give the same
//! recommendations with the same ids, whatever the batching and the database;
//! no marketing reaches a player at risk or self-excluded; answers land.

#![allow(clippy::unwrap_used)]

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{TimeZone, Utc};
use domain::{EventData, InterventionKind, InterventionResponse, PlayerEvent, Recommendation, Status};
use ml::{ActiveModel, Scorer, TrainConfig, TrainingSet};
use projections::{Decider, Effect, FeatureProjection, PlayerState, ProjectionConfig, ReadModel, RecommendationQuery};
use serde_json::Map;
use simulator::Population;
use store::{
    EventStore,
    testing::{PgSchema, TempSqlite},
};
use tokio_util::sync::CancellationToken;

fn events() -> Vec<PlayerEvent> {
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).single().unwrap();
    let population = Population::new(120, 5, start).with_mix("regular=3,at_risk=1,churner=1".parse().unwrap());
    (0..30).flat_map(|day| population.day(day)).collect()
}

fn scorer(events: &[PlayerEvent]) -> Scorer {
    Scorer::new(ml::train(&TrainingSet::of(events), &TrainConfig::default(), &|_| {}).unwrap())
}

/// Projects `events` into a fresh read model with `scorer` active; answers every recommendation.
async fn project(
    store: Arc<dyn EventStore>,
    read_model: ReadModel,
    events: &[PlayerEvent],
    scorer: &Scorer,
    config: ProjectionConfig,
) -> (FeatureProjection, Vec<Recommendation>, CancellationToken) {
    Population::append(store.as_ref(), events).await.unwrap();
    let active = ActiveModel::default();
    active.set(Some(scorer.clone()));
    let stop = CancellationToken::new();
    let projection =
        FeatureProjection::start(store.clone(), read_model.clone(), config, active, stop.clone()).await.unwrap();
    let head = store.head().await.unwrap();
    assert!(projection.wait_for(head, Duration::from_secs(120)).await, "the projection did not reach {head}");
    (projection, all(&read_model).await, stop)
}

async fn all(read_model: &ReadModel) -> Vec<Recommendation> {
    let query = RecommendationQuery { player_id: None, kind: None, after: None, limit: 1_000_000 };
    read_model.recommendations(&query).await.unwrap()
}

/// The recommendations a plain in-memory replay of the stored events makes.
async fn replayed(store: &dyn EventStore, scorer: &Scorer) -> Vec<Recommendation> {
    let decider = Decider { scorer: Some(Arc::new(scorer.clone())), policy: Default::default() };
    let mut players: HashMap<String, PlayerState> = HashMap::new();
    let mut made = Vec::new();
    let stored = store.read_all(None, 1_000_000, domain::STREAM_PREFIX).await.unwrap();
    for recorded in stored {
        let event = PlayerEvent::from_json(&recorded.cloud_event().unwrap()).unwrap();
        let state = players.entry(event.player_id.as_str().to_owned()).or_default();
        if let Some(Effect::Recommended(r)) = state.apply(&event, recorded.position, &decider) {
            made.push(*r);
        }
    }
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_events_give_the_same_recommendations_whatever_the_batching_and_database() {
    let events = events();
    let scorer = scorer(&events);

    let sqlite = TempSqlite::new().unwrap();
    let small_batches = ProjectionConfig {
        batch_events: 97,
        batch_wait: Duration::from_millis(1),
        partitions: 3,
        players_in_memory: 40,
        ..ProjectionConfig::default()
    };
    let read_model = ReadModel::connect(&sqlite.url()).await.unwrap();
    let store: Arc<dyn EventStore> = Arc::new(sqlite.open().await.unwrap());
    let (_projection, first, stop) = project(store.clone(), read_model.clone(), &events, &scorer, small_batches).await;

    let schema = PgSchema::new().await.unwrap();
    let pg_model = ReadModel::connect(&schema.url()).await.unwrap();
    let one_partition = ProjectionConfig { partitions: 1, ..ProjectionConfig::default() };
    let (_other, second, other_stop) =
        project(Arc::new(schema.open().await.unwrap()), pg_model, &events, &scorer, one_partition).await;
    other_stop.cancel();

    assert!(first.len() > 20, "{} recommendations", first.len());
    assert_eq!(first, second);
    assert_eq!(first, replayed(store.as_ref(), &scorer).await);
    let kinds: std::collections::BTreeSet<_> = first.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&InterventionKind::GameRecommendation), "{kinds:?}");
    assert!(kinds.iter().any(|k| !k.is_marketing()), "{kinds:?}");

    // Guardrails, end to end: marketing only below the harm threshold, never after a self-exclusion.
    let threshold = scorer.artifact().harm.threshold;
    let excluded_at: HashMap<String, u64> = store
        .read_all(None, 1_000_000, domain::STREAM_PREFIX)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event_type == "player.self_excluded")
        .map(|r| (r.stream.trim_start_matches(domain::STREAM_PREFIX).to_owned(), r.position))
        .collect();
    assert!(!excluded_at.is_empty());
    for r in first.iter().filter(|r| r.kind.is_marketing()) {
        assert!(r.scores.unwrap().harm < threshold, "{r:?}");
        assert!(excluded_at.get(&r.player_id).is_none_or(|at| r.triggered_by.position < *at), "{r:?}");
    }

    // The player answers their recommendation; someone else's answer to it changes nothing.
    let target = &first[0];
    let answer = |player: &str, id: &str, response| PlayerEvent {
        id: id.to_owned(),
        source: "/test".to_owned(),
        player_id: domain::PlayerId::parse(player).unwrap(),
        time: target.created_at + chrono::Duration::minutes(1),
        data: EventData::InterventionResponded { recommendation_id: target.id, response },
        extra: Map::new(),
        extensions: Default::default(),
    };
    let other = if target.player_id == "p0" { "p1" } else { "p0" };
    Population::append(store.as_ref(), &[answer(other, "a1", InterventionResponse::Dismissed)]).await.unwrap();
    Population::append(store.as_ref(), &[answer(&target.player_id, "a2", InterventionResponse::Accepted)])
        .await
        .unwrap();
    let projection = _projection;
    assert!(projection.wait_for(store.head().await.unwrap(), Duration::from_secs(30)).await);
    let query = RecommendationQuery { player_id: Some(&target.player_id), kind: None, after: None, limit: 1 };
    let answered = read_model.recommendations(&query).await.unwrap();
    assert_eq!((answered[0].id, answered[0].status), (target.id, Status::Accepted));
    stop.cancel();
}

#[tokio::test]
async fn a_backtest_counts_who_was_warned_before_excluding_themselves() {
    let events = events();
    let scorer = Arc::new(scorer(&events));
    let sqlite = TempSqlite::new().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(sqlite.open().await.unwrap());
    Population::append(store.as_ref(), &events).await.unwrap();
    let decider = Decider { scorer: Some(scorer), policy: Default::default() };
    let report = projections::backtest(store.clone(), &decider, None, &|_, _| {}).await.unwrap();

    let excluded: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| matches!(e.data, EventData::SelfExcluded { .. }))
        .map(|e| e.player_id.as_str())
        .collect();
    assert_eq!((report.events, report.players), (events.len() as u64, 120));
    assert_eq!((report.figures.self_excluded, report.figures.others), (excluded.len(), 120 - excluded.len()));
    let made: usize = report.per_kind.values().sum();
    assert_eq!(made, replayed(store.as_ref(), decider.scorer.as_deref().unwrap()).await.len());
    assert!(report.figures.warned_share() >= 0.7, "{report:?}");
    assert!(report.figures.median_lead_hours.is_some_and(|h| h >= 24.0), "{report:?}");
    assert_eq!((report.marketing_in_block, report.marketing_while_excluded), (0, 0), "{report:?}");
    let groups = report.by_group(|p| excluded.contains(p).then(|| "excluded".to_owned()));
    assert_eq!((groups.len(), groups["excluded"].others), (1, 0));
    assert_eq!(groups["excluded"].warned_before_exclusion, report.figures.warned_before_exclusion);
}
