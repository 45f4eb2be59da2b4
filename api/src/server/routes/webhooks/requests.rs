//! The request bodies of the webhook routes, as read and as the OpenAPI
//! document describes them, and the checks serde cannot make.

use chrono::{DateTime, Utc};
use domain::InterventionKind;
use serde::Deserialize;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use webhooks::{EVENT_TYPES, Mode, check_target};

use crate::{server::AppState, server::problem::ApiError, server::routes::body, server::routes::params};

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://crm.example.com/hooks/nudge",
    "types": ["nudge.intervention.recommended"],
    "kinds": ["reality_check", "deposit_limit_suggestion"],
    "mode": "structured",
    "description": "safer-gambling prompts to the CRM"
}))]
pub struct NewWebhook {
    /// Where deliveries are POSTed: `https`, or `http`; a public address unless nudge allows private ones.
    #[schema(format = "uri")]
    pub url: String,
    /// The event types to receive.
    #[schema(min_items = 1, inline, value_type = Vec<WebhookEventType>)]
    pub types: Vec<String>,
    /// Only these kinds of recommendation; all when absent or `null`.
    #[schema(min_items = 1)]
    pub kinds: Option<Vec<InterventionKind>>,
    /// How events travel (default `structured`).
    #[serde(default)]
    pub mode: Mode,
    /// What it is for, at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    /// Whether to run the CloudEvents validation handshake first (default true).
    #[serde(default = "handshake_by_default")]
    #[schema(default = true)]
    pub handshake: bool,
}

fn handshake_by_default() -> bool {
    true
}

/// The body of `PATCH /v1/webhooks/{webhook_id}`: the fields to change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct WebhookPatch {
    /// Where deliveries are POSTed.
    #[serde(default, deserialize_with = "body::present")]
    #[schema(format = "uri", nullable = false)]
    pub url: Option<String>,
    /// The event types to receive.
    #[serde(default, deserialize_with = "body::present")]
    #[schema(min_items = 1, inline, value_type = Vec<WebhookEventType>)]
    pub types: Option<Vec<String>>,
    /// Only these kinds of recommendation; `null` for all.
    #[serde(default, deserialize_with = "body::present")]
    #[schema(min_items = 1, value_type = Option<Vec<InterventionKind>>)]
    pub kinds: Option<Option<Vec<InterventionKind>>>,
    /// How events travel.
    #[serde(default, deserialize_with = "body::present")]
    #[schema(nullable = false)]
    pub mode: Option<Mode>,
    /// What it is for, at most 500 characters.
    #[serde(default, deserialize_with = "body::present")]
    #[schema(max_length = 500, nullable = false)]
    pub description: Option<String>,
    /// Whether events are routed and delivered to it.
    #[serde(default, deserialize_with = "body::present")]
    #[schema(nullable = false)]
    pub enabled: Option<bool>,
    /// Whether to run the CloudEvents validation handshake.
    #[serde(default, deserialize_with = "body::present")]
    #[schema(nullable = false)]
    pub handshake: Option<bool>,
}

/// An event type a subscription can receive: one of [`EVENT_TYPES`].
pub struct WebhookEventType;

impl utoipa::PartialSchema for WebhookEventType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(EVENT_TYPES)).into()
    }
}

impl utoipa::ToSchema for WebhookEventType {}

/// The body of `POST /v1/webhooks/{webhook_id}/replay`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-11-24T00:00:00Z"}))]
pub struct Replay {
    /// Queue again every recommendation made since this time (RFC 3339).
    #[serde(deserialize_with = "params::required_timestamp")]
    pub since: DateTime<Utc>,
}

fn invalid(field: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidField { pointer: format!("/{field}"), detail: detail.into() }
}

pub(super) fn types(types: Vec<String>) -> Result<Vec<String>, ApiError> {
    if types.is_empty() || types.iter().any(|t| !EVENT_TYPES.contains(&t.as_str())) {
        return Err(invalid("types", format!("types must be a non-empty list of {}", EVENT_TYPES.join(", "))));
    }
    Ok(types)
}

pub(super) fn kinds(kinds: Vec<InterventionKind>) -> Result<Vec<InterventionKind>, ApiError> {
    if kinds.is_empty() {
        let known = InterventionKind::ALL.map(InterventionKind::as_str).join(", ");
        return Err(invalid("kinds", format!("kinds must be null or a non-empty list of {known}")));
    }
    Ok(kinds)
}

pub(super) fn description(text: String) -> Result<String, ApiError> {
    if text.chars().count() > 500 {
        return Err(invalid("description", "description holds at most 500 characters"));
    }
    Ok(text)
}

pub(super) async fn url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    check_target(raw, &state.webhooks.targets)
        .await
        .map(|url| url.to_string())
        .map_err(|e| invalid("url", format!("url: {e}")))
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use serde_json::{Value, json};

    use super::*;

    fn patch(value: Value) -> Result<WebhookPatch, ApiError> {
        body::json(&Bytes::from(value.to_string()))
    }

    #[test]
    fn a_patch_clears_kinds_with_null_and_leaves_them_when_absent() {
        let cleared = patch(json!({"kinds": null})).unwrap();
        assert_eq!(cleared.kinds, Some(None));
        let left = patch(json!({"enabled": false})).unwrap();
        assert_eq!((left.kinds, left.enabled), (None, Some(false)));
        let set = patch(json!({"kinds": ["cool_off"]})).unwrap();
        assert_eq!(set.kinds, Some(Some(vec![InterventionKind::CoolOff])));
    }

    #[test]
    fn a_patch_refuses_null_for_a_field_that_cannot_be_cleared() {
        for field in ["url", "types", "mode", "description", "enabled", "handshake"] {
            let refused = patch(json!({ field: null })).err();
            let pointer = match refused {
                Some(ApiError::InvalidField { pointer, .. }) => pointer,
                other => panic!("{field}: {other:?}"),
            };
            assert_eq!(pointer, format!("/{field}"));
        }
    }

    #[test]
    fn a_new_webhook_takes_the_defaults_and_names_a_bad_field() {
        let body = json!({"url": "https://192.0.2.1/", "types": ["nudge.intervention.recommended"]});
        let new: NewWebhook = body::json(&Bytes::from(body.to_string())).unwrap();
        assert_eq!((new.mode, new.description.as_str(), new.handshake, new.kinds), (Mode::Structured, "", true, None));
        let bad = json!({"url": "https://192.0.2.1/", "types": [], "mode": "carrier_pigeon"});
        let refused = body::json::<NewWebhook>(&Bytes::from(bad.to_string())).err();
        assert!(matches!(refused, Some(ApiError::InvalidField { pointer, .. }) if pointer == "/mode"));
    }
}
