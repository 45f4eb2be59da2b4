//! The `data` of each player event type: its fields read, checked and named.

use serde_json::{Map, Number, Value};
use uuid::Uuid;

use crate::{
    Channel, Country, Currency, EventData, EventType, FieldError, InterventionResponse, LimitKind, LimitPeriod,
    MAX_AMOUNT, Money,
};

/// Reads `data` for `event_type`; `None` when something is wrong (recorded).
pub(super) fn parse_data(
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

/// A JSON number as an `i64` when it is a whole number in range: `250` or, as
/// JSON Schema counts integers, `250.0`.
pub(super) fn whole(n: &Number) -> Option<i64> {
    // 2^53: past it a float no longer holds every whole number, and an integer
    // outside i64 (which JSON reads as a float) would round into range:
    // -9223372036854775809 reads as -2^63.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT).map(|f| f as i64))
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
            Value::Number(n) => match whole(n) {
                Some(i) => Some(i),
                None if n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) => self.fail(name, "is too large"),
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
