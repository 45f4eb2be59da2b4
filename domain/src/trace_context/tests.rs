use proptest::prelude::*;
use serde_json::json;

use super::*;

const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn reads_the_specification_example() {
    let trace = TraceParent::parse(EXAMPLE).expect("valid");
    assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(trace.parent_id(), [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
    assert_eq!(trace.flags(), 1);
    assert_eq!(trace.to_string(), EXAMPLE);
}

#[test]
fn refuses_what_the_specification_refuses() {
    for text in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    ] {
        assert_eq!(TraceParent::parse(text), None, "{text}");
    }
}

#[test]
fn reads_a_later_version_by_its_known_fields_and_speaks_version_00() {
    let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
    assert_eq!(TraceParent::parse(later).map(|t| t.to_string()).as_deref(), Some(EXAMPLE));
}

#[test]
fn a_child_keeps_the_trace_and_flags() {
    let parent = TraceParent::parse(EXAMPLE).expect("valid");
    let child = parent.child([1, 2, 3, 4, 5, 6, 7, 8]).expect("valid span id");
    assert_eq!(child.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01");
    assert_eq!(parent.child([0; 8]), None);
}

#[test]
fn the_event_extension_wins_an_invalid_one_is_dropped() {
    let other = TraceParent::parse("00-11111111111111111111111111111111-2222222222222222-00").expect("valid");
    let event = |traceparent: Option<&str>| {
        let mut value = json!({
            "specversion": "1.0", "id": "e1", "source": "/s", "type": "player.session.ended",
            "subject": "p1", "time": "2026-11-24T10:00:00Z",
        });
        if let Some(traceparent) = traceparent {
            value["traceparent"] = traceparent.into();
        }
        PlayerEvent::from_json(&value).expect("valid event")
    };
    let request = TraceContext { parent: other, state: Some("vendor=1".to_owned()) };
    let mut own = event(Some(EXAMPLE));
    own.adopt_trace(Some(&request));
    assert_eq!(own.trace_parent().map(|t| t.to_string()).as_deref(), Some(EXAMPLE));

    assert!(!own.extensions.contains_key(TRACESTATE), "the request's state is not the event's trace's");
    let mut invalid = event(Some("not a traceparent"));
    invalid.adopt_trace(Some(&request));
    assert_eq!(invalid.trace_parent(), Some(other));
    assert_eq!(invalid.extensions[TRACESTATE], "vendor=1");
    let mut invalid = event(Some("not a traceparent"));
    invalid.adopt_trace(None);
    assert!(!invalid.extensions.contains_key(TRACEPARENT));

    let mut none = event(None);
    none.adopt_trace(None);
    assert!(none.extensions.is_empty());
}

proptest! {
    #[test]
    fn writes_what_it_reads(trace_id in any::<[u8; 16]>(), parent_id in any::<[u8; 8]>(), flags in any::<u8>()) {
        match TraceParent::new(trace_id, parent_id, flags) {
            Some(trace) => {
                let text = trace.to_string();
                prop_assert_eq!(text.len(), 55);
                prop_assert_eq!(TraceParent::parse(&text), Some(trace));
                let json = serde_json::to_value(trace).expect("serializes");
                prop_assert_eq!(serde_json::from_value::<TraceParent>(json).ok(), Some(trace));
            }
            None => prop_assert!(trace_id == [0; 16] || parent_id == [0; 8]),
        }
    }

    #[test]
    fn never_panics_and_accepts_only_its_own_form(text in "\\PC{0,80}") {
        if let Some(trace) = TraceParent::parse(&text) {
            prop_assert!(text.len() >= 55);
            prop_assert_eq!(&trace.to_string()[3..], &text[3..55]);
        }
    }

    #[test]
    fn one_wrong_character_is_refused(position in 0usize..55, c in "[g-zA-Z_ ]") {
        let mut text = EXAMPLE.to_owned();
        text.replace_range(position..position + 1, &c);
        prop_assert_eq!(TraceParent::parse(&text), None);
    }
}
