//! Recommendations through the HTTP API: the hard rules decide without a model,
//! the feed pages oldest first, answers change the status, and no marketing goes
//! to a player in the marketing block or self-excluded.

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

/// A model version that never sees harm and always sees churn: every session start
/// or end earns a retention offer unless a guardrail holds it back.
fn churn_everywhere() -> ml::ModelArtifact {
    let target = |intercept: f64| ml::TargetModel {
        model: ml::BinaryModel::Logistic { intercept, weights: vec![0.0; ml::INPUTS] },
        threshold: 0.5,
        precision_target: 0.5,
        false_alarm_cost: None,
        metrics: vec![],
        groups: vec![],
    };
    let training = ml::TrainingSummary {
        first_position: 1,
        last_position: 1,
        events: 1,
        players: 1,
        points: 1,
        splits: Default::default(),
    };
    ml::ModelArtifact {
        format: ml::FORMAT,
        version: String::new(),
        feature_names: ml::INPUT_NAMES.iter().map(|n| (*n).to_owned()).collect(),
        scaler: ml::Scaler { mean: vec![0.0; ml::INPUTS], std: vec![1.0; ml::INPUTS] },
        harm: target(-5.0),
        churn: target(5.0),
        games: Default::default(),
        training,
    }
    .sealed()
    .unwrap()
}

/// Minutes from [`at`]'s origin to minute `minute` of day `day` of a 40-day history ending there.
fn day(day: i64, minute: i64) -> i64 {
    (day - 40) * 1_440 + minute
}

/// A session from `start` (minutes) with a bet every 20 minutes for `minutes`, then its end.
fn session(player: &str, start: i64, minutes: i64) -> Vec<Value> {
    let id = |what: &str, n: i64| format!("{player}-{start}-{what}{n}");
    let mut events = vec![at(event(&id("s", 0), player, "player.session.started", json!({"channel": "web"})), start)];
    events.extend((1..=minutes / 20).map(|n| at(bet(&id("b", n), player, 100), start + n * 20)));
    events.push(at(event(&id("e", 0), player, "player.session.ended", json!({})), start + minutes + 1));
    events
}

/// When each of `player`'s recommendations of `kind` was made, in minutes from [`at`]'s origin.
async fn made(app: &TestApp, player: &str, kind: &str) -> Vec<i64> {
    let origin = chrono::DateTime::parse_from_rfc3339("2026-11-24T18:00:00Z").unwrap();
    let page: Value = app.get(&format!("/v1/players/{player}/recommendations")).await.json().await.unwrap();
    let list = page["recommendations"].as_array().unwrap();
    let times = list.iter().filter(|r| r["kind"] == kind);
    times
        .map(|r| {
            (chrono::DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap()).unwrap() - origin).num_minutes()
        })
        .collect()
}

#[tokio::test]
async fn no_marketing_inside_the_block_after_a_safer_gambling_intervention_nor_during_a_self_exclusion() {
    let app = TestApp::sqlite().await;
    let artifact = churn_everywhere();
    app.read_model.registry().save(&artifact, chrono::Utc::now()).await.unwrap();
    let version = &artifact.version;
    let activated = app.client.post(format!("{}/v1/models/{version}/activate", app.address)).send().await.unwrap();
    assert_eq!(activated.status(), 200);

    // Short sessions on days 0, 2, 10, 29 and 31 for all three; `warned` plays
    // 3 h 20 min on day 0 and gets a reality check at 3 h; `excluded` excludes
    // themselves for 60 days on day 1.
    let days = [0, 2, 10, 29, 31];
    for player in ["control", "warned", "excluded"] {
        let mut events = session(player, day(0, 0), if player == "warned" { 200 } else { 40 });
        if player == "excluded" {
            events.push(at(event("x", player, "player.self_excluded", json!({"duration_days": 60})), day(1, 0)));
        }
        for d in &days[1..] {
            events.extend(session(player, day(*d, 0), 40));
        }
        post_and_wait(&app, Value::Array(events)).await;
    }

    // The control player gets a retention offer at every session start (past the cooldown).
    let offers_at_starts: Vec<i64> = days.iter().map(|d| day(*d, 0)).collect();
    assert_eq!(made(&app, "control", "retention_offer").await, offers_at_starts);
    let checks = made(&app, "warned", "reality_check").await;
    assert_eq!(checks, [day(0, 180)]);
    // Before the reality check, and 30 days after it, but none between.
    assert_eq!(made(&app, "warned", "retention_offer").await, [day(0, 0), day(31, 0)]);
    assert_eq!(made(&app, "excluded", "retention_offer").await, [day(0, 0)]);
}
