//! Path and query parameters every route group reads the same way.

use axum::extract::{Query, rejection::QueryRejection};
use domain::PlayerId;

use crate::server::problem::ApiError;

/// Page size when a list request names none.
const DEFAULT_LIMIT: usize = 100;

/// A path naming a player.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct PlayerPath {
    /// The player (the events' `subject`).
    #[param(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    pub(crate) player_id: String,
}

/// A path naming a webhook subscription.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct WebhookPath {
    /// The subscription.
    #[param(value_type = uuid::Uuid)]
    pub(crate) webhook_id: String,
}

/// The `player_id` path segment, checked.
pub(crate) fn player_id(raw: &str) -> Result<PlayerId, ApiError> {
    PlayerId::parse(raw).map_err(|e| ApiError::InvalidParameter { name: "player_id", detail: format!("player_id {e}") })
}

/// A path segment naming something by UUID (`name` is the parameter), checked.
pub(crate) fn id(raw: &str, name: &'static str) -> Result<uuid::Uuid, ApiError> {
    hyphenated(raw)
        .ok_or_else(|| ApiError::InvalidParameter { name, detail: format!("`{raw}` is not a {name}: ids are UUIDs") })
}

/// A UUID in its hyphenated form, the one `format: uuid` allows: the uuid
/// crate also reads it without hyphens, in braces or as a URN, all of which
/// are 36 characters long only in this form.
fn hyphenated(raw: &str) -> Option<uuid::Uuid> {
    if raw.len() != 36 {
        return None;
    }
    uuid::Uuid::parse_str(raw).ok()
}

/// An optional UUID in its hyphenated form (a cursor), refused in any other.
pub(crate) fn uuid<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<uuid::Uuid>, D::Error> {
    use serde::{Deserialize, de::Error};
    let text = String::deserialize(deserializer)?;
    hyphenated(&text).map(Some).ok_or_else(|| D::Error::custom(format!("{text:?} is not a UUID")))
}

/// An optional position or cursor, refused above `i64::MAX` (the stores'
/// positions, and the document's `int64`).
pub(crate) fn int64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    match digits::<D, u64>(deserializer)? {
        value if i64::try_from(value).is_err() => Err(D::Error::custom(format!("{value} is above {}", i64::MAX))),
        value => Ok(Some(value)),
    }
}

/// An optional count (a page size, a number of points).
pub(crate) fn count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    digits(deserializer).map(Some)
}

/// A whole number written as the document's `integer` allows: digits only,
/// with no sign and no leading zero (Rust's own parser also takes `+5` and `05`).
fn digits<'de, D: serde::Deserializer<'de>, T: std::str::FromStr>(deserializer: D) -> Result<T, D::Error> {
    use serde::{Deserialize, de::Error};
    let text = String::deserialize(deserializer)?;
    let written =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    if !written {
        return Err(D::Error::custom(format!("{text:?} is not a whole number in digits (no sign, no leading zero)")));
    }
    text.parse().map_err(|_| D::Error::custom(format!("{text} is too large")))
}

/// An optional RFC 3339 `date-time`, refused in any other shape (chrono's own
/// parser takes more than the document allows).
pub(crate) fn timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error> {
    required_timestamp(deserializer).map(Some)
}

/// An RFC 3339 `date-time`, refused in any other shape.
pub(crate) fn required_timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<chrono::DateTime<chrono::Utc>, D::Error> {
    use serde::{Deserialize, de::Error};
    let text = String::deserialize(deserializer)?;
    domain::parse_timestamp(&text)
        .ok_or_else(|| D::Error::custom(format!("{text:?} is not an RFC 3339 date-time, e.g. 2026-11-24T10:00:00Z")))
}

/// The query string, or a problem saying what is wrong with it.
pub(crate) fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::InvalidParameter { name: "query", detail: e.body_text() })
}

/// A page size: `limit`, or 100, between 1 and `max`.
pub(crate) fn limit(limit: Option<usize>, max: usize) -> Result<usize, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit if (1..=max).contains(&limit) => Ok(limit),
        _ => Err(ApiError::InvalidParameter { name: "limit", detail: format!("limit must be between 1 and {max}") }),
    }
}

/// The query of a list ordered by id: `after` (the last id seen) and `limit`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct IdPage {
    /// Only items after this id (the `next` of the page before).
    #[serde(default, deserialize_with = "uuid")]
    pub(crate) after: Option<uuid::Uuid>,
    /// At most this many (default 100).
    #[serde(default, deserialize_with = "count")]
    #[param(minimum = 1)]
    pub(crate) limit: Option<usize>,
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Strict {
        #[serde(default, deserialize_with = "uuid")]
        after: Option<uuid::Uuid>,
        #[serde(default, deserialize_with = "timestamp")]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default, deserialize_with = "int64")]
        position: Option<u64>,
        #[serde(default, deserialize_with = "count")]
        limit: Option<usize>,
    }

    fn read(query: &str) -> Result<Strict, String> {
        let uri: axum::http::Uri = format!("/?{query}").parse().map_err(|e| format!("{e}"))?;
        Query::try_from_uri(&uri).map(|Query(q)| q).map_err(|e| e.body_text())
    }

    #[test]
    fn ids_are_read_only_in_their_hyphenated_form() {
        let hyphenated = "0190f0c4-8c5e-7a3b-9a7e-2f4d5c6b7a80";
        assert!(id(hyphenated, "webhook_id").is_ok());
        let after = read(&format!("after={hyphenated}")).map(|q| q.after.map(|u| u.to_string()));
        assert_eq!(after, Ok(Some(hyphenated.to_owned())));
        for other in [
            "0190f0c48c5e7a3b9a7e2f4d5c6b7a80",
            "{0190f0c4-8c5e-7a3b-9a7e-2f4d5c6b7a80}",
            "urn:uuid:0190f0c4-8c5e-7a3b-9a7e-2f4d5c6b7a80",
            "x",
        ] {
            assert!(id(other, "webhook_id").is_err(), "{other}");
            assert!(read(&format!("after={}", other.replace('{', "%7B").replace('}', "%7D"))).is_err(), "{other}");
        }
    }

    #[test]
    fn times_are_read_only_as_rfc3339_date_times() {
        assert!(read("at=2026-11-24T10:00:00Z").is_ok_and(|q| q.at.is_some()));
        assert!(read("").is_ok_and(|q| q.at.is_none() && q.after.is_none()));
        for other in ["2026-11-24%2010:00:00Z", "2026-11-24T10:00:00%2B0000", "yesterday"] {
            assert!(read(&format!("at={other}")).is_err(), "{other}");
        }
    }

    #[test]
    fn integers_are_read_only_as_plain_digits() {
        let both = |query: &str| read(query).map(|q| (q.position, q.limit));
        assert_eq!(both("position=0&limit=5"), Ok((Some(0), Some(5))));
        assert_eq!(both("position=9223372036854775807&limit=10"), Ok((Some(i64::MAX as u64), Some(10))));
        assert_eq!(both(""), Ok((None, None)));
        for other in ["%2B5", "05", "00", "-1", "5.0", "1e3", "%205", "", "five"] {
            for name in ["position", "limit"] {
                let refused = read(&format!("{name}={other}")).err().unwrap_or_default();
                assert!(refused.contains("not a whole number in digits"), "{name}={other}: {refused}");
            }
        }
        let refused = read("position=9223372036854775808").err().unwrap_or_default();
        assert!(refused.contains("is above 9223372036854775807"), "{refused}");
        let refused = read("limit=99999999999999999999999").err().unwrap_or_default();
        assert!(refused.contains("is too large"), "{refused}");
    }
}
