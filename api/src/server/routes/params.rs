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
    uuid::Uuid::parse_str(raw)
        .map_err(|_| ApiError::InvalidParameter { name, detail: format!("`{raw}` is not a {name}: ids are UUIDs") })
}

/// An optional position or cursor, refused above `i64::MAX` (the stores'
/// positions, and the document's `int64`).
pub(crate) fn int64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    use serde::{Deserialize, de::Error};
    match Option::<u64>::deserialize(deserializer)? {
        Some(value) if i64::try_from(value).is_err() => Err(D::Error::custom(format!("{value} is above {}", i64::MAX))),
        value => Ok(value),
    }
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
    pub(crate) after: Option<uuid::Uuid>,
    /// At most this many (default 100).
    #[param(minimum = 1)]
    pub(crate) limit: Option<usize>,
}
