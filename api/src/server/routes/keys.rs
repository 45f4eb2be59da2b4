//! API keys over the API (admin): create, list, revoke.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{body, params};
use crate::{
    server::AppState,
    server::problem::ApiError,
    services::keys::{ApiKey, KeyError, Scope, key_name},
};

/// A key just made, with its secret (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key as listed.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret to send as `Authorization: Bearer <key>`.
    pub key_secret: String,
}

/// The body of `POST /v1/keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "crm", "scopes": ["read"]}))]
pub struct NewKey {
    /// What it is for, 1 to 100 characters, not all of them white space.
    // The pattern spells out Unicode's white space (`char::is_whitespace`): `\s` means a
    // different set in each regex flavour (ECMAScript's leaves out U+0085, Python's adds U+001C).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    /// What it may do.
    #[schema(min_items = 1, value_type = Vec<Scope>)]
    pub scopes: Vec<String>,
}

/// A page of keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Oldest first; revoked ones show `revoked_at`.
    pub keys: Vec<ApiKey>,
    /// The `after` of the next page; `null` when this one is the last.
    pub next: Option<Uuid>,
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Database(e) => Self::Unavailable(e.into()),
            e => Self::Internal(e.into()),
        }
    }
}

/// Makes a key: body `{"name": "...", "scopes": ["read", ...]}`.
#[utoipa::path(
    post,
    path = "/v1/keys",
    operation_id = "createKey",
    tag = "keys",
    request_body = NewKey,
    responses((status = 201, description = "The key, with its secret (shown this once)", body = CreatedKey)),
)]
#[tracing::instrument(name = "create_key", skip_all)]
pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<impl IntoResponse, ApiError> {
    let NewKey { name, scopes } = body::json(&body)?;
    let name = key_name(&name).map_err(|detail| ApiError::InvalidField { pointer: "/name".into(), detail })?;
    let scopes = Scope::parse_list(&scopes.join(","))
        .map_err(|detail| ApiError::InvalidField { pointer: "/scopes".into(), detail })?;
    let made = state.keys.create(&name, &scopes, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key: made.key, key_secret: made.secret })))
}

/// A page of keys, oldest first.
#[utoipa::path(
    get,
    path = "/v1/keys",
    operation_id = "listKeys",
    tag = "keys",
    params(params::IdPage),
    responses((status = 200, description = "A page of keys", body = KeyList)),
)]
#[tracing::instrument(name = "list_keys", skip_all)]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<params::IdPage>, QueryRejection>,
) -> Result<Json<KeyList>, ApiError> {
    let query = params::query(query)?;
    let limit = params::limit(query.limit, state.limits.max_page)?;
    let keys = state.keys.list(query.after, limit).await?;
    let next = keys.last().filter(|_| keys.len() == limit).map(|k| k.id);
    Ok(Json(KeyList { keys, next }))
}

/// Revokes a key, at once.
#[utoipa::path(
    delete,
    path = "/v1/keys/{key_id}",
    operation_id = "revokeKey",
    tag = "keys",
    params(("key_id" = Uuid, Path, description = "The key")),
    responses(
        (status = 204, description = "Revoked: refused from now on"),
        (status = 404, description = "No such key in force"),
    ),
)]
#[tracing::instrument(name = "revoke_key", skip(state))]
pub async fn revoke(State(state): State<AppState>, Path(key_id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = params::id(&key_id, "key_id")?;
    if state.keys.revoke(id, Utc::now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no key {id} in force")))
    }
}
