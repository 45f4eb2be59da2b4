//! The CloudEvents 1.0 mapping: structured JSON in and out, `cloudevents::Event`
//! in and out, and validation that names every offending field.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use cloudevents::{AttributesWriter, Event};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    Channel, Country, Currency, EventData, EventType, FieldError, InterventionResponse, LimitKind, LimitPeriod,
    MAX_AMOUNT, Money, PlayerEvent, PlayerId, ValidationErrors, validation::control_characters,
};

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
        let mut object = Map::new();
        object.insert("specversion".to_owned(), "1.0".into());
        object.insert("id".to_owned(), self.id.as_str().into());
        object.insert("source".to_owned(), self.source.as_str().into());
        object.insert("type".to_owned(), self.event_type().as_str().into());
        object.insert("subject".to_owned(), self.player_id.as_str().into());
        object.insert("time".to_owned(), format_time(&self.time).into());
        object.insert("datacontenttype".to_owned(), "application/json".into());
        for (name, value) in &self.extensions {
            object.insert(name.clone(), value.clone());
        }
        object.insert("data".to_owned(), Value::Object(self.data_object()));
        Value::Object(object)
    }

    /// The `data` object: the typed fields and the unknown ones kept.
    fn data_object(&self) -> Map<String, Value> {
        let mut data = self.extra.clone();
        data.extend(self.data.to_fields());
        data
    }
}

fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl TryFrom<Event> for PlayerEvent {
    type Error = ValidationErrors;

    fn try_from(event: Event) -> Result<Self, Self::Error> {
        let value = serde_json::to_value(&event)
            .map_err(|e| ValidationErrors(vec![FieldError::new("", format!("cannot be read: {e}"))]))?;
        Self::from_json(&value)
    }
}

impl From<&PlayerEvent> for Event {
    fn from(player_event: &PlayerEvent) -> Self {
        let mut event = Event::default();
        event.set_id(player_event.id.as_str());
        event.set_source(player_event.source.as_str());
        event.set_type(player_event.event_type().as_str());
        event.set_subject(Some(player_event.player_id.as_str()));
        event.set_time(Some(player_event.time));
        event.set_data("application/json", Value::Object(player_event.data_object()));
        for (name, value) in &player_event.extensions {
            match value {
                Value::Bool(b) => event.set_extension(name, *b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => event.set_extension(name, i),
                    None => event.set_extension(name, n.to_string()),
                },
                Value::String(s) => event.set_extension(name, s.as_str()),
                other => event.set_extension(name, other.to_string()),
            }
        }
        event
    }
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
        DateTime::parse_from_rfc3339(&time)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| self.fail("time", "must be an RFC 3339 timestamp, e.g. 2026-11-24T10:00:00Z"))
            .ok()
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
            match value {
                Value::String(_) | Value::Bool(_) => {}
                Value::Number(n) if n.is_i64() => {}
                _ => {
                    self.fail(name, "must be a string, an integer or a boolean");
                    continue;
                }
            }
            extensions.insert(name.clone(), value.clone());
        }
        extensions
    }
}

/// Reads `data` for `event_type`; `None` when something is wrong (recorded).
fn parse_data(
    event_type: EventType,
    object: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<(EventData, Map<String, Value>)> {
    let empty = Map::new();
    let data = match object.get("data") {
        Some(Value::Object(data)) => data,
        None | Some(Value::Null) if event_type == EventType::SessionEnded => &empty,
        None | Some(Value::Null) => {
            errors.push(FieldError::new("/data", format!("is required for type {}", event_type.as_str())));
            return None;
        }
        Some(_) => {
            errors.push(FieldError::new("/data", "must be a JSON object"));
            return None;
        }
    };
    let before = errors.len();
    let mut f = Fields { data, errors, used: Vec::new() };
    let parsed = match event_type {
        EventType::Registered => {
            let country = f.parse("country", "must be two upper-case letters (ISO 3166-1 alpha-2)", Country::parse);
            let currency = f.currency("currency");
            let birth_year =
                f.optional_integer("birth_year", 1900, 2100).map(|y| y.and_then(|y| u16::try_from(y).ok()));
            Some(EventData::Registered { country: country?, currency: currency?, birth_year: birth_year? })
        }
        EventType::SessionStarted => {
            let channel = f.parse("channel", &one_of(Channel::ALL.iter().map(|c| c.as_str())), Channel::parse);
            Some(EventData::SessionStarted { channel: channel? })
        }
        EventType::SessionEnded => Some(EventData::SessionEnded),
        EventType::DepositSucceeded => f.money("amount").map(|amount| EventData::DepositSucceeded { amount }),
        EventType::DepositFailed => {
            let amount = f.money("amount");
            let reason = f.text("reason");
            Some(EventData::DepositFailed { amount: amount?, reason: reason? })
        }
        EventType::WithdrawalRequested => f.money("amount").map(|amount| EventData::WithdrawalRequested { amount }),
        EventType::WithdrawalCancelled => f.money("amount").map(|amount| EventData::WithdrawalCancelled { amount }),
        EventType::GameLaunched => {
            let game_id = f.text("game_id");
            let category = f.text("category");
            Some(EventData::GameLaunched { game_id: game_id?, category: category? })
        }
        EventType::BetPlaced => {
            let bet_id = f.text("bet_id");
            let game_id = f.text("game_id");
            let stake = f.money("stake");
            Some(EventData::BetPlaced { bet_id: bet_id?, game_id: game_id?, stake: stake? })
        }
        EventType::BetSettled => {
            let bet_id = f.text("bet_id");
            let game_id = f.text("game_id");
            let payout = f.payout("payout");
            Some(EventData::BetSettled { bet_id: bet_id?, game_id: game_id?, payout: payout? })
        }
        EventType::LimitChanged => {
            let kind = f.parse("kind", &one_of(LimitKind::ALL.iter().map(|k| k.as_str())), LimitKind::parse);
            let amount = f.minor_units("amount", 1);
            let period = f.parse("period", &one_of(LimitPeriod::ALL.iter().map(|p| p.as_str())), LimitPeriod::parse);
            Some(EventData::LimitChanged { kind: kind?, amount: amount?, period: period? })
        }
        EventType::SelfExcluded => {
            let days = f.positive("duration_days").and_then(|d| f.fits(u32::try_from(d).ok(), "duration_days"));
            Some(EventData::SelfExcluded { duration_days: days? })
        }
        EventType::InterventionResponded => {
            let id = f.parse("recommendation_id", "must be a UUID", |s| Uuid::parse_str(s).ok());
            let responses = one_of(InterventionResponse::ALL.iter().map(|r| r.as_str()));
            let response = f.parse("response", &responses, InterventionResponse::parse);
            Some(EventData::InterventionResponded { recommendation_id: id?, response: response? })
        }
    };
    let used = f.used;
    let extra = data.iter().filter(|(k, _)| !used.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    parsed.filter(|_| errors.len() == before).map(|d| (d, extra))
}

fn one_of<'a>(values: impl Iterator<Item = &'a str>) -> String {
    format!("must be one of {}", values.collect::<Vec<_>>().join(", "))
}

/// Reads the fields of `data`, recording each problem and which fields it knew.
struct Fields<'a, 'e> {
    data: &'a Map<String, Value>,
    errors: &'e mut Vec<FieldError>,
    used: Vec<&'static str>,
}

impl Fields<'_, '_> {
    fn fail<T>(&mut self, name: &str, message: impl Into<String>) -> Option<T> {
        self.errors.push(FieldError::new(format!("/data/{name}"), message));
        None
    }

    fn value(&mut self, name: &'static str) -> Option<&Value> {
        self.used.push(name);
        match self.data.get(name) {
            None | Some(Value::Null) => self.fail(name, "is required"),
            Some(value) => Some(value),
        }
    }

    /// A required, non-empty string.
    fn text(&mut self, name: &'static str) -> Option<String> {
        match self.value(name)? {
            Value::String(s) if s.is_empty() => self.fail(name, "must not be empty"),
            Value::String(s) => Some(s.clone()),
            _ => self.fail(name, "must be a string"),
        }
    }

    /// A required string that `parse` understands.
    fn parse<T>(&mut self, name: &'static str, expected: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let text = match self.value(name)? {
            Value::String(s) => s.clone(),
            _ => return self.fail(name, "must be a string"),
        };
        parse(&text).or_else(|| self.fail(name, expected))
    }

    fn currency(&mut self, name: &'static str) -> Option<Currency> {
        let text = match self.value(name)? {
            Value::String(s) => s.clone(),
            _ => return self.fail(name, "must be a string"),
        };
        Currency::parse(&text).map_err(|e| self.fail::<()>(name, e.to_string())).ok()
    }

    /// A required JSON integer.
    fn integer(&mut self, name: &'static str) -> Option<i64> {
        match self.value(name)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(i),
                None if n.is_u64() => self.fail(name, "is too large"),
                None => self.fail(name, "must be an integer (minor units, no fractions)"),
            },
            _ => self.fail(name, "must be an integer"),
        }
    }

    /// A required integer greater than zero.
    fn positive(&mut self, name: &'static str) -> Option<i64> {
        let value = self.integer(name)?;
        if value > 0 { Some(value) } else { self.fail(name, "must be greater than zero") }
    }

    /// An optional integer in `min..=max`: `Some(None)` when absent.
    fn optional_integer(&mut self, name: &'static str, min: i64, max: i64) -> Option<Option<i64>> {
        if matches!(self.data.get(name), None | Some(Value::Null)) {
            self.used.push(name);
            return Some(None);
        }
        let value = self.integer(name)?;
        if (min..=max).contains(&value) {
            Some(Some(value))
        } else {
            self.fail(name, format!("must be between {min} and {max}"))
        }
    }

    fn fits<T>(&mut self, value: Option<T>, name: &'static str) -> Option<T> {
        value.or_else(|| self.fail(name, "is too large"))
    }

    /// Minor units, `min` (0 or 1) to [`MAX_AMOUNT`].
    fn minor_units(&mut self, name: &'static str, min: i64) -> Option<i64> {
        match self.integer(name)? {
            value if value < min && min > 0 => self.fail(name, "must be greater than zero"),
            value if value < min => self.fail(name, "must not be negative"),
            value if value > MAX_AMOUNT => self.fail(name, format!("must be at most {MAX_AMOUNT} (minor units)")),
            value => Some(value),
        }
    }

    /// An amount greater than zero in `currency`.
    fn money(&mut self, name: &'static str) -> Option<Money> {
        let amount = self.minor_units(name, 1);
        let currency = self.currency("currency");
        Some(Money { amount: amount?, currency: currency? })
    }

    /// A payout: zero (a lost bet) or more, in `currency`.
    fn payout(&mut self, name: &'static str) -> Option<Money> {
        let amount = self.minor_units(name, 0);
        let currency = self.currency("currency");
        Some(Money { amount: amount?, currency: currency? })
    }
}

#[cfg(test)]
mod tests;
