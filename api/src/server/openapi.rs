//! The OpenAPI 3.1 document: what each route declares (`#[utoipa::path]`), plus
//! what every route can answer, added here once.

use axum::{
    http::{HeaderValue, header},
    response::IntoResponse,
};
use domain::EventType;
use serde_json::json;
use utoipa::{
    Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        self, Content, ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder,
        header::HeaderBuilder,
        path::{Operation, Parameter, ParameterIn},
        schema::{Schema, Type},
        security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme},
    },
};

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
    let components = document.components.get_or_insert_with(Default::default);
    components.schemas.insert(JSON_VALUE.to_owned(), RefOr::T(json_value()));
    for event_type in EventType::ALL {
        let schema = serde_json::from_value(event_schema(*event_type)).unwrap_or_default();
        components.schemas.insert(schema_name(*event_type), RefOr::T(schema));
    }
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

/// A CloudEvent (structured mode) of one of the player event types.
pub struct CloudEvent;

impl PartialSchema for CloudEvent {
    fn schema() -> RefOr<Schema> {
        let variants: Vec<_> = EventType::ALL
            .iter()
            .map(|event_type| json!({"$ref": format!("#/components/schemas/{}", schema_name(*event_type))}))
            .collect();
        let schema = json!({
            "description": "A CloudEvents 1.0 event of one of the player event types. Money is an integer of \
                            minor units with its `currency` (ISO 4217). Fields of `data` nudge does not know, \
                            and extension attributes, are kept as sent.",
            "oneOf": variants,
            "example": {
                "specversion": "1.0",
                "id": "bet-1",
                "source": "casino",
                "type": "player.bet.placed",
                "subject": "42",
                "time": "2026-11-24T12:00:00Z",
                "data": {"bet_id": "b1", "game_id": "starburst", "stake": 250, "currency": "EUR"},
            },
        });
        serde_json::from_value(schema).map_or_else(|_| RefOr::T(Schema::default()), RefOr::T)
    }
}

impl ToSchema for CloudEvent {}

/// The component naming an event type's schema: `player.bet.placed` is `PlayerBetPlaced`.
fn schema_name(event_type: EventType) -> String {
    let words = event_type.as_str().split(['.', '_']);
    words
        .map(|word| {
            let mut letters = word.chars();
            letters.next().map(|first| first.to_ascii_uppercase().to_string() + letters.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The component naming any JSON value nudge keeps as sent in `data`.
const JSON_VALUE: &str = "JsonValue";

/// Any JSON value without control characters in its strings and member names.
fn json_value() -> Schema {
    let value = json!({"$ref": format!("#/components/schemas/{JSON_VALUE}")});
    let schema = json!({
        "description": "Any JSON value; no control characters in its strings and member names",
        "anyOf": [
            {"type": "string", "pattern": NO_CONTROL},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": value},
            {"type": "object", "propertyNames": {"type": "string", "pattern": NO_CONTROL}, "additionalProperties": value},
        ],
    });
    serde_json::from_value(schema).unwrap_or_default()
}

/// A string without control characters (U+0000-U+001F, U+007F-U+009F), which
/// nudge refuses anywhere in an event.
const NO_CONTROL: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// The schema of one event type: the context attributes, and `data` as the domain reads it.
fn event_schema(event_type: EventType) -> serde_json::Value {
    let text = json!({"type": "string", "minLength": 1, "pattern": NO_CONTROL});
    let currency = json!({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"});
    let positive = json!({"type": "integer", "minimum": 1, "maximum": domain::MAX_AMOUNT});
    let one_of = |values: Vec<&str>| json!({"type": "string", "enum": values});
    let members = json!({"$ref": format!("#/components/schemas/{JSON_VALUE}")});
    let object = |required: &[&str], properties: serde_json::Value| {
        json!({"type": "object", "required": required, "properties": properties,
               "propertyNames": {"type": "string", "pattern": NO_CONTROL}, "additionalProperties": members.clone()})
    };
    let money = |name: &str| {
        let mut data = object(&[name, "currency"], json!({"currency": currency}));
        data["properties"][name] = positive.clone();
        data
    };
    let data = match event_type {
        EventType::Registered => object(
            &["country", "currency"],
            json!({
                "country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
                "currency": currency,
                "birth_year": {"type": ["integer", "null"], "minimum": 1900, "maximum": 2100},
            }),
        ),
        EventType::SessionStarted => {
            object(&["channel"], json!({"channel": one_of(domain::Channel::ALL.iter().map(|c| c.as_str()).collect())}))
        }
        EventType::SessionEnded => {
            json!({"type": ["object", "null"], "propertyNames": {"type": "string", "pattern": NO_CONTROL},
                                          "additionalProperties": members})
        }
        EventType::DepositFailed => {
            let mut data = money("amount");
            data["required"] = json!(["amount", "currency", "reason"]);
            data["properties"]["reason"] = text.clone();
            data
        }
        EventType::DepositSucceeded | EventType::WithdrawalRequested | EventType::WithdrawalCancelled => {
            money("amount")
        }
        EventType::GameLaunched => object(&["game_id", "category"], json!({"game_id": text, "category": text})),
        EventType::BetPlaced | EventType::BetSettled => {
            let (name, amount) = if event_type == EventType::BetPlaced {
                ("stake", positive.clone())
            } else {
                (
                    "payout",
                    json!({"type": "integer", "minimum": 0, "maximum": domain::MAX_AMOUNT, "description": "0 for a lost bet"}),
                )
            };
            let mut data = object(
                &["bet_id", "game_id", name, "currency"],
                json!({"bet_id": text, "game_id": text, "currency": currency}),
            );
            data["properties"][name] = amount;
            data
        }
        EventType::LimitChanged => object(
            &["kind", "amount", "period"],
            json!({
                "kind": one_of(domain::LimitKind::ALL.iter().map(|k| k.as_str()).collect()),
                "amount": {"type": "integer", "minimum": 1, "maximum": domain::MAX_AMOUNT,
                           "description": "Minor units, or minutes for a session limit"},
                "period": one_of(domain::LimitPeriod::ALL.iter().map(|p| p.as_str()).collect()),
            }),
        ),
        EventType::SelfExcluded => {
            object(&["duration_days"], json!({"duration_days": {"type": "integer", "minimum": 1, "maximum": u32::MAX}}))
        }
        EventType::InterventionResponded => object(
            &["recommendation_id", "response"],
            json!({
                "recommendation_id": {"type": "string", "format": "uuid"},
                "response": one_of(domain::InterventionResponse::ALL.iter().map(|r| r.as_str()).collect()),
            }),
        ),
    };
    let mut required = vec!["specversion", "id", "source", "type", "subject", "time"];
    if event_type != EventType::SessionEnded {
        required.push("data");
    }
    json!({
        "title": event_type.as_str(),
        "type": "object",
        "required": required,
        "properties": {
            "specversion": {"type": "string", "enum": ["1.0"]},
            "id": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": NO_CONTROL,
                   "description": "Unique within `source`: a resend is a duplicate, stored once"},
            "source": {"type": "string", "minLength": 1, "pattern": NO_CONTROL,
                       "description": "The system that saw it happen"},
            "type": {"type": "string", "enum": [event_type.as_str()]},
            "subject": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$", "description": "The player id"},
            "time": {"type": "string", "format": "date-time",
                     "description": "Not before --event-time-min (2000-01-01), not more than --event-time-max-ahead (24 h) ahead of the server's clock, never a leap second (:60)"},
            "datacontenttype": {"type": "string",
                                "pattern": "^application/([a-z0-9.-]+\\+)?json(;[^\\u0000-\\u001F\\u007F-\\u009F]*)?$"},
            "dataschema": {"type": ["string", "integer", "boolean"], "pattern": NO_CONTROL,
                           "description": "Kept as sent, like an extension attribute"},
            "data": data,
        },
        "propertyNames": {"type": "string", "pattern": "^[a-z0-9]+$"},
        "additionalProperties": {"type": ["string", "integer", "boolean"], "pattern": NO_CONTROL,
                                 "minimum": i64::MIN, "maximum": i64::MAX,
                                 "description": "An extension attribute, e.g. `traceparent`"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_schema_utoipa_reads() {
        for event_type in EventType::ALL {
            let read = serde_json::from_value::<Schema>(event_schema(*event_type));
            assert!(read.is_ok(), "{}: {:?}", event_type.as_str(), read.err());
        }
        let RefOr::T(Schema::OneOf(one_of)) = CloudEvent::schema() else { panic!("not a oneOf") };
        assert_eq!(one_of.items.len(), EventType::ALL.len());
        assert_eq!(schema_name(EventType::BetPlaced), "PlayerBetPlaced");
        assert!(matches!(json_value(), Schema::AnyOf(any_of) if any_of.items.len() == 4));
        assert_eq!(schema_name(EventType::SelfExcluded), "PlayerSelfExcluded");
    }

    #[test]
    fn the_documentation_page_routes_read_as_path_items() {
        let paths: Vec<String> = docs_paths().into_iter().map(|(path, _)| path).collect();
        assert_eq!(paths, ["/docs", "/docs/", "/docs/{asset}"]);
    }
}
