use cloudevents::{AttributesWriter, Event};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::{Channel, Country, Currency, EventData, InterventionResponse, LimitKind, LimitPeriod, MAX_AMOUNT, Money};

// The SDK's `Event` both ways: what the mapping is checked against.
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
        event.set_data("application/json", player_event.to_json()["data"].clone());
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

fn event(kind: &str, data: Value) -> Value {
    json!({
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/casino/eu",
        "type": kind,
        "subject": "p-42",
        "time": "2026-11-24T10:00:00Z",
        "data": data,
    })
}

/// The pointers of the errors `value` is refused with.
fn refused(value: &Value) -> Vec<String> {
    match PlayerEvent::from_json(value) {
        Ok(event) => panic!("accepted: {event:?}"),
        Err(ValidationErrors(errors)) => errors.into_iter().map(|e| e.pointer).collect(),
    }
}

fn without(mut value: Value, name: &str) -> Value {
    value.as_object_mut().map(|o| o.remove(name));
    value
}

fn with(mut value: Value, name: &str, field: Value) -> Value {
    value[name] = field;
    value
}

fn bet(stake: Value) -> Value {
    event("player.bet.placed", json!({"bet_id": "b1", "game_id": "g1", "stake": stake, "currency": "EUR"}))
}

/// One valid event of every type.
fn every_type() -> Vec<Value> {
    vec![
        event("player.registered", json!({"country": "MT", "currency": "EUR", "birth_year": 1990})),
        event("player.session.started", json!({"channel": "mobile"})),
        event("player.session.ended", json!({})),
        event("player.deposit.succeeded", json!({"amount": 5000, "currency": "EUR"})),
        event("player.deposit.failed", json!({"amount": 5000, "currency": "EUR", "reason": "card declined"})),
        event("player.withdrawal.requested", json!({"amount": 100, "currency": "GBP"})),
        event("player.withdrawal.cancelled", json!({"amount": 100, "currency": "GBP"})),
        event("player.game.launched", json!({"game_id": "starburst", "category": "slots"})),
        bet(json!(250)),
        event("player.bet.settled", json!({"bet_id": "b1", "game_id": "g1", "payout": 0, "currency": "EUR"})),
        event("player.limit.changed", json!({"kind": "deposit", "amount": 10000, "period": "week"})),
        event("player.self_excluded", json!({"duration_days": 180})),
        event(
            "player.intervention.responded",
            json!({"recommendation_id": "0191d5a2-7c4e-7b1a-9a51-2f1e8c3d4b5a", "response": "accepted"}),
        ),
    ]
}

#[test]
fn every_type_is_read_and_written_back_unchanged() {
    let all = every_type();
    assert_eq!(all.len(), EventType::ALL.len());
    for value in all {
        let event = PlayerEvent::from_json(&value).unwrap();
        assert_eq!(event.event_type().as_str(), value["type"]);
        let json = event.to_json();
        assert_eq!(json["data"], value["data"], "{}", value["type"]);
        assert_eq!(PlayerEvent::from_json(&json).unwrap(), event);
        let cloudevent = Event::from(&event);
        assert_eq!(PlayerEvent::try_from(cloudevent).unwrap(), event);
    }
}

#[test]
fn typed_data_is_typed() {
    let event = PlayerEvent::from_json(&bet(json!(250))).unwrap();
    let EventData::BetPlaced { stake, .. } = event.data else { panic!("{:?}", event.data) };
    assert_eq!((stake.amount, stake.currency.as_str()), (250, "EUR"));
    assert_eq!(event.stream_name(), "player-p-42");
    assert_eq!(event.time.to_rfc3339(), "2026-11-24T10:00:00+00:00");
}

#[test]
fn session_ended_needs_no_data() {
    let value = without(event("player.session.ended", json!({})), "data");
    assert_eq!(PlayerEvent::from_json(&value).unwrap().data, EventData::SessionEnded);
}

#[test]
fn unknown_data_fields_and_extensions_are_kept() {
    let mut value = bet(json!(250));
    value["data"]["table"] = json!("t7");
    value["traceparent"] = json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    value["priority"] = json!(3);
    value["weight"] = json!(2.0);
    let event = PlayerEvent::from_json(&value).unwrap();
    assert_eq!(event.extra["table"], "t7");
    assert_eq!(event.extensions["priority"], 3);
    assert!(event.extensions["weight"].is_i64(), "a whole number is kept as an integer");
    let json = event.to_json();
    assert_eq!(json["data"]["table"], "t7");
    assert_eq!(json["traceparent"], value["traceparent"]);
    assert_eq!(PlayerEvent::try_from(Event::from(&event)).unwrap(), event);
}

#[test]
fn not_an_object_is_refused() {
    assert_eq!(refused(&json!([1, 2])), [""]);
}

#[test]
fn context_attributes_are_checked() {
    let base = bet(json!(1));
    assert_eq!(refused(&without(base.clone(), "specversion")), ["/specversion"]);
    assert_eq!(refused(&with(base.clone(), "specversion", json!("0.3"))), ["/specversion"]);
    assert_eq!(refused(&without(base.clone(), "id")), ["/id"]);
    assert_eq!(refused(&with(base.clone(), "id", json!(""))), ["/id"]);
    assert_eq!(refused(&with(base.clone(), "id", json!(7))), ["/id"]);
    assert_eq!(refused(&with(base.clone(), "id", json!("x".repeat(257)))), ["/id"]);
    assert!(PlayerEvent::from_json(&with(base.clone(), "id", json!("x".repeat(256)))).is_ok());
    assert_eq!(refused(&without(base.clone(), "source")), ["/source"]);
    assert_eq!(refused(&with(base.clone(), "source", json!(""))), ["/source"]);
    assert_eq!(refused(&without(base.clone(), "subject")), ["/subject"]);
    assert_eq!(refused(&with(base.clone(), "subject", json!(""))), ["/subject"]);
    assert_eq!(refused(&with(base.clone(), "subject", json!("a b"))), ["/subject"]);
    assert_eq!(refused(&with(base.clone(), "subject", json!("a".repeat(129)))), ["/subject"]);
    assert_eq!(refused(&without(base.clone(), "type")), ["/type"]);
    assert_eq!(refused(&with(base.clone(), "type", json!("player.teleported"))), ["/type"]);
    assert_eq!(refused(&without(base.clone(), "time")), ["/time"]);
    assert_eq!(refused(&with(base.clone(), "time", json!("yesterday"))), ["/time"]);
    assert_eq!(refused(&with(base.clone(), "time", json!("2026-11-24 10:00:00Z"))), ["/time"]);
    assert_eq!(refused(&with(base.clone(), "datacontenttype", json!("text/plain"))), ["/datacontenttype"]);
    assert!(
        PlayerEvent::from_json(&with(base.clone(), "datacontenttype", json!("application/json; charset=utf-8")))
            .is_ok()
    );
    assert_eq!(refused(&with(base.clone(), "data_base64", json!("AAAA"))), ["/data_base64"]);
    assert_eq!(refused(&with(base.clone(), "Bad-Name", json!("x"))), ["/Bad-Name"]);
    assert_eq!(refused(&with(base, "nested", json!({"a": 1}))), ["/nested"]);
}

#[test]
fn every_problem_of_an_event_is_reported() {
    let value = with(without(bet(json!(-5)), "subject"), "time", json!("nope"));
    assert_eq!(refused(&value), ["/subject", "/time", "/data/stake"]);
}

#[test]
fn data_must_be_an_object_and_present_when_fields_are_required() {
    assert_eq!(refused(&with(bet(json!(1)), "data", json!("stake=1"))), ["/data"]);
    assert_eq!(refused(&without(bet(json!(1)), "data")), ["/data"]);
}

#[test]
fn missing_and_mistyped_fields_are_named() {
    let value = event("player.bet.placed", json!({"game_id": 7, "stake": "100", "currency": "EUR"}));
    assert_eq!(refused(&value), ["/data/bet_id", "/data/game_id", "/data/stake"]);
    let value = event("player.deposit.failed", json!({"amount": 100}));
    assert_eq!(refused(&value), ["/data/currency", "/data/reason"]);
}

#[test]
fn amounts_and_stakes_must_be_positive_integers() {
    for bad in [json!(0), json!(-1), json!(2.5), json!(u64::MAX), json!(1e19)] {
        assert_eq!(refused(&bet(bad.clone())), ["/data/stake"], "{bad}");
    }
    // JSON Schema counts a whole number written with a fraction or exponent as an integer.
    for (whole, stake) in [(json!(250.0), 250), (json!(1e3), 1_000)] {
        let data = PlayerEvent::from_json(&bet(whole)).map(|event| event.data);
        assert!(matches!(data, Ok(EventData::BetPlaced { stake: Money { amount, .. }, .. }) if amount == stake));
    }
    let deposit = |amount: Value| event("player.deposit.succeeded", json!({"amount": amount, "currency": "EUR"}));
    assert_eq!(refused(&deposit(json!(0))), ["/data/amount"]);
    let payout =
        |p: i64| event("player.bet.settled", json!({"bet_id": "b", "game_id": "g", "payout": p, "currency": "EUR"}));
    assert!(PlayerEvent::from_json(&payout(0)).is_ok(), "a lost bet pays out zero");
    assert_eq!(refused(&payout(-1)), ["/data/payout"]);
    assert!(
        PlayerEvent::from_json(&bet(json!(MAX_AMOUNT))).is_ok() && PlayerEvent::from_json(&payout(MAX_AMOUNT)).is_ok()
    );
    for beyond in [MAX_AMOUNT + 1, i64::MAX] {
        assert_eq!(refused(&bet(json!(beyond))), ["/data/stake"]);
        assert_eq!(refused(&deposit(json!(beyond))), ["/data/amount"]);
        assert_eq!(refused(&payout(beyond)), ["/data/payout"]);
        let limit = event("player.limit.changed", json!({"kind": "loss", "amount": beyond, "period": "week"}));
        assert_eq!(refused(&limit), ["/data/amount"]);
    }
}

#[test]
fn currencies_and_enumerations_are_checked() {
    for bad in ["eur", "EURO", "E1R"] {
        let value = event("player.deposit.succeeded", json!({"amount": 1, "currency": bad}));
        assert_eq!(refused(&value), ["/data/currency"], "{bad}");
    }
    assert_eq!(refused(&event("player.session.started", json!({"channel": "tv"}))), ["/data/channel"]);
    let limit = event("player.limit.changed", json!({"kind": "time", "amount": 0, "period": "year"}));
    assert_eq!(refused(&limit), ["/data/kind", "/data/amount", "/data/period"]);
    let registered = event("player.registered", json!({"country": "Malta", "currency": "EUR", "birth_year": 1800}));
    assert_eq!(refused(&registered), ["/data/country", "/data/birth_year"]);
    let responded = event("player.intervention.responded", json!({"recommendation_id": "r1", "response": "maybe"}));
    assert_eq!(refused(&responded), ["/data/recommendation_id", "/data/response"]);
    assert_eq!(refused(&event("player.self_excluded", json!({"duration_days": 0}))), ["/data/duration_days"]);
}

#[test]
fn event_ids_are_deterministic_and_unambiguous() {
    assert_eq!(event_uuid("/a", "1"), event_uuid("/a", "1"));
    assert_ne!(event_uuid("/a", "1"), event_uuid("/a", "2"));
    assert_ne!(event_uuid("/a1", "2"), event_uuid("/a", "12"));
    assert_eq!(event_uuid("/a", "1").get_version_num(), 5);
}

fn any_money() -> impl Strategy<Value = Money> {
    (1..=MAX_AMOUNT, "[A-Z]{3}").prop_map(|(amount, c)| Money { amount, currency: Currency::parse(&c).unwrap() })
}

fn any_data() -> impl Strategy<Value = EventData> {
    let text = "[a-z0-9 ]{1,12}";
    prop_oneof![
        ("[A-Z]{2}", "[A-Z]{3}", proptest::option::of(1900u16..=2100)).prop_map(|(country, currency, birth_year)| {
            EventData::Registered {
                country: Country::parse(&country).unwrap(),
                currency: Currency::parse(&currency).unwrap(),
                birth_year,
            }
        }),
        prop::sample::select(Channel::ALL).prop_map(|channel| EventData::SessionStarted { channel }),
        Just(EventData::SessionEnded),
        any_money().prop_map(|amount| EventData::DepositSucceeded { amount }),
        (any_money(), text).prop_map(|(amount, reason)| EventData::DepositFailed { amount, reason }),
        any_money().prop_map(|amount| EventData::WithdrawalRequested { amount }),
        any_money().prop_map(|amount| EventData::WithdrawalCancelled { amount }),
        (text, text).prop_map(|(game_id, category)| EventData::GameLaunched { game_id, category }),
        (text, text, any_money()).prop_map(|(bet_id, game_id, stake)| EventData::BetPlaced { bet_id, game_id, stake }),
        (text, text, any_money(), any::<bool>()).prop_map(|(bet_id, game_id, mut payout, lost)| {
            if lost {
                payout.amount = 0;
            }
            EventData::BetSettled { bet_id, game_id, payout }
        }),
        (prop::sample::select(LimitKind::ALL), 1..=MAX_AMOUNT, prop::sample::select(LimitPeriod::ALL))
            .prop_map(|(kind, amount, period)| EventData::LimitChanged { kind, amount, period }),
        (1..=u32::MAX).prop_map(|duration_days| EventData::SelfExcluded { duration_days }),
        (any::<u128>(), prop::sample::select(InterventionResponse::ALL)).prop_map(|(id, response)| {
            EventData::InterventionResponded { recommendation_id: Uuid::from_u128(id), response }
        }),
    ]
}

prop_compose! {
    fn any_event()(
        id in "[A-Za-z0-9-]{1,40}",
        source in "/[a-z]{1,10}(/[a-z0-9]{1,5})?",
        player in "[A-Za-z0-9._:-]{1,128}",
        seconds in 0i64..4_000_000_000,
        nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        data in any_data(),
        extra in prop::collection::btree_map("x[a-z]{1,6}", "[a-z]{0,6}", 0..3),
        extensions in prop::collection::btree_map("e[a-z0-9]{1,6}", prop_oneof![
            "[a-z]{0,6}".prop_map(Value::from), any::<i64>().prop_map(Value::from), any::<bool>().prop_map(Value::from),
        ], 0..3),
    ) -> PlayerEvent {
        PlayerEvent {
            id,
            source,
            player_id: PlayerId::parse(&player).unwrap(),
            time: DateTime::from_timestamp(seconds, nanos).unwrap(),
            data,
            extra: extra.into_iter().map(|(k, v)| (k, Value::from(v))).collect(),
            extensions: extensions.into_iter().collect(),
        }
    }
}

proptest! {
    #[test]
    fn any_valid_event_round_trips_through_json_and_cloudevents(event in any_event()) {
        prop_assert_eq!(&PlayerEvent::from_json(&event.to_json()).unwrap(), &event);
        prop_assert_eq!(&PlayerEvent::try_from(Event::from(&event)).unwrap(), &event);
        let text = event.to_json_text().unwrap();
        prop_assert_eq!(&serde_json::from_str::<Value>(&text).unwrap(), &event.to_json(), "the text says what the value does");
        prop_assert_eq!(&PlayerEvent::from_json(&serde_json::from_str(&text).unwrap()).unwrap(), &event);
    }

    #[test]
    fn any_json_is_accepted_or_refused_never_a_panic(value in any_json()) {
        let _ = PlayerEvent::from_json(&value);
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z.]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![Just("type".to_owned()), Just("data".to_owned()), Just("stake".to_owned()), "[a-z]{1,6}"],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn an_integer_attribute_is_taken_only_within_64_bits() {
    let with = |value: Value| {
        let mut placed = bet(json!(250));
        placed["level"] = value;
        placed
    };
    for inside in [json!(i64::MIN), json!(i64::MAX), json!(1e3)] {
        let event = PlayerEvent::from_json(&with(inside.clone()));
        assert!(event.is_ok_and(|e| e.extensions["level"].is_i64()), "{inside}");
    }
    let below: Value = serde_json::from_str("-9223372036854775809").unwrap_or_default();
    for outside in [below, json!(u64::MAX), json!(1e19)] {
        assert_eq!(refused(&with(outside.clone())), ["/level"], "{outside}");
    }
}
