//! API keys: open on loopback until a key exists, then 401 without a key and
//! 403 without the scope, for every route group; revocation at once, on every
//! instance; no start on a reachable address without a key.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::testing::TempSqlite;

use crate::helpers::{STRUCTURED, TestApp, bet, nudge, problem, serve_on};

/// Every route group: (method, path, scope it needs).
const GROUPS: [(Method, &str, &str); 12] = [
    (Method::POST, "/v1/events", "events:write"),
    (Method::GET, "/dapr/subscribe", "events:write"),
    (Method::GET, "/v1/players/p1/events", "read"),
    (Method::GET, "/v1/players/p1/features", "read"),
    (Method::GET, "/v1/players/p1/recommendations", "read"),
    (Method::GET, "/v1/recommendations", "read"),
    (Method::DELETE, "/v1/players/p1", "admin"),
    (Method::GET, "/v1/webhooks", "admin"),
    (Method::GET, "/v1/models", "admin"),
    (Method::GET, "/v1/projections", "admin"),
    (Method::GET, "/v1/cluster", "admin"),
    (Method::GET, "/v1/keys", "admin"),
];

async fn call(app: &TestApp, method: &Method, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = app.client.request(method.clone(), format!("{}{path}", app.address));
    if *method == Method::POST {
        request = request.header("content-type", STRUCTURED).body(bet("k1", "p1", 100).to_string());
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_route_group_needs_a_key_with_its_scope_once_a_key_exists() {
    let app = TestApp::sqlite().await;
    assert_eq!(call(&app, &Method::GET, "/v1/webhooks", None).await.status(), 200, "open on loopback without keys");

    let keys = &app.keys;
    let now = chrono::Utc::now();
    let mut secrets = std::collections::HashMap::new();
    for scope in ["events:write", "read", "admin"] {
        let made = keys.create(scope, &api::services::keys::Scope::parse_list(scope).unwrap(), now).await.unwrap();
        secrets.insert(scope, made.secret);
    }
    for (method, path, needed) in &GROUPS {
        let response = call(&app, method, path, None).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{path}");
        problem(response, 401).await;
        problem(call(&app, method, path, Some("nudge_not-a-key")).await, 401).await;
        for (scope, secret) in &secrets {
            let status = call(&app, method, path, Some(secret)).await.status();
            if scope == needed || *scope == "admin" {
                assert_ne!(status, StatusCode::FORBIDDEN, "{scope} on {method} {path}");
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{scope} on {method} {path}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{scope} on {method} {path}");
            }
        }
    }
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(open).await.status(), 200, "{open}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = TestApp::sqlite().await;
    let admin = app.keys.create("ops", &[api::services::keys::Scope::Admin], chrono::Utc::now()).await.unwrap().secret;
    let created = app
        .client
        .post(format!("{}/v1/keys", app.address))
        .bearer_auth(&admin)
        .json(&json!({"name": "dashboard", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let (id, reader) = (created["id"].as_str().unwrap(), created["key_secret"].as_str().unwrap());
    assert_eq!(call(&app, &Method::GET, "/v1/recommendations", Some(reader)).await.status(), 200);

    let listed: Value = app
        .client
        .get(format!("{}/v1/keys", app.address))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.to_string().find(reader).is_none(), "a listing never shows a key");
    assert_eq!((listed["keys"].as_array().map(Vec::len), &listed["next"]), (Some(2), &Value::Null));
    let page = app.client.get(format!("{}/v1/keys?limit=1", app.address)).bearer_auth(&admin).send().await.unwrap();
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["next"], page["keys"][0]["id"]);
    let revoked = app.client.delete(format!("{}/v1/keys/{id}", app.address)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    problem(call(&app, &Method::GET, "/v1/recommendations", Some(reader)).await, 401).await;
}

#[test]
fn nudge_refuses_a_reachable_address_without_a_key_and_serves_there_with_one() {
    let db = TempSqlite::new().unwrap();
    let output = nudge().args(["serve", "--listen", "0.0.0.0:0", "--store", &db.url()]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nudge keys create --name ops --scopes admin"), "{stderr}");

    let created =
        nudge().args(["keys", "create", "--name", "ops", "--scopes", "admin", "--store", &db.url()]).output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(String::from_utf8_lossy(&created.stdout).starts_with("nudge_"));
    let listed = nudge().args(["keys", "list", "--store", &db.url()]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ops"));
    // With a key it starts (and is killed at once; nothing is sent to it).
    let (_nudge, address) = serve_on("0.0.0.0:0", &db.url(), &[]);
    assert!(address.starts_with("http://0.0.0.0:"), "{address}");
}

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_by_the_other() {
    let (first, second) = TestApp::postgres_pair().await;
    let admin = first.keys.create("ops", &[api::services::keys::Scope::Admin], chrono::Utc::now()).await.unwrap();
    let reader = first.keys.create("dashboard", &[api::services::keys::Scope::Read], chrono::Utc::now()).await.unwrap();
    // The second instance reads the key once and keeps it.
    assert_eq!(call(&second, &Method::GET, "/v1/recommendations", Some(&reader.secret)).await.status(), 200);
    let path = format!("{}/v1/keys/{}", first.address, reader.key.id);
    assert_eq!(first.client.delete(path).bearer_auth(&admin.secret).send().await.unwrap().status(), 204);
    // The signal (or, were it lost, the second's one-second memory) ends the key there too.
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = call(&second, &Method::GET, "/v1/recommendations", Some(&reader.secret)).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn a_key_that_cannot_be_shown_is_revoked_and_bad_names_and_stores_are_refused() {
    let db = TempSqlite::new().unwrap();
    let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
    let create = ["keys", "create", "--name", "lost", "--scopes", "read", "--store"];
    let lost = nudge().args(create).arg(db.url()).stdout(full).output().unwrap();
    assert!(!lost.status.success());
    let stderr = String::from_utf8_lossy(&lost.stderr);
    assert!(stderr.contains("was made, then revoked: it could not be shown"), "{stderr}");
    let listed = nudge().args(["keys", "list", "--store", &db.url()]).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("lost") && listed.contains("revoked") && !listed.contains("in force"), "{listed}");
    // A reader gone before the key was written: it was not shown either.
    let mut closed = nudge().args(create).arg(db.url()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    drop(closed.stdout.take());
    assert!(!closed.wait().unwrap().success());
    let listed = nudge().args(["keys", "list", "--store", &db.url()]).output().unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("in force"));

    for name in ["", "   ", &"n".repeat(101)] {
        let args = ["keys", "create", "--scopes", "read", "--name", name, "--store", &db.url()];
        let refused = nudge().args(args).output().unwrap();
        assert!(String::from_utf8_lossy(&refused.stderr).contains("1 to 100 characters"), "{name:?}");
    }
    let secret = "nudge_NotAnIdButASecretPastedByMistake0123456789";
    let revoked = nudge().args(["keys", "revoke", secret, "--store", &db.url()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&revoked.stderr);
    assert!(stderr.contains("that is a key, not its id") && !stderr.contains(secret), "{stderr}");
    let revoked = nudge().args(["keys", "revoke", "bogus", "--store", &db.url()]).output().unwrap();
    assert!(String::from_utf8_lossy(&revoked.stderr).contains("the UUID `nudge keys list` shows"));
    let bogus = nudge().args(["keys", "create", "--name", "x", "--scopes", "read", "--store", "bogus://x"]).output();
    assert!(String::from_utf8_lossy(&bogus.unwrap().stderr).contains("sqlite://, postgres:// or kurrentdb://"));
}
