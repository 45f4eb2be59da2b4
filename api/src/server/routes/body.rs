//! Request bodies (other than events), read with serde into the very types the
//! OpenAPI document describes; a bad field answers a problem naming it.

use axum::body::Bytes;
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::server::problem::ApiError;

/// Reads a JSON object body into `T`. A field of the wrong type or value, or a
/// required one missing, is an invalid field (`/url`); a body that is not a JSON
/// object, or that has a field `T` does not know, is malformed.
pub(crate) fn json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let value = match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => return Err(ApiError::MalformedBody("the body must be a JSON object".to_owned())),
        Err(e) => return Err(ApiError::MalformedBody(format!("the body is not JSON: {e}"))),
    };
    serde_path_to_error::deserialize(value).map_err(|e| refused(e.path(), &e.inner().to_string()))
}

/// The problem of a body `T` did not read: the field is the first segment of
/// `path`, or the one serde names as missing or unknown (at the body's root).
fn refused(path: &serde_path_to_error::Path, message: &str) -> ApiError {
    let named = |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next());
    match path.iter().next() {
        _ if message.starts_with("unknown field `") => ApiError::MalformedBody(message.to_owned()),
        Some(Segment::Map { key }) => {
            ApiError::InvalidField { pointer: format!("/{key}"), detail: format!("{key}: {message}") }
        }
        _ => match named("missing field `") {
            Some(field) => {
                ApiError::InvalidField { pointer: format!("/{field}"), detail: format!("{field} is required") }
            }
            None => ApiError::MalformedBody(message.to_owned()),
        },
    }
}

/// For `#[serde(default, deserialize_with = "present")]`: a field that, when
/// given, must hold a `T`. On an `Option<T>` it refuses `null`; on an
/// `Option<Option<T>>` it tells `null` (`Some(None)`: clear it) from absent
/// (`None`: leave it).
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        url: String,
        kinds: Option<Vec<u8>>,
    }

    fn read(value: serde_json::Value) -> Result<Body, ApiError> {
        json(&Bytes::from(value.to_string()))
    }

    fn field(error: ApiError) -> Option<String> {
        match error {
            ApiError::InvalidField { pointer, .. } => Some(pointer),
            _ => None,
        }
    }

    #[test]
    fn a_bad_field_is_named_by_its_pointer() {
        let good = read(json!({"url": "u", "kinds": [1]})).map(|b| (b.url, b.kinds));
        assert_eq!(good.ok(), Some(("u".to_owned(), Some(vec![1]))));
        assert_eq!(read(json!({"url": 1})).err().and_then(field).as_deref(), Some("/url"));
        assert_eq!(read(json!({"url": "u", "kinds": ["x"]})).err().and_then(field).as_deref(), Some("/kinds"));
        assert_eq!(read(json!({"kinds": null})).err().and_then(field).as_deref(), Some("/url"));
    }

    #[test]
    fn an_unknown_field_or_a_body_not_an_object_is_malformed() {
        assert!(matches!(read(json!({"url": "u", "colour": 1})), Err(ApiError::MalformedBody(_))));
        assert!(matches!(read(json!(["u"])), Err(ApiError::MalformedBody(_))));
        assert!(matches!(json::<Body>(&Bytes::from_static(b"{")), Err(ApiError::MalformedBody(_))));
    }
}
