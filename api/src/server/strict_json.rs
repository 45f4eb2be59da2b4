//! JSON read strictly: an object that repeats a key is refused, naming it, where
//! serde_json alone would silently keep the last value.

use std::{cell::RefCell, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a body did not read as JSON.
#[derive(Debug)]
pub enum JsonError {
    /// It is not JSON.
    Syntax(serde_json::Error),
    /// An object repeats a key.
    DuplicateKey {
        /// JSON pointer (RFC 6901) of the repeated member, from the document's root.
        pointer: String,
        /// The key, as decoded.
        key: String,
    },
}

/// Parses `bytes` as one JSON document whose objects each name a key at most once.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict { path: Path::Root, duplicate: &duplicate }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, duplicate.into_inner()) {
        (_, Some((pointer, key))) => Err(JsonError::DuplicateKey { pointer, key }),
        (Ok(value), None) => Ok(value),
        (Err(error), None) => Err(JsonError::Syntax(error)),
    }
}

/// Where a value sits, built into a pointer only when a duplicate is found.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn pointer(&self) -> String {
        match self {
            Self::Root => String::new(),
            Self::Key(parent, key) => format!("{}/{}", parent.pointer(), key.replace('~', "~0").replace('/', "~1")),
            Self::Index(parent, index) => format!("{}/{index}", parent.pointer()),
        }
    }
}

/// Reads one value at `path`, recording the first duplicate key in `duplicate`.
struct Strict<'p, 'd> {
    path: Path<'p>,
    duplicate: &'d RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_, '_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let path = Path::Index(&self.path, values.len());
            match seq.next_element_seed(Strict { path, duplicate: self.duplicate })? {
                Some(value) => values.push(value),
                None => return Ok(Value::Array(values)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = Path::Key(&self.path, &key);
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some((path.pointer(), key.clone()));
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(Strict { path, duplicate: self.duplicate })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn duplicate(text: &str) -> Option<(String, String)> {
        match parse(text.as_bytes()) {
            Err(JsonError::DuplicateKey { pointer, key }) => Some((pointer, key)),
            _ => None,
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"c": {}}, "d": 18446744073709551615}"#;
        assert_eq!(parse(text.as_bytes()).ok(), serde_json::from_str::<Value>(text).ok());
        assert_eq!(parse(b"[]").ok(), Some(json!([])));
    }

    #[test]
    fn a_repeated_key_is_named_by_its_pointer_at_any_depth() {
        assert_eq!(duplicate(r#"{"subject": "a", "subject": "b"}"#), Some(("/subject".into(), "subject".into())));
        let nested = r#"[{"a": 1}, {"data": {"x/y": 1, "x\/y": 2}}]"#;
        assert_eq!(duplicate(nested), Some(("/1/data/x~1y".into(), "x/y".into())));
        assert_eq!(duplicate(r#"{"a": 1, "b": {"a": 2}}"#), None);
    }

    #[test]
    fn not_json_is_a_syntax_error() {
        assert!(matches!(parse(b"{\"a\": "), Err(JsonError::Syntax(_))));
        assert!(matches!(parse(b"{} {}"), Err(JsonError::Syntax(_))));
    }
}
