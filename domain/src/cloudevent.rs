//! The CloudEvents 1.0 mapping: structured JSON in and out, and validation that
//! names every offending field. (The tests check it against the CloudEvents SDK's
//! `Event`, both ways.)

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    EventType, FieldError, PlayerEvent, PlayerId, ValidationErrors, parse_timestamp, validation::control_characters,
};
use data::parse_data;
use structured::Structured;

/// The namespace of [`event_uuid`]s.
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x6e75_6467_652d_4576_656e_7449_6473_0001);

/// Most characters in a CloudEvent `id`.
const MAX_ID_LEN: usize = 256;

/// The attributes CloudEvents defines; any other top-level member is an extension.
const CONTEXT_ATTRIBUTES: [&str; 10] =
    ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"];

/// The deterministic id of the event (`source`, `id`): UUIDv5, so that every store
/// and every replay names the same event the same way.
pub fn event_uuid(source: &str, id: &str) -> Uuid {
    Uuid::new_v5(&EVENT_NAMESPACE, format!("{}:{source}{id}", source.len()).as_bytes())
}

impl PlayerEvent {
    /// Reads and validates a structured-mode CloudEvent, reporting every problem.
    pub fn from_json(value: &Value) -> Result<Self, ValidationErrors> {
        let Some(object) = value.as_object() else {
            return Err(ValidationErrors(vec![FieldError::new("", "must be a JSON object (a CloudEvent)")]));
        };
        let mut errors = Vec::new();
        let mut attr = Attributes { object, errors: &mut errors };
        attr.specversion();
        let id = attr.string("id", MAX_ID_LEN);
        let source = attr.string("source", usize::MAX);
        let player_id = attr.subject();
        let event_type = attr.event_type();
        let time = attr.time();
        attr.datacontenttype();
        let extensions = attr.extensions();
        let data = event_type.and_then(|t| parse_data(t, object, &mut errors));
        control_characters(value, "", &mut errors);
        match (id, source, player_id, time, data) {
            (Some(id), Some(source), Some(player_id), Some(time), Some((data, extra))) if errors.is_empty() => {
                Ok(Self { id, source, player_id, time, data, extra, extensions })
            }
            _ => Err(ValidationErrors(errors)),
        }
    }

    /// The event as a structured-mode CloudEvent.
    pub fn to_json(&self) -> Value {
        // Writing into a `Value` fails only on a map key that is not a string,
        // and every key of the view is one.
        serde_json::to_value(Structured(self)).unwrap_or_default()
    }

    /// The event as a structured-mode CloudEvent in JSON text, written straight
    /// from the event: what [`PlayerEvent::to_json`] holds, without building it.
    pub fn to_json_text(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&Structured(self))
    }
}

fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Reads the context attributes, recording each problem.
struct Attributes<'a> {
    object: &'a Map<String, Value>,
    errors: &'a mut Vec<FieldError>,
}

impl Attributes<'_> {
    fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(format!("/{name}"), message));
    }

    fn specversion(&mut self) {
        match self.object.get("specversion") {
            Some(Value::String(v)) if v == "1.0" => {}
            None => self.fail("specversion", "is required"),
            Some(_) => self.fail("specversion", "must be \"1.0\""),
        }
    }

    /// A required, non-empty string of at most `max` characters.
    fn string(&mut self, name: &str, max: usize) -> Option<String> {
        match self.object.get(name) {
            None | Some(Value::Null) => self.fail(name, "is required"),
            Some(Value::String(s)) if s.is_empty() => self.fail(name, "must not be empty"),
            Some(Value::String(s)) if s.chars().count() > max => {
                self.fail(name, format!("must be at most {max} characters"))
            }
            Some(Value::String(s)) => return Some(s.clone()),
            Some(_) => self.fail(name, "must be a string"),
        }
        None
    }

    fn subject(&mut self) -> Option<PlayerId> {
        let subject = self.string("subject", usize::MAX)?;
        PlayerId::parse(&subject).map_err(|e| self.fail("subject", e.to_string())).ok()
    }

    fn event_type(&mut self) -> Option<EventType> {
        let name = self.string("type", usize::MAX)?;
        let known = EventType::parse(&name);
        if known.is_none() {
            let (first, example) = (EventType::Registered.as_str(), EventType::BetPlaced.as_str());
            self.fail("type", format!("{name:?} is not a player event type ({first}, {example}, ...)"));
        }
        known
    }

    fn time(&mut self) -> Option<DateTime<Utc>> {
        let time = self.string("time", usize::MAX)?;
        let parsed = parse_timestamp(&time);
        if parsed.is_none() {
            self.fail("time", "must be an RFC 3339 timestamp, e.g. 2026-11-24T10:00:00Z");
        }
        parsed
    }

    fn datacontenttype(&mut self) {
        match self.object.get("datacontenttype") {
            None => {}
            Some(Value::String(t)) => {
                let media = t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
                if media != "application/json" && !media.ends_with("+json") {
                    self.fail("datacontenttype", "must be application/json (data is a JSON object)");
                }
            }
            Some(_) => self.fail("datacontenttype", "must be a string"),
        }
        if self.object.contains_key("data_base64") {
            self.fail("data_base64", "is not accepted: data must be a JSON object");
        }
    }

    /// Every attribute that is not a context attribute, checked by the
    /// CloudEvents rules: a lower-case alphanumeric name; a string, integer or
    /// boolean value. `dataschema` is kept with them.
    fn extensions(&mut self) -> BTreeMap<String, Value> {
        let mut extensions = BTreeMap::new();
        for (name, value) in self.object {
            if CONTEXT_ATTRIBUTES.contains(&name.as_str()) && name != "dataschema" {
                continue;
            }
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                self.fail(name, "is not a valid extension name (lower-case letters and digits only)");
                continue;
            }
            let value = match value {
                Value::String(_) | Value::Bool(_) => value.clone(),
                Value::Number(n) if let Some(i) = data::whole(n) => Value::from(i),
                _ => {
                    self.fail(name, "must be a string, an integer or a boolean");
                    continue;
                }
            };
            extensions.insert(name.clone(), value);
        }
        extensions
    }
}

mod data;
mod structured;
#[cfg(test)]
mod tests;
