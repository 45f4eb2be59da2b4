use serde_json::{Value, json};

use crate::helpers::{BATCH, TestApp, bet, problem};

#[tokio::test]
async fn a_stream_reads_in_pages() {
    let app = TestApp::sqlite().await;
    let events: Vec<Value> = (0..5).map(|i| bet(&format!("e{i}"), "pager", 10 + i)).collect();
    assert_eq!(app.post_json(BATCH, &json!(events)).await.status(), 202);

    let page: Value = app.get("/v1/players/pager/events?limit=2").await.json().await.unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["next"], 1);
    let page: Value = app.get("/v1/players/pager/events?after=1&limit=3").await.json().await.unwrap();
    let revisions: Vec<_> =
        page["events"].as_array().unwrap().iter().map(|e| e["revision"].as_u64().unwrap()).collect();
    assert_eq!(revisions, [2, 3, 4]);
    assert_eq!(page["next"], Value::Null);
}

#[tokio::test]
async fn bad_reads_are_problems() {
    let app = TestApp::sqlite().await;
    problem(app.get("/v1/players/nobody/events").await, 404).await;
    let body = problem(app.get("/v1/players/bad%20id/events").await, 400).await;
    assert_eq!(body["errors"][0]["parameter"], "player_id");
    let body = problem(app.get("/v1/players/p/events?limit=0").await, 400).await;
    assert_eq!(body["errors"][0]["parameter"], "limit");
    problem(app.get("/v1/players/p/events?after=-1").await, 400).await;
    problem(app.get("/no/such/route").await, 404).await;
    let put = app.client.put(format!("{}/v1/events", app.address)).send().await.unwrap();
    problem(put, 405).await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::sqlite().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let request_id = app.get("/healthz").await.headers().get("x-request-id").cloned();
    assert!(request_id.is_some(), "every answer carries x-request-id");
}
