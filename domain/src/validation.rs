//! Validation failures, each naming the offending field by JSON pointer.

use std::fmt;

use serde_json::Value;

/// One invalid field of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer into the event, e.g. `/subject` or `/data/stake`.
    pub pointer: String,
    /// What is wrong, for the API user.
    pub message: String,
}

impl FieldError {
    /// An error at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), message: message.into() }
    }
}

/// Every problem found in one event (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.pointer, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

/// What a string may not hold: the control characters CloudEvents forbids in
/// strings, U+0000–U+001F and U+007F–U+009F.
const CONTROL_CHARACTERS: &str = "must not contain control characters (U+0000-U+001F, U+007F-U+009F)";

/// Records an error for every string under `value` (`pointer` naming it) that
/// holds a control character; a member name holding one is reported at its object.
pub(crate) fn control_characters(value: &Value, pointer: &str, errors: &mut Vec<FieldError>) {
    walk(value, &mut Path { root: pointer, segments: Vec::new() }, errors);
}

/// Where the walk is: the pointer is written out only for an error, since
/// every string of every event is checked and almost none fails.
struct Path<'a> {
    root: &'a str,
    segments: Vec<Segment<'a>>,
}

enum Segment<'a> {
    Index(usize),
    Name(&'a str),
}

impl Path<'_> {
    fn pointer(&self) -> String {
        let mut pointer = self.root.to_owned();
        for segment in &self.segments {
            pointer.push('/');
            match segment {
                Segment::Index(index) => pointer.push_str(&index.to_string()),
                Segment::Name(name) => pointer.push_str(&name.replace('~', "~0").replace('/', "~1")),
            }
        }
        pointer
    }
}

fn walk<'a>(value: &'a Value, path: &mut Path<'a>, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(s) if forbidden(s) => errors.push(FieldError::new(path.pointer(), CONTROL_CHARACTERS)),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.segments.push(Segment::Index(index));
                walk(item, path, errors);
                path.segments.pop();
            }
        }
        Value::Object(members) => {
            if members.keys().any(|name| forbidden(name)) {
                errors.push(FieldError::new(path.pointer(), format!("member names {CONTROL_CHARACTERS}")));
            }
            for (name, member) in members.iter().filter(|(name, _)| !forbidden(name)) {
                path.segments.push(Segment::Name(name));
                walk(member, path, errors);
                path.segments.pop();
            }
        }
        _ => {}
    }
}

/// Whether `s` holds a control character. Those below U+00A0 are one byte
/// under 0x20, 0x7F, or 0xC2 followed by 0x80–0x9F: a scan of the bytes
/// finds them without decoding.
fn forbidden(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b < 0x20 || b == 0x7f || (b == 0xc2 && bytes.get(i + 1).is_some_and(|next| (0x80..=0x9f).contains(next)))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::PlayerEvent;

    fn pointers(value: &Value) -> Vec<String> {
        match PlayerEvent::from_json(value) {
            Ok(event) => panic!("accepted: {event:?}"),
            Err(errors) => errors.0.into_iter().map(|e| e.pointer).collect(),
        }
    }

    fn bet(id: &str, game_id: &str, note: Value) -> Value {
        json!({
            "specversion": "1.0", "id": id, "source": "/casino", "type": "player.bet.placed", "subject": "p-1",
            "time": "2026-11-24T10:00:00Z", "region": "eu",
            "data": {"bet_id": "b1", "game_id": game_id, "stake": 100, "currency": "EUR", "note": note},
        })
    }

    #[test]
    fn control_characters_are_refused_wherever_a_string_holds_them() {
        assert_eq!(pointers(&bet("e\u{0}1", "g1", json!("ok"))), ["/id"]);
        assert_eq!(pointers(&bet("e1", "g\n1", json!("ok"))), ["/data/game_id"]);
        assert_eq!(pointers(&bet("e1", "g1", json!({"lines": ["a", "b\u{1f}"]}))), ["/data/note/lines/1"]);
        assert_eq!(pointers(&bet("e1", "g1", json!("\u{7f}"))), ["/data/note"]);
        let mut extension = bet("e1", "g1", json!("ok"));
        extension["region"] = json!("eu\r");
        assert_eq!(pointers(&extension), ["/region"]);
        let mut key = bet("e1", "g1", json!("ok"));
        key["data"]["a/b\u{1}"] = json!(1);
        assert_eq!(pointers(&key), ["/data"]);
        assert!(PlayerEvent::from_json(&bet("e1", "g1", json!("tab-free, ünïcödé ✓"))).is_ok());
        // U+0085 (two bytes) is one of them; a member name's `/` and `~` are escaped in the pointer.
        assert_eq!(pointers(&bet("e1", "g1", json!({"a/b~": ["x\u{85}"]}))), ["/data/note/a~1b~0/0"]);
        assert!(PlayerEvent::from_json(&bet("e1", "g1", json!("\u{a0}\u{c0}\u{100}"))).is_ok());
    }

    proptest::proptest! {
        /// The byte scan agrees with the definition on characters.
        #[test]
        fn the_byte_scan_finds_exactly_the_control_characters(s in "\\PC*|[\\x00-\\u{ff}]{0,8}") {
            let by_chars = s.chars().any(|c| matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'));
            proptest::prop_assert_eq!(super::forbidden(&s), by_chars);
        }
    }
}
