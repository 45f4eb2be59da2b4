//! Recommendations through the HTTP API: the hard rules decide without a model,
//! the feed pages oldest first, answers change the status.

use serde_json::{Value, json};

use crate::helpers::{BATCH, TestApp, bet, event, problem};

fn at(mut event: Value, minutes: i64) -> Value {
    let time =
        chrono::DateTime::parse_from_rfc3339("2026-11-24T18:00:00Z").unwrap() + chrono::Duration::minutes(minutes);
    event["time"] = time.to_rfc3339().into();
    event
}

/// Posts events and waits until the features include them; answers the last position.
async fn post_and_wait(app: &TestApp, events: Value) -> u64 {
    let answer: Value = app.post_json(BATCH, &events).await.json().await.unwrap();
    let last = answer["results"].as_array().unwrap().last().unwrap()["position"].as_u64().unwrap();
    let player = events[0]["subject"].as_str().unwrap().to_owned();
    let features = app.get(&format!("/v1/players/{player}/features?min_position={last}")).await;
    assert_eq!(features.status(), 200);
    last
}

#[tokio::test]
async fn three_hours_of_play_get_one_reality_check_without_a_model() {
    let app = TestApp::sqlite().await;
    // A session with a bet every 20 minutes for 3 h 40 min: past 3 h the rule
    // fires once, then the 60-minute cooldown holds.
    let mut events = vec![at(event("s", "rc", "player.session.started", json!({"channel": "web"})), 0)];
    events.extend((1..=11).map(|n| at(bet(&format!("b{n}"), "rc", 100), n * 20)));
    post_and_wait(&app, Value::Array(events)).await;

    let page: Value = app.get("/v1/players/rc/recommendations").await.json().await.unwrap();
    let list = page["recommendations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{page}");
    let r = &list[0];
    assert_eq!(
        (&r["kind"], &r["rule"], &r["status"]),
        (&json!("reality_check"), &json!("long_session"), &json!("pending"))
    );
    assert_eq!((&r["model_version"], &r["scores"]), (&Value::Null, &Value::Null));
    assert_eq!(r["triggered_by"]["id"], "b9");
    assert_eq!(r["created_at"], "2026-11-24T21:00:00Z");
    assert_eq!(r["reasons"], json!([{"feature": "session_seconds", "value": 10800.0, "contribution": 0.0}]));
    assert_eq!(page["next"], r["triggered_by"]["position"]);

    let feed: Value = app.get("/v1/recommendations?kind=reality_check&limit=10").await.json().await.unwrap();
    assert_eq!(feed["recommendations"], page["recommendations"]);
    let after = feed["next"].as_u64().unwrap();
    let rest: Value = app.get(&format!("/v1/recommendations?after={after}")).await.json().await.unwrap();
    assert_eq!(rest, json!({"recommendations": [], "next": after}));
    let none: Value = app.get("/v1/recommendations?kind=retention_offer").await.json().await.unwrap();
    assert_eq!(none, json!({"recommendations": [], "next": null}));

    let id = r["id"].as_str().unwrap();
    let answer = json!({"recommendation_id": id, "response": "accepted"});
    post_and_wait(&app, json!([at(event("a", "rc", "player.intervention.responded", answer), 230)])).await;
    let page: Value = app.get("/v1/players/rc/recommendations").await.json().await.unwrap();
    assert_eq!(page["recommendations"][0]["status"], "accepted");
}

#[tokio::test]
async fn bad_recommendation_queries_are_problems() {
    let app = TestApp::sqlite().await;
    let bad_kind = problem(app.get("/v1/recommendations?kind=free_spins").await, 400).await;
    assert!(bad_kind["detail"].as_str().unwrap().contains("reality_check"), "{bad_kind}");
    problem(app.get("/v1/recommendations?limit=0").await, 400).await;
    problem(app.get("/v1/recommendations?after=-1").await, 400).await;
    problem(app.get("/v1/players/not%20valid/recommendations").await, 400).await;
}
