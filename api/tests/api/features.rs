//! Player features and the projection behind them, through the HTTP API.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};

use store::{ExpectedRevision, NewEvent, StreamAppend};

use crate::helpers::{BATCH, TestApp, event, problem, projected};

fn at(mut event: Value, time: &str) -> Value {
    event["time"] = time.into();
    event
}

/// A short evening: a deposit, a session, two bets (one lost, one won), and the end.
fn evening(player: &str) -> Value {
    let data = |stake_or_payout: &str, bet: &str, amount: i64| json!({"bet_id": bet, "game_id": "g1", stake_or_payout: amount, "currency": "EUR"});
    json!([
        at(
            event("d1", player, "player.deposit.succeeded", json!({"amount": 5000, "currency": "EUR"})),
            "2026-11-24T20:00:00Z"
        ),
        at(event("s1", player, "player.session.started", json!({"channel": "web"})), "2026-11-24T20:01:00Z"),
        at(event("b1", player, "player.bet.placed", data("stake", "b1", 200)), "2026-11-24T20:02:00Z"),
        at(event("r1", player, "player.bet.settled", data("payout", "b1", 0)), "2026-11-24T20:03:00Z"),
        at(event("b2", player, "player.bet.placed", data("stake", "b2", 300)), "2026-11-24T20:04:00Z"),
        at(event("r2", player, "player.bet.settled", data("payout", "b2", 900)), "2026-11-24T20:05:00Z"),
        at(event("e1", player, "player.session.ended", json!({})), "2026-11-24T20:11:00Z"),
    ])
}

/// Posts the evening and answers the position of its last event.
async fn post_evening(app: &TestApp, player: &str) -> u64 {
    let response: Value = app.post_json(BATCH, &evening(player)).await.json().await.unwrap();
    response["results"][6]["position"].as_u64().unwrap()
}

async fn features_follow_ingest(app: TestApp) {
    let last = post_evening(&app, "eve").await;
    let body: Value = app.get(&format!("/v1/players/eve/features?min_position={last}")).await.json().await.unwrap();
    assert_eq!(
        (body["player_id"].as_str(), body["revision"].as_u64(), body["position"].as_u64()),
        (Some("eve"), Some(6), Some(last))
    );
    let f = &body["features"];
    assert_eq!(
        (f["deposit_total"].as_i64(), f["bet_count"].as_i64(), f["net_loss"].as_i64()),
        (Some(5000), Some(2), Some(-400))
    );
    assert_eq!(
        (f["in_session"].as_bool(), f["session_seconds"].as_i64(), f["loss_streak"].as_i64()),
        (Some(false), Some(600), Some(0))
    );
    assert_eq!(f["minutes_since_last_win"], 6);
    assert_eq!(f["last_seen"], "2026-11-24T20:11:00Z");

    // As of 20:03:30: the first bet was lost, the second not placed yet.
    let body: Value = app.get("/v1/players/eve/features?at=2026-11-24T20:03:30Z").await.json().await.unwrap();
    assert_eq!((body["revision"].as_u64(), body["features"]["bet_count"].as_i64()), (Some(3), Some(1)));
    assert_eq!(
        (body["features"]["loss_streak"].as_i64(), body["features"]["in_session"].as_bool()),
        (Some(1), Some(true))
    );

    problem(app.get("/v1/players/nobody/features").await, 404).await;
    problem(app.get("/v1/players/eve/features?at=2020-01-01T00:00:00Z").await, 404).await;
    for at in ["yesterday", "2026-11-24%2020:03:30Z", "2026-11-24T20:03:30%2B0000"] {
        let body = problem(app.get(&format!("/v1/players/eve/features?at={at}")).await, 400).await;
        assert_eq!(body["errors"][0]["parameter"], "query", "{at}: {body}");
    }
    let body = problem(app.get(&format!("/v1/players/eve/features?min_position={}", last + 1000)).await, 409).await;
    assert!(body["detail"].as_str().unwrap().contains(&format!("not yet {}", last + 1000)), "{body}");
}

#[tokio::test]
async fn features_follow_ingest_on_sqlite() {
    features_follow_ingest(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn features_follow_ingest_on_postgres() {
    features_follow_ingest(TestApp::postgres().await).await;
}

/// One instance alone holds every partition, each at the checkpoint of the
/// last event, and says so at `GET /v1/cluster`.
#[tokio::test]
async fn the_cluster_shows_the_one_instance_holding_every_partition() {
    let app = TestApp::postgres().await;
    let last = post_evening(&app, "ray").await;
    let response = app.get(&format!("/v1/players/ray/features?min_position={last}")).await;
    assert_eq!(response.status(), 200);
    // Partitions without new events have their checkpoints moved within 50 ms.
    projected(&app.client, &app.address).await;
    let cluster: Value = app.get("/v1/cluster").await.json().await.unwrap();
    let me = &cluster["answered_by"];
    let instances = cluster["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{cluster}");
    assert_eq!(&instances[0]["id"], me);
    let live: Vec<&Value> =
        cluster["partitions"].as_array().unwrap().iter().filter(|p| p["projection"] == "features").collect();
    assert_eq!(live.len(), 64);
    for partition in live {
        assert_eq!(&partition["owner"], me, "{partition}");
        assert!(partition["epoch"].as_u64() >= Some(1), "{partition}");
        assert_eq!((partition["checkpoint"].as_u64(), partition["lag_events"].as_u64()), (Some(last), Some(0)));
    }
}

#[tokio::test]
async fn projections_report_where_they_are_and_rebuild_in_place() {
    let app = TestApp::sqlite().await;
    let last = post_evening(&app, "ray").await;
    let before: Value = app.get(&format!("/v1/players/ray/features?min_position={last}")).await.json().await.unwrap();

    let status = projected(&app.client, &app.address).await;
    let features = &status["projections"][0];
    assert_eq!((features["name"].as_str(), features["state"].as_str()), (Some("features"), Some("running")));
    assert_eq!((features["checkpoint"].as_u64(), features["head"].as_u64()), (Some(last), Some(last)));
    assert_eq!((features["lag_events"].as_u64(), features["rebuild"].is_null()), (Some(0), true));
    assert_eq!(features["partitions"], 64);

    let response = app.client.post(format!("{}/v1/projections/features/rebuild", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let mut done = false;
    for _ in 0..200 {
        let status: Value = app.get("/v1/projections").await.json().await.unwrap();
        if status["projections"][0]["rebuild"].is_null() {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(done, "the rebuild did not finish");
    let after: Value = app.get(&format!("/v1/players/ray/features?min_position={last}")).await.json().await.unwrap();
    assert_eq!(after, before);

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for name in ["nudge_projection_events_total", "nudge_projection_commit_seconds", "nudge_projection_batch_events"] {
        assert!(metrics.contains(name), "{name} missing");
    }
    let stored = app.read_model.checkpoint(projections::Table::Live).await.unwrap();
    assert_eq!(stored, Some(last));
}

#[tokio::test]
async fn a_stored_event_that_no_longer_validates_is_skipped_alike_by_every_reader() {
    let app = TestApp::sqlite().await;
    let deposit = json!({"amount": 5000, "currency": "EUR"});
    let first: Value = app
        .post_json(BATCH, &json!([event("d1", "val", "player.deposit.succeeded", deposit)]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["results"][0]["position"].as_u64().map(|p| p > 0), Some(true), "{first}");
    // A bet with no stake, stored around the API as if by an older, laxer nudge.
    let mut invalid =
        event("b0", "val", "player.bet.placed", json!({"bet_id": "b0", "game_id": "g1", "currency": "EUR"}));
    invalid["time"] = "2026-11-24T20:02:00Z".into();
    let stored = NewEvent {
        event_id: domain::event_uuid("/casino/test", "b0"),
        source: "/casino/test".to_owned(),
        id: "b0".to_owned(),
        event_type: "player.bet.placed".to_owned(),
        time: chrono::Utc::now(),
        payload: invalid.to_string().into(),
        decoded: None,
    };
    let append =
        StreamAppend { stream: "player-val".to_owned(), expected: ExpectedRevision::Any, events: vec![stored] };
    app.store.append(vec![append]).await.unwrap();
    let bet = json!({"bet_id": "b1", "game_id": "g1", "stake": 200, "currency": "EUR"});
    let later: Value =
        app.post_json(BATCH, &json!([event("b1", "val", "player.bet.placed", bet)])).await.json().await.unwrap();
    let last = later["results"][0]["position"].as_u64().unwrap();

    let live: Value = app.get(&format!("/v1/players/val/features?min_position={last}")).await.json().await.unwrap();
    assert_eq!((live["revision"].as_u64(), live["features"]["bet_count"].as_i64()), (Some(2), Some(1)), "{live}");
    assert_eq!(live["features"]["deposit_total"].as_i64(), Some(5000));
    let as_of_now: Value = app.get("/v1/players/val/features?at=2100-01-01T00:00:00Z").await.json().await.unwrap();
    assert_eq!(as_of_now, live, "the features as of a moment skip what the projection skipped");

    let training = ml::replay(Arc::clone(&app.store), &|_, _| {}).await.unwrap();
    assert_eq!((training.events, training.unreadable), (2, 1));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("nudge_projection_events_skipped_total 1"), "the projection counts what it skipped");
}
