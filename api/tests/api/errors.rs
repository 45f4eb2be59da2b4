//! Every error is problem+json, also those axum answers before a handler runs.

use serde_json::json;

use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn rejections_before_a_handler_are_problems_too() {
    let app = TestApp::sqlite().await;
    let too_large = "x".repeat(2 * 1024 * 1024);
    for path in ["/v1/webhooks", "/v1/models/train", "/v1/webhooks/0193a1b2-0000-7000-8000-000000000000/replay"] {
        let response = app.client.post(format!("{}{path}", app.address)).body(too_large.clone()).send().await.unwrap();
        let body = problem(response, 413).await;
        assert_eq!(body["type"], "/problems/payload-too-large", "{path}: {body}");
    }
    problem(app.get("/v1/nothing/here").await, 404).await;
    let wrong_method = app.client.put(format!("{}/v1/webhooks", app.address)).send().await.unwrap();
    problem(wrong_method, 405).await;
    let bad = problem(app.post("/v1/webhooks", &json!(["not", "an", "object"])).await, 400).await;
    assert_eq!(bad["type"], "/problems/malformed-body");
}
