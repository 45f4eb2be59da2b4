//! The CloudEvent body in the OpenAPI document: one schema per player event
//! type, with `data` as the domain reads it.

use domain::EventType;
use serde_json::json;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{Components, RefOr, schema::Schema},
};

/// Adds the schema of every player event type, and of any JSON value, to `components`.
pub(super) fn add_schemas(components: &mut Components) {
    components.schemas.insert(JSON_VALUE.to_owned(), RefOr::T(json_value()));
    for event_type in EventType::ALL {
        let schema = serde_json::from_value(event_schema(*event_type)).unwrap_or_default();
        components.schemas.insert(schema_name(*event_type), RefOr::T(schema));
    }
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
                           "minimum": i64::MIN, "maximum": i64::MAX,
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
}
