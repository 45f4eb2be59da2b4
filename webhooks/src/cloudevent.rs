//! A recommendation as the CloudEvent `nudge.intervention.recommended`, in the
//! three HTTP modes: structured, binary and batch.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{Recommendation, TRACEPARENT, TraceParent};
use serde_json::{Value, json};

/// The CloudEvent type of a recommendation.
pub const EVENT_TYPE: &str = "nudge.intervention.recommended";
/// The CloudEvent type of a test delivery (`POST /v1/webhooks/{id}/test`).
pub const TEST_EVENT_TYPE: &str = "nudge.webhook.test";
/// The event types a subscription may ask for.
pub const EVENT_TYPES: [&str; 1] = [EVENT_TYPE];
/// Content type of a structured-mode delivery.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
/// Content type of a batch delivery.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// One event to deliver: its attributes and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `id`: the recommendation id, or a test delivery's own.
    pub id: String,
    /// `type`.
    pub event_type: String,
    /// `subject`: the player, whose events keep their order.
    pub subject: String,
    /// `time`.
    pub time: DateTime<Utc>,
    /// `data`, as JSON.
    pub data: Value,
    /// The `traceparent` extension: the trace of the player event it follows.
    pub traceparent: Option<TraceParent>,
}

impl Event {
    /// A recommendation as `nudge.intervention.recommended`.
    pub fn recommendation(recommendation: &Recommendation) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: recommendation.id.to_string(),
            event_type: EVENT_TYPE.to_owned(),
            subject: recommendation.player_id.clone(),
            time: recommendation.created_at,
            data: serde_json::to_value(recommendation)?,
            traceparent: recommendation.triggered_by.traceparent,
        })
    }

    /// The event as an attempt sends it: its trace continued by the attempt's
    /// span `span_id` (none when there is no trace or no span id).
    pub fn sent_by(&self, span_id: Option<[u8; 8]>) -> Self {
        let traceparent = self.traceparent.zip(span_id).and_then(|(trace, span)| trace.child(span));
        Self { traceparent, ..self.clone() }
    }

    /// The attributes, `data` aside.
    fn attributes(&self, instance: &str) -> Vec<(&'static str, String)> {
        let mut attributes = vec![
            ("specversion", "1.0".to_owned()),
            ("id", self.id.clone()),
            ("source", format!("/nudge/{instance}")),
            ("type", self.event_type.clone()),
            ("subject", self.subject.clone()),
            ("time", self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        ];
        if let Some(trace) = self.traceparent {
            attributes.push((TRACEPARENT, trace.to_string()));
        }
        attributes
    }

    fn envelope(&self, instance: &str) -> Value {
        let mut event = serde_json::Map::new();
        for (name, value) in self.attributes(instance) {
            event.insert(name.to_owned(), Value::String(value));
        }
        event.insert("datacontenttype".to_owned(), json!("application/json"));
        event.insert("data".to_owned(), self.data.clone());
        Value::Object(event)
    }
}

/// A structured-mode body (`application/cloudevents+json`).
pub fn structured(event: &Event, instance: &str) -> Vec<u8> {
    event.envelope(instance).to_string().into_bytes()
}

/// A binary-mode delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// The `ce-*` headers and `content-type`.
    pub headers: Vec<(String, String)>,
    /// The body: the event's `data`.
    pub body: Vec<u8>,
}

/// Binary mode: the attributes as `ce-*` headers, the data as the body.
pub fn binary(event: &Event, instance: &str) -> Binary {
    let mut headers: Vec<(String, String)> =
        event.attributes(instance).into_iter().map(|(name, value)| (format!("ce-{name}"), value)).collect();
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    Binary { headers, body: event.data.to_string().into_bytes() }
}

/// A batch body (`application/cloudevents-batch+json`).
pub fn batch(events: &[Event], instance: &str) -> Vec<u8> {
    Value::Array(events.iter().map(|e| e.envelope(instance)).collect()).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use domain::{InterventionKind, Rule, Status, TriggeredBy, recommendation_id};

    use super::*;

    fn recommendation(player: &str, position: u64) -> Recommendation {
        Recommendation {
            id: recommendation_id(player, position, None),
            player_id: player.to_owned(),
            kind: InterventionKind::RealityCheck,
            created_at: Utc.with_ymd_and_hms(2026, 11, 24, 21, 0, 0).single().unwrap(),
            triggered_by: TriggeredBy { id: "b9".into(), source: "/casino".into(), position, traceparent: None },
            scores: None,
            model_version: None,
            rule: Rule::LongSession,
            reasons: vec![],
            game_id: None,
            status: Status::Pending,
        }
    }

    #[test]
    fn the_three_modes_carry_the_same_event() {
        let r = recommendation("p1", 7);
        let e = Event::recommendation(&r).unwrap();
        let event: Value = serde_json::from_slice(&structured(&e, "eu-1")).unwrap();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["id"], r.id.to_string());
        assert_eq!(event["source"], "/nudge/eu-1");
        assert_eq!(event["type"], EVENT_TYPE);
        assert_eq!(event["subject"], "p1");
        assert_eq!(event["time"], "2026-11-24T21:00:00Z");
        assert_eq!(event["data"]["kind"], "reality_check");
        assert_eq!(event["data"]["triggered_by"]["position"], 7);

        let Binary { headers, body } = binary(&e, "eu-1");
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("ce-id"), Some(r.id.to_string().as_str()));
        assert_eq!(header("ce-type"), Some(EVENT_TYPE));
        assert_eq!(header("ce-time"), event["time"].as_str());
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), event["data"]);

        let other = Event::recommendation(&recommendation("p2", 9)).unwrap();
        let both: Value = serde_json::from_slice(&batch(&[e, other], "eu-1")).unwrap();
        assert_eq!(both.as_array().map(Vec::len), Some(2));
        assert_eq!(both[0], event);
        assert_eq!(both[1]["subject"], "p2");
    }

    #[test]
    fn an_attempt_continues_the_trace_as_a_span_of_its_own() {
        let mut r = recommendation("p1", 7);
        let trace = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        r.triggered_by.traceparent = trace;
        let e = Event::recommendation(&r).unwrap();
        assert_eq!(e.traceparent, trace);
        let sent = e.sent_by(Some([1, 2, 3, 4, 5, 6, 7, 8]));
        let expected = "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01";
        assert_eq!(sent.traceparent.map(|t| t.to_string()).as_deref(), Some(expected));
        let event: Value = serde_json::from_slice(&structured(&sent, "eu-1")).unwrap();
        assert_eq!(event["traceparent"], expected);
        assert!(binary(&sent, "eu-1").headers.contains(&("ce-traceparent".to_owned(), expected.to_owned())));
        assert_eq!(e.sent_by(None).traceparent, None);
        let untraced = Event::recommendation(&recommendation("p2", 9)).unwrap().sent_by(Some([1; 8]));
        let event: Value = serde_json::from_slice(&structured(&untraced, "eu-1")).unwrap();
        assert!(event.get("traceparent").is_none());
    }
}
