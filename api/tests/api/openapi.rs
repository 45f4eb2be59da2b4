//! The OpenAPI document: committed, served, complete, and the page that shows it.

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const REGENERATE: &str = "cargo run --bin nudge -- openapi > openapi.json";

fn generated() -> Value {
    serde_json::to_value(api::server::routes::openapi()).unwrap()
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(committed == generated(), "openapi.json is out of date with the routes: run `{REGENERATE}`");
}

/// The API's router is built in `src/server` (and served from `src/app.rs`):
/// there, every way of adding a route without `#[utoipa::path]` is refused; the
/// one `merge` is the documentation page, whose routes the document adds.
#[test]
fn no_route_is_added_around_the_document() {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut undocumented = Vec::new();
    let mut merges = 0;
    let mut files = vec![sources.join("server"), sources.join("app.rs")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for call in [".route(", ".route_service(", ".nest(", ".nest_service(", ".fallback_service("] {
            if text.contains(call) {
                undocumented.push(format!("{} calls {call}", path.display()));
            }
        }
        merges += text.matches(".merge(").count();
    }
    assert!(undocumented.is_empty(), "routes outside OpenApiRouter::routes(routes!(..)): {undocumented:?}");
    assert_eq!(merges, 1, "only the Swagger UI page is merged in");
}

/// A value for each path parameter that reaches the handler.
fn sample(parameter: &str) -> &'static str {
    match parameter {
        "player_id" => "p1",
        "version" => "v1",
        "asset" => "index.css",
        _ => "0190a0b0-0000-7000-8000-000000000000",
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_the_served_document_is_the_generated_one() {
    let app = TestApp::sqlite().await;
    let served: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(served, generated());
    let paths = served["paths"].as_object().unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert!(paths.len() >= 28, "{} paths", paths.len());
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(parameter) => sample(parameter),
                None => segment,
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = client.request(method.clone(), format!("{}{concrete}", app.address)).send().await.unwrap();
            let status = response.status().as_u16().to_string();
            assert!(
                operation["responses"].get(&status).is_some(),
                "{method} {concrete} answered {status}, which the document does not list"
            );
            if response.status().is_client_error() {
                let problem: Value = response.json().await.unwrap();
                let kind = problem["type"].as_str().unwrap_or_default();
                assert!(
                    !["/problems/no-such-route", "/problems/method-not-allowed"].contains(&kind),
                    "{method} {path} is documented but not routed: {problem}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_documentation_page_is_served_offline() {
    let app = TestApp::sqlite().await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let assets: Vec<&str> = html.split(['"', '\'']).filter(|s| s.ends_with(".js") || s.ends_with(".css")).collect();
    assert!(assets.len() >= 3, "{html}");
    for asset in assets {
        assert!(!asset.contains("//"), "the page loads {asset} from elsewhere");
        let response = app.get(&format!("/docs/{}", asset.trim_start_matches("./"))).await;
        assert_eq!(response.status(), 200, "{asset}");
    }
    let initializer = app.get("/docs/swagger-initializer.js").await.text().await.unwrap();
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
}

/// Client generators name a method after each operation: every operation has an
/// id of its own, a camelCase verb and noun.
#[test]
fn every_operation_has_a_unique_camel_case_id() {
    let document = generated();
    let mut seen = std::collections::HashSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{method} {path}: {id} is not camelCase"
            );
            assert!(seen.insert(id.to_owned()), "{method} {path}: {id} is used twice");
        }
    }
}

/// Every pattern in the document, found wherever it is.
fn patterns(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            found.extend(members.get("pattern").and_then(Value::as_str).map(str::to_owned));
            members.values().for_each(|member| patterns(member, found));
        }
        Value::Array(items) => items.iter().for_each(|item| patterns(item, found)),
        _ => {}
    }
}

/// A client's validator, schemathesis and the server read a pattern alike only if it
/// spells its classes out: `\s`, `\w`, `\d` and `\b` each mean another set in ECMAScript,
/// Python and Rust (ECMAScript's `\s` leaves out U+0085, which Rust's and Python's hold).
#[test]
fn no_pattern_uses_a_class_escape_whose_meaning_differs_between_regex_flavours() {
    let mut found = Vec::new();
    patterns(&generated(), &mut found);
    assert!(found.len() >= 4, "{found:?}");
    for pattern in found {
        let escapes = ["\\s", "\\S", "\\w", "\\W", "\\d", "\\D", "\\b", "\\B"];
        assert!(!escapes.iter().any(|escape| pattern.contains(escape)), "{pattern}");
    }
}

/// A key's name is refused exactly when the document's pattern finds nothing in it.
#[tokio::test]
async fn a_key_name_is_refused_exactly_when_the_documents_pattern_finds_nothing() {
    let document = generated();
    let pattern = document["components"]["schemas"]["NewKey"]["properties"]["name"]["pattern"].as_str().unwrap();
    let pattern = regex::Regex::new(pattern).unwrap();
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        assert_eq!(pattern.is_match(c.encode_utf8(&mut [0; 4])), !c.is_whitespace(), "U+{:04X}", u32::from(c));
    }
    let app = TestApp::sqlite().await;
    for blank in ["\u{85}", " \u{2028}\t"] {
        let answer = app.post("/v1/keys", &json!({"name": blank, "scopes": ["read"]})).await;
        let refused = crate::helpers::problem(answer, 400).await;
        assert_eq!(refused["errors"][0]["pointer"], "/name");
    }
    let response = app.post("/v1/keys", &json!({"name": "\u{feff}\u{1c}", "scopes": ["read"]})).await;
    assert_eq!(response.status(), 201);
}

#[test]
fn the_document_piped_into_a_reader_that_stops_early_ends_quietly() {
    let mut child = crate::helpers::nudge().arg("openapi").stdout(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
    let output = crate::helpers::nudge().arg("openapi").stdout(full).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write to standard output"));
}
