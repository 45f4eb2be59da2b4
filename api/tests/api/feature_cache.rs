//! Feature reads served from memory never answer an older row than the read
//! model holds: not while the projection commits, and not once a partition
//! has moved to another instance.

use std::{collections::BTreeSet, time::Duration};

use serde_json::{Value, json};

use projections::ProjectionConfig;

use crate::helpers::{self, BATCH, STRUCTURED, TestApp, bet, projected};

const PLAYERS: usize = 4;

/// The revision a features read answers (404 as `None`).
async fn revision(app: &TestApp, player: &str, query: &str) -> Option<u64> {
    let response = app.get(&format!("/v1/players/{player}/features{query}")).await;
    if response.status() == 404 {
        return None;
    }
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    Some(body["revision"].as_u64().unwrap())
}

/// How many feature reads were answered from memory (`result="hit"`).
async fn hits(app: &TestApp) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find(|line| line.starts_with("nudge_feature_cache_reads_total{result=\"hit\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0.0, |value| value.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_answer_a_row_older_than_the_database_held_when_they_began() {
    // Rows written a few milliseconds behind the fold: the database's rows
    // move while the writes go on, and memory runs ahead of them.
    let write_behind = Duration::from_millis(3);
    let app = TestApp::sqlite_projecting(ProjectionConfig { write_behind, ..helpers::projection() }).await;
    let (client, address) = (app.client.clone(), app.address.clone());
    let writer = tokio::spawn(async move {
        for i in 0..300 {
            let event = bet(&format!("w{i}"), &format!("racer-{}", i % PLAYERS), 10);
            let url = format!("{address}/v1/events");
            let response =
                client.post(url).header("content-type", STRUCTURED).body(event.to_string()).send().await.unwrap();
            assert_eq!(response.status(), 202);
        }
    });
    let mut compared = 0;
    while !writer.is_finished() {
        for p in 0..PLAYERS {
            let player = format!("racer-{p}");
            let Some(before) = app.read_model.get(&player).await.unwrap().map(|row| row.revision) else { continue };
            let answered = revision(&app, &player, "").await;
            assert!(
                answered >= Some(before),
                "{player}: the database held revision {before}, the read answered {answered:?}"
            );
            compared += 1;
        }
    }
    writer.await.unwrap();
    assert!(compared > 0, "no read raced the writes");
    projected(&app.client, &app.address).await;
    for p in 0..PLAYERS {
        let player = format!("racer-{p}");
        let stored = app.read_model.get(&player).await.unwrap().map(|row| row.revision);
        assert_eq!(revision(&app, &player, "").await, stored, "{player} once the projection is idle");
    }
    assert!(hits(&app).await > 0.0, "no read was answered from memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_position_is_kept_by_reads_from_memory() {
    let app = TestApp::sqlite().await;
    let answer: Value = app.post_json(STRUCTURED, &bet("m1", "waiter", 10)).await.json().await.unwrap();
    let position = answer["results"][0]["position"].as_u64().unwrap();
    assert_eq!(revision(&app, "waiter", &format!("?min_position={position}")).await, Some(0));
    let answer: Value = app.post_json(STRUCTURED, &bet("m2", "waiter", 10)).await.json().await.unwrap();
    let position = answer["results"][0]["position"].as_u64().unwrap();
    assert_eq!(revision(&app, "waiter", &format!("?min_position={position}")).await, Some(1));
    assert_eq!(revision(&app, "waiter", "?at=2026-11-24T09:00:00Z").await, None, "`at` still replays");
}

/// The live leases' owners, as `GET /v1/cluster` shows them.
async fn owners(app: &TestApp) -> BTreeSet<String> {
    let cluster: Value = app.get("/v1/cluster").await.json().await.unwrap();
    cluster["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["projection"] == "features")
        .filter_map(|p| p["owner"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_serving_the_rows_of_partitions_it_handed_over() {
    let first = TestApp::postgres().await;
    let players: Vec<String> = (0..32).map(|p| format!("mover-{p}")).collect();
    let events: Vec<Value> = players.iter().map(|p| bet(&format!("{p}-0"), p, 10)).collect();
    assert_eq!(first.post_json(BATCH, &json!(events)).await.status(), 202);
    projected(&first.client, &first.address).await;
    for player in &players {
        assert_eq!(revision(&first, player, "").await, Some(0));
    }
    assert!(hits(&first).await > 0.0, "the first instance does not answer from memory");

    let second = TestApp::at(&first.url).await;
    let mut shared = false;
    for _ in 0..1_200 {
        if owners(&first).await.len() == 2 {
            shared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shared, "the second instance took no partition within a minute");
    let events: Vec<Value> = players.iter().map(|p| bet(&format!("{p}-1"), p, 10)).collect();
    let answer: Value = second.post_json(BATCH, &json!(events)).await.json().await.unwrap();
    let last = answer["results"].as_array().unwrap().iter().filter_map(|r| r["position"].as_u64()).max().unwrap();
    for player in &players {
        assert_eq!(revision(&second, player, &format!("?min_position={last}")).await, Some(1));
    }
    for player in &players {
        assert_eq!(revision(&first, player, "").await, Some(1), "{player}: the first instance answered an older row");
    }
}
