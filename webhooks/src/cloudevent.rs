//! A recommendation as the CloudEvent `nudge.intervention.recommended`, in the
//! three HTTP modes: structured, binary and batch.

use chrono::SecondsFormat;
use domain::Recommendation;
use serde_json::{Value, json};

/// The CloudEvent type of a recommendation.
pub const EVENT_TYPE: &str = "nudge.intervention.recommended";
/// Content type of a structured-mode delivery.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";
/// Content type of a batch delivery.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// The attributes of the event, `data` aside.
fn attributes(recommendation: &Recommendation, instance: &str) -> [(&'static str, String); 6] {
    [
        ("specversion", "1.0".to_owned()),
        ("id", recommendation.id.to_string()),
        ("source", format!("/nudge/{instance}")),
        ("type", EVENT_TYPE.to_owned()),
        ("subject", recommendation.player_id.clone()),
        ("time", recommendation.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    ]
}

fn event(recommendation: &Recommendation, instance: &str) -> Result<Value, serde_json::Error> {
    let mut event = serde_json::Map::new();
    for (name, value) in attributes(recommendation, instance) {
        event.insert(name.to_owned(), Value::String(value));
    }
    event.insert("datacontenttype".to_owned(), json!("application/json"));
    event.insert("data".to_owned(), serde_json::to_value(recommendation)?);
    Ok(Value::Object(event))
}

/// A structured-mode body (`application/cloudevents+json`).
pub fn structured(recommendation: &Recommendation, instance: &str) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&event(recommendation, instance)?)
}

/// A binary-mode delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// The `ce-*` headers and `content-type`.
    pub headers: Vec<(String, String)>,
    /// The body: the event's `data`.
    pub body: Vec<u8>,
}

/// Binary mode: the attributes as `ce-*` headers, the recommendation as the body.
pub fn binary(recommendation: &Recommendation, instance: &str) -> Result<Binary, serde_json::Error> {
    let mut headers: Vec<(String, String)> =
        attributes(recommendation, instance).into_iter().map(|(name, value)| (format!("ce-{name}"), value)).collect();
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    Ok(Binary { headers, body: serde_json::to_vec(recommendation)? })
}

/// A batch body (`application/cloudevents-batch+json`).
pub fn batch(recommendations: &[Recommendation], instance: &str) -> Result<Vec<u8>, serde_json::Error> {
    let events = recommendations.iter().map(|r| event(r, instance)).collect::<Result<Vec<_>, _>>()?;
    serde_json::to_vec(&events)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use domain::{InterventionKind, Rule, Status, TriggeredBy, recommendation_id};

    use super::*;

    fn recommendation(player: &str, position: u64) -> Recommendation {
        Recommendation {
            id: recommendation_id(player, position, None),
            player_id: player.to_owned(),
            kind: InterventionKind::RealityCheck,
            created_at: Utc.with_ymd_and_hms(2026, 11, 24, 21, 0, 0).single().unwrap(),
            triggered_by: TriggeredBy { id: "b9".into(), source: "/casino".into(), position },
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
        let event: Value = serde_json::from_slice(&structured(&r, "eu-1").unwrap()).unwrap();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["id"], r.id.to_string());
        assert_eq!(event["source"], "/nudge/eu-1");
        assert_eq!(event["type"], EVENT_TYPE);
        assert_eq!(event["subject"], "p1");
        assert_eq!(event["time"], "2026-11-24T21:00:00Z");
        assert_eq!(event["data"]["kind"], "reality_check");
        assert_eq!(event["data"]["triggered_by"]["position"], 7);

        let Binary { headers, body } = binary(&r, "eu-1").unwrap();
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("ce-id"), Some(r.id.to_string().as_str()));
        assert_eq!(header("ce-type"), Some(EVENT_TYPE));
        assert_eq!(header("ce-time"), event["time"].as_str());
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), event["data"]);

        let both: Value = serde_json::from_slice(&batch(&[r, recommendation("p2", 9)], "eu-1").unwrap()).unwrap();
        assert_eq!(both.as_array().map(Vec::len), Some(2));
        assert_eq!(both[0], event);
        assert_eq!(both[1]["subject"], "p2");
    }
}
