//! Model versions through the HTTP API: training jobs, the registry, activation.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use simulator::Population;

use crate::helpers::{TestApp, problem};

/// Stores a month of a population with enough at-risk players and churners to train on.
async fn history(app: &TestApp) {
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).single().unwrap();
    let population = Population::new(150, 21, start).with_mix("regular=3,at_risk=1,churner=1".parse().unwrap());
    for day in 0..30 {
        Population::append(app.store.as_ref(), &population.day(day)).await.unwrap();
    }
}

async fn post(app: &TestApp, path: &str, body: &str) -> reqwest::Response {
    app.client.post(format!("{}{path}", app.address)).body(body.to_owned()).send().await.unwrap()
}

/// Polls a training job until it ends.
async fn finished(app: &TestApp, job: &str) -> Value {
    loop {
        let body: Value = app.get(job).await.json().await.unwrap();
        if body["state"] != "running" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn train_then_activate(app: TestApp) {
    let none: Value = app.get("/v1/models").await.json().await.unwrap();
    assert_eq!(none, json!({"active": null, "decisions": "hard_rules_only", "models": [], "next": null}));
    history(&app).await;

    let started = post(&app, "/v1/models/train", "").await;
    assert_eq!(started.status(), 202);
    let job = started.headers()["location"].to_str().unwrap().to_owned();
    // `null` takes the defaults as an empty body does: refused only as a second job.
    let second = post(&app, "/v1/models/train", "null").await;
    problem(second, 409).await;
    let done = finished(&app, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["events_replayed"], done["events_to_replay"]);
    let version = done["version"].as_str().unwrap().to_owned();

    let listed: Value = app.get("/v1/models").await.json().await.unwrap();
    assert_eq!((&listed["active"], &listed["decisions"]), (&Value::Null, &json!("hard_rules_only")));
    assert_eq!(listed["models"][0]["version"], version.as_str());
    assert!(listed["models"][0]["harm"]["roc_auc"].as_f64().unwrap() > 0.8, "{listed}");

    let activated = post(&app, &format!("/v1/models/{version}/activate"), "").await;
    assert_eq!(activated.status(), 200);
    let listed: Value = app.get("/v1/models").await.json().await.unwrap();
    assert_eq!((&listed["active"], &listed["decisions"]), (&json!(version), &json!("model_and_hard_rules")));
    assert_eq!(listed["models"][0]["active"], true);
    let detail: Value = app.get(&format!("/v1/models/{version}")).await.json().await.unwrap();
    assert_eq!(detail["artifact"]["version"], version.as_str());
    assert_eq!(detail["artifact"]["feature_names"].as_array().unwrap().len(), ml::INPUTS);

    // The same data trains the same version; activating it again changes nothing.
    let again = post(&app, "/v1/models/train", r#"{"activate": true}"#).await;
    let job = again.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(finished(&app, &job).await["version"], version.as_str());
    let listed: Value = app.get("/v1/models").await.json().await.unwrap();
    assert_eq!(listed["models"].as_array().unwrap().len(), 1);
    assert_eq!(listed["active"], version.as_str());
    assert_eq!(listed["next"], Value::Null);
    let after: Value = app.get(&format!("/v1/models?after={version}&limit=1")).await.json().await.unwrap();
    assert_eq!((after["models"].as_array().unwrap().len(), &after["next"]), (0, &Value::Null));
    let body = problem(app.get("/v1/models?after=no-such-version").await, 404).await;
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("no-such-version")), "{body}");
}

#[tokio::test]
async fn a_trained_version_is_registered_and_activated_on_sqlite() {
    train_then_activate(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn a_trained_version_is_registered_and_activated_on_postgres() {
    train_then_activate(TestApp::postgres().await).await;
}

/// Instances sharing the database train one job at a time between them, each
/// shows the job, and a version activated through one scores on every one.
#[tokio::test]
async fn training_and_activation_hold_across_instances_on_postgres() {
    let (first, second) = TestApp::postgres_pair().await;
    history(&first).await;
    let started = post(&first, "/v1/models/train", r#"{"activate": true}"#).await;
    let job = started.headers()["location"].to_str().unwrap().to_owned();
    problem(post(&second, "/v1/models/train", "").await, 409).await;
    let shown: Value = second.get(&job).await.json().await.unwrap();
    assert_eq!(shown["state"], "running", "{shown}");
    let done = finished(&second, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let version = done["version"].clone();
    let mut seen = Value::Null;
    for _ in 0..200 {
        seen = second.get("/v1/models").await.json::<Value>().await.unwrap()["active"].clone();
        if seen == version {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, version, "the other instance does not score with the activated version");
}

#[tokio::test]
async fn model_errors_are_problems() {
    let app = TestApp::sqlite().await;
    problem(app.get("/v1/models/0123456789abcdef").await, 404).await;
    problem(post(&app, "/v1/models/0123456789abcdef/activate", "").await, 404).await;
    problem(app.get("/v1/models/jobs/not-a-job").await, 400).await;
    problem(app.get(&format!("/v1/models/jobs/{}", uuid::Uuid::now_v7())).await, 404).await;
    let out_of_range = problem(post(&app, "/v1/models/train", r#"{"harm_precision": 2}"#).await, 400).await;
    assert!(out_of_range["detail"].as_str().unwrap().contains("harm_precision"), "{out_of_range}");
    problem(post(&app, "/v1/models/train", "{").await, 400).await;
    // Only a body with nothing in it takes the defaults; whitespace alone is not JSON.
    problem(post(&app, "/v1/models/train", "\r").await, 400).await;
    // Training an empty store fails as a job, with the reason.
    let started = post(&app, "/v1/models/train", "").await;
    let job = started.headers()["location"].to_str().unwrap().to_owned();
    let failed = finished(&app, &job).await;
    assert_eq!(failed["state"], "failed");
    assert!(failed["error"].as_str().unwrap().contains("not enough data"), "{failed}");
}
