use serde_json::json;
use store::StoreError;

use super::*;
use crate::server::problem::FieldProblem;

fn player_event() -> Value {
    json!({
        "specversion": "1.0", "id": "e1", "source": "/casino", "type": "player.session.ended",
        "subject": "p1", "time": "2026-11-24T10:00:00Z",
    })
}

#[test]
fn refusals_drop_outages_and_faults_retry() {
    let invalid = ApiError::InvalidEvents(vec![FieldProblem::event(0, "/id".into(), "x".into())]);
    assert_eq!(Status::of::<()>(&Ok(())), Status::Success);
    assert_eq!(Status::of::<()>(&Err(invalid)), Status::Drop);
    assert_eq!(Status::of::<()>(&Err(ApiError::MalformedBody("no".into()))), Status::Drop);
    let outage = ApiError::from(StoreError::Closed);
    assert_eq!(Status::of::<()>(&Err(outage)), Status::Retry);
    assert_eq!(Status::of::<()>(&Err(ApiError::Internal("bug".into()))), Status::Retry);
    assert_eq!(serde_json::to_value(Status::Retry).unwrap(), "RETRY");
}

#[test]
fn a_passed_through_event_loses_only_the_transport_attributes() {
    let mut envelope = player_event();
    for (name, value) in [("pubsubname", "pubsub"), ("topic", "players"), ("traceid", "t"), ("traceparent", "tp")] {
        envelope[name] = value.into();
    }
    assert!(is_envelope(&envelope));
    assert!(!is_envelope(&player_event()));
    let mut expected = player_event();
    expected["traceparent"] = "tp".into();
    assert_eq!(open(envelope), expected);
}

#[test]
fn a_wrapped_event_is_unwrapped_with_the_envelopes_trace() {
    let envelope = |data: Value| {
        json!({
            "specversion": "1.0", "id": "d1", "source": "publisher", "type": "com.dapr.event.sent",
            "pubsubname": "pubsub", "topic": "players", "traceparent": "tp", "datacontenttype": "application/json",
            "data": data,
        })
    };
    let mut expected = player_event();
    expected["traceparent"] = "tp".into();
    assert_eq!(open(envelope(player_event())), expected);
    assert_eq!(open(envelope(player_event().to_string().into())), expected);
    let mut own = player_event();
    own["traceparent"] = "mine".into();
    assert_eq!(open(envelope(own.clone())), own);
    let not_an_event = open(envelope(json!({"amount": 1})));
    assert_eq!(not_an_event["type"], "com.dapr.event.sent");
    assert!(not_an_event.get("pubsubname").is_none());
}

#[test]
fn only_the_configured_token_is_admitted() {
    let dapr = Dapr { subscription: None, app_token: Some(AppToken::new("s3cret")) };
    assert!(dapr.admits(b"s3cret"));
    assert!(!dapr.admits(b"s3cre"));
    assert!(!dapr.admits(b""));
    assert!(!Dapr::default().admits(b"s3cret"));
    assert_eq!(format!("{:?}", dapr.app_token), "Some(AppToken(***))");
}
