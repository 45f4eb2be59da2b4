//! A player event written as a structured-mode CloudEvent: one `Serialize` view,
//! so that the JSON value and the JSON text the store keeps say the same.

use serde::{Serialize, Serializer, ser::SerializeMap};
use uuid::Uuid;

use super::format_time;
use crate::{EventData, Money, PlayerEvent};

/// The event as a structured-mode CloudEvent.
pub(super) struct Structured<'a>(pub(super) &'a PlayerEvent);

impl Serialize for Structured<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("specversion", "1.0")?;
        map.serialize_entry("id", &event.id)?;
        map.serialize_entry("source", &event.source)?;
        map.serialize_entry("type", event.event_type().as_str())?;
        map.serialize_entry("subject", event.player_id.as_str())?;
        map.serialize_entry("time", &format_time(&event.time))?;
        map.serialize_entry("datacontenttype", "application/json")?;
        for (name, value) in &event.extensions {
            map.serialize_entry(name, value)?;
        }
        map.serialize_entry("data", &Data(event))?;
        map.end()
    }
}

/// The `data` object: the unknown fields kept, then the typed fields, which
/// win over a kept field of the same name.
struct Data<'a>(&'a PlayerEvent);

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = fields(&self.0.data);
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in &self.0.extra {
            if !fields.iter().any(|(typed, _)| typed == name) {
                map.serialize_entry(name, value)?;
            }
        }
        for (name, value) in &fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A typed field of `data`, as JSON carries it.
enum Field<'a> {
    Text(&'a str),
    Int(i64),
    Id(Uuid),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Int(int) => serializer.serialize_i64(*int),
            Self::Id(id) => serializer.collect_str(&id.hyphenated()),
        }
    }
}

/// The typed fields of `data`, by name.
fn fields(data: &EventData) -> Vec<(&'static str, Field<'_>)> {
    match data {
        EventData::Registered { country, currency, birth_year } => {
            let mut fields =
                vec![("country", Field::Text(country.as_str())), ("currency", Field::Text(currency.as_str()))];
            fields.extend(birth_year.map(|year| ("birth_year", Field::Int(i64::from(year)))));
            fields
        }
        EventData::SessionStarted { channel } => vec![("channel", Field::Text(channel.as_str()))],
        EventData::SessionEnded => Vec::new(),
        EventData::DepositSucceeded { amount }
        | EventData::WithdrawalRequested { amount }
        | EventData::WithdrawalCancelled { amount } => money("amount", amount).into(),
        EventData::DepositFailed { amount, reason } => {
            let mut fields = Vec::from(money("amount", amount));
            fields.push(("reason", Field::Text(reason)));
            fields
        }
        EventData::GameLaunched { game_id, category } => {
            vec![("game_id", Field::Text(game_id)), ("category", Field::Text(category))]
        }
        EventData::BetPlaced { bet_id, game_id, stake: m } | EventData::BetSettled { bet_id, game_id, payout: m } => {
            let name = if matches!(data, EventData::BetPlaced { .. }) { "stake" } else { "payout" };
            let mut fields = Vec::from(money(name, m));
            fields.extend([("bet_id", Field::Text(bet_id)), ("game_id", Field::Text(game_id))]);
            fields
        }
        EventData::LimitChanged { kind, amount, period } => vec![
            ("kind", Field::Text(kind.as_str())),
            ("amount", Field::Int(*amount)),
            ("period", Field::Text(period.as_str())),
        ],
        EventData::SelfExcluded { duration_days } => vec![("duration_days", Field::Int(i64::from(*duration_days)))],
        EventData::InterventionResponded { recommendation_id, response } => {
            vec![("recommendation_id", Field::Id(*recommendation_id)), ("response", Field::Text(response.as_str()))]
        }
    }
}

/// An amount under `name`, and its currency.
fn money<'a>(name: &'static str, m: &'a Money) -> [(&'static str, Field<'a>); 2] {
    [(name, Field::Int(m.amount)), ("currency", Field::Text(m.currency.as_str()))]
}
