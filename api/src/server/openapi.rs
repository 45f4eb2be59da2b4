//! The OpenAPI 3.1 document: what each route declares (`#[utoipa::path]`), plus
//! what every route can answer, added here once.

use axum::{
    http::{HeaderValue, header},
    response::IntoResponse,
};
use serde_json::json;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder,
        header::HeaderBuilder,
        path::{Operation, Parameter, ParameterIn},
        schema::{Schema, Type},
        security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme},
    },
};

mod cloudevent;

pub use cloudevent::CloudEvent;

use crate::server::{
    Limits,
    problem::{FieldProblem, PROBLEM_JSON, Problem},
};

/// Whether anyone may call the route, key or not: health, metrics, the
/// documentation and the console's page (whose calls to the API need a key).
pub fn is_open(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/docs" | "/console")
        || route.starts_with("/docs/")
        || route.starts_with("/console/")
}

/// The name of the API-key security scheme.
const BEARER: &str = "api_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nudge",
        description = "Player events in, safer-gambling prompts, retention offers and game suggestions out. \
                       Every error is an RFC 9457 problem (`application/problem+json`); every answer carries \
                       an `x-request-id`. Lists are cursor pages: `limit` (at most the server's maximum), \
                       `after` (the `next` of the page before) and `next` in the answer.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "events", description = "Ingest CloudEvents and read a player's stream"),
        (name = "players", description = "A player's features, and their erasure"),
        (name = "recommendations", description = "What the policy decided, per player and as a feed"),
        (name = "models", description = "Model versions: train, inspect, activate"),
        (name = "webhooks", description = "Webhook subscriptions and their deliveries"),
        (name = "keys", description = "API keys"),
        (name = "projections", description = "Read models and their rebuilds"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
    components(schemas(Problem, FieldProblem, CloudEvent)),
)]
struct Declared;

/// The document's root: info, tags and shared schemas; the routes add their paths.
pub fn root() -> Document {
    Declared::openapi()
}

/// Adds what every route shares: the security scheme, the `x-request-id`
/// header, and the problems any route can answer.
pub fn complete(document: &mut Document) {
    for (path, item) in docs_paths() {
        document.paths.paths.insert(path, item);
    }
    cloudevent::add_schemas(document.components.get_or_insert_with(Default::default));
    Conventions.modify(document);
}

/// The documentation page's routes (served by Swagger UI, not by a handler).
fn docs_paths() -> Vec<(String, openapi::PathItem)> {
    let page = |id: &str, summary: &str, status: &str, description: &str, content: serde_json::Value| {
        json!({"get": {
            "tags": ["operations"],
            "summary": summary,
            "operationId": id,
            "responses": {status: {"description": description, "content": content}},
        }})
    };
    let html = json!({"text/html": {"schema": {"type": "string"}}});
    [
        ("/docs", page("redirectToDocs", "Docs redirect", "303", "To `/docs/`", json!({}))),
        (
            "/docs/",
            page("getDocsPage", "Docs page", "200", "This API's documentation (Swagger UI), served offline", html),
        ),
        (
            "/docs/{asset}",
            json!({"get": {
                "tags": ["operations"],
                "summary": "Docs asset",
                "operationId": "getDocsAsset",
                "parameters": [{"name": "asset", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "A script, style sheet or image of the page", "content": {"*/*": {}}},
                    "404": {"description": "No such asset", "content": {}},
                },
            }}),
        ),
    ]
    .into_iter()
    .filter_map(|(path, item)| serde_json::from_value(item).ok().map(|item| (path.to_owned(), item)))
    .collect()
}

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: `nudge keys create --name <n> --scopes <s>`."))
                    .build(),
            ),
        );
        for (path, item) in document.paths.paths.iter_mut() {
            let open = is_open(path);
            for operation in operations(item) {
                let takes_body = operation.request_body.is_some();
                let mut common =
                    vec![(500, "Internal error"), (503, "A database is unavailable, or the request timed out")];
                if !open {
                    operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                    common.extend([
                        (401, "No API key, or an unknown or revoked one"),
                        (403, "The key lacks the scope this route needs"),
                        (429, "Too many requests for this key: see `Retry-After`"),
                    ]);
                }
                if takes_body {
                    common.push((413, "The body is larger than allowed"));
                }
                if takes_body || operation.parameters.iter().flatten().any(checked) {
                    common.push((400, "Invalid parameters or body: see `errors`"));
                }
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
                }
                for (status, response) in operation.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else { continue };
                    if status.starts_with('4') || status.starts_with('5') {
                        response.content.entry(PROBLEM_JSON.to_owned()).or_insert_with(|| {
                            RefOr::T(ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
                        });
                        response.content.retain(|media_type, _| media_type == PROBLEM_JSON);
                    }
                    response.headers.insert("x-request-id".to_owned(), RefOr::T(request_id_header()));
                }
            }
        }
    }
}

/// States the limits this server enforces, which its flags set: the largest
/// `limit` of every list (`--max-page`) and the events a batch holds (`--max-batch`).
pub fn state_limits(document: &mut Document, limits: &Limits) {
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(Parameter { name, schema: Some(RefOr::T(Schema::Object(schema))), .. }) = parameter
                    && name == "limit"
                {
                    schema.maximum = Some(limits.max_page.into());
                }
            }
            let Some(RefOr::T(body)) = operation.request_body.as_mut() else { continue };
            if let Some(RefOr::T(Content { schema: Some(RefOr::T(Schema::Array(batch))), .. })) =
                body.content.get_mut("application/cloudevents-batch+json")
            {
                batch.min_items = Some(1);
                batch.max_items = Some(limits.max_batch);
            }
        }
    }
}

fn operations(item: &mut openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [item.get.as_mut(), item.post.as_mut(), item.put.as_mut(), item.patch.as_mut(), item.delete.as_mut()]
        .into_iter()
        .flatten()
}

/// Whether nudge checks the parameter's value (and so may answer 400): every
/// query parameter, and the ids in paths (a model `version` is any string).
fn checked(parameter: &RefOr<Parameter>) -> bool {
    matches!(parameter, RefOr::T(p) if p.parameter_in == ParameterIn::Query || p.name.ends_with("_id"))
}

fn request_id_header() -> openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(openapi::ObjectBuilder::new().schema_type(Type::String)))
        .description(Some("The request's id: the one sent, or a new UUID"))
        .build()
}

/// The document as JSON, for `GET /openapi.json`.
#[derive(Clone)]
pub struct Served(pub bytes::Bytes);

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub async fn document(axum::Extension(Served(json)): axum::Extension<Served>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documentation_page_routes_read_as_path_items() {
        let paths: Vec<String> = docs_paths().into_iter().map(|(path, _)| path).collect();
        assert_eq!(paths, ["/docs", "/docs/", "/docs/{asset}"]);
    }
}
