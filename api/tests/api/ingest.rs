use serde_json::{Value, json};

use crate::helpers::{BATCH, STRUCTURED, TestApp, bet, event, problem};

async fn ingest_modes_and_duplicates(app: TestApp) {
    let first = app.post_json(STRUCTURED, &bet("e1", "p1", 500)).await;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let original = &first["results"][0];
    assert_eq!(original["stream"], "player-p1");
    assert_eq!(original["revision"], 0);
    assert_eq!(original["duplicate"], false);

    let binary = app
        .client
        .post(format!("{}/v1/events", app.address))
        .header("ce-specversion", "1.0")
        .header("ce-id", "e2")
        .header("ce-source", "/casino/test")
        .header("ce-type", "player.game.launched")
        .header("ce-subject", "p1")
        .header("ce-time", "2026-11-24T10:01:00Z")
        .header("content-type", "application/json")
        .body(json!({"game_id": "g1", "category": "slots"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(binary.status(), 202);
    let binary: Value = binary.json().await.unwrap();
    assert_eq!(binary["results"][0]["revision"], 1);

    let batch = app.post_json(BATCH, &json!([event("e3", "p1", "player.session.ended", json!({}))])).await;
    assert_eq!(batch.status(), 202);

    let again = app.post_json(STRUCTURED, &bet("e1", "p1", 500)).await;
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    let repeat = &again["results"][0];
    assert_eq!(repeat["duplicate"], true);
    assert_eq!((&repeat["position"], &repeat["revision"]), (&original["position"], &original["revision"]));

    let page: Value = app.get("/v1/players/p1/events").await.json().await.unwrap();
    let events = page["events"].as_array().unwrap();
    let ids: Vec<_> = events.iter().map(|e| e["event"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(events[1]["event"]["type"], "player.game.launched");
    assert_eq!(events[1]["event"]["data"]["category"], "slots");
    assert_eq!(page["next"], Value::Null);
}

#[tokio::test]
async fn structured_binary_and_batch_events_are_stored_once_in_order_on_sqlite() {
    ingest_modes_and_duplicates(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn structured_binary_and_batch_events_are_stored_once_in_order_on_postgres() {
    ingest_modes_and_duplicates(TestApp::postgres().await).await;
}

#[tokio::test]
async fn a_batch_answers_in_request_order_across_players() {
    let app = TestApp::sqlite().await;
    let batch = json!([bet("b1", "a", 10), bet("b2", "b", 20), bet("b3", "a", 30), bet("b1", "a", 10)]);
    let answer: Value = app.post_json(BATCH, &batch).await.json().await.unwrap();
    let results = answer["results"].as_array().unwrap();
    let summary: Vec<_> = results
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["stream"].as_str().unwrap(), r["revision"].as_u64().unwrap()))
        .collect();
    assert_eq!(summary, [("b1", "player-a", 0), ("b2", "player-b", 0), ("b3", "player-a", 1), ("b1", "player-a", 0)]);
    assert_eq!(results[3]["duplicate"], true);
    assert_eq!(app.stored().await, 3);
}

/// Bad input is refused with a problem naming what is wrong, and nothing is stored.
#[tokio::test]
async fn bad_input_is_a_problem_and_leaves_the_store_unchanged() {
    let app = TestApp::sqlite().await;
    assert_eq!(app.post_json(STRUCTURED, &bet("ok", "p1", 100)).await.status(), 202);

    let body = problem(app.post_events(STRUCTURED, "{\"specversion\": ").await, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("not valid JSON"), "{body}");

    problem(app.post_events("text/plain", bet("x", "p1", 1).to_string()).await, 415).await;

    let mut no_subject = bet("x", "p1", 1);
    no_subject.as_object_mut().unwrap().remove("subject");
    let body = problem(app.post_json(STRUCTURED, &no_subject).await, 400).await;
    assert_eq!(body["errors"][0]["pointer"], "/subject");

    let mut unknown = bet("x", "p1", 1);
    unknown["type"] = json!("player.teleported");
    let body = problem(app.post_json(STRUCTURED, &unknown).await, 400).await;
    assert_eq!(body["errors"][0]["pointer"], "/type");

    let body = problem(app.post_json(STRUCTURED, &bet("x", "p1", -5)).await, 400).await;
    assert_eq!(body["errors"][0]["pointer"], "/data/stake");

    let huge = format!("[{}]", vec![bet("x", "p1", 1).to_string(); 2 * 1024 * 1024 / 200].join(","));
    assert!(huge.len() > 2 * 1024 * 1024 - 1024);
    problem(app.post_events(BATCH, huge).await, 413).await;

    let too_many: Vec<Value> = (0..1_001).map(|i| bet(&format!("m{i}"), "p1", 1)).collect();
    let body = problem(app.post_json(BATCH, &json!(too_many)).await, 413).await;
    assert!(body["detail"].as_str().unwrap().contains("1000"), "{body}");

    let one_bad = json!([bet("g1", "p2", 1), bet("g2", "p2", 0), bet("g3", "p2", 3)]);
    let body = problem(app.post_json(BATCH, &one_bad).await, 400).await;
    assert_eq!(
        body["errors"],
        json!([{"index": 1, "pointer": "/data/stake", "message": body["errors"][0]["message"]}])
    );

    assert_eq!(app.stored().await, 1);
    let page: Value = app.get("/v1/players/p1/events").await.json().await.unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    problem(app.get("/v1/players/p2/events").await, 404).await;
}

#[tokio::test]
async fn implausible_event_times_are_refused() {
    let app = TestApp::sqlite().await;
    let day_after_tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    for time in [
        "0000-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        "9999-12-31T23:59:59Z",
        "2026-11-24T10:00:60Z",
        "2026-11-24 10:00:00Z",
        &day_after_tomorrow,
    ] {
        let mut value = bet("x", "p1", 1);
        value["time"] = json!(time);
        let body = problem(app.post_json(STRUCTURED, &value).await, 400).await;
        assert_eq!(body["errors"][0]["pointer"], "/time", "{time}: {body}");
    }
    assert_eq!(app.stored().await, 0);
}
