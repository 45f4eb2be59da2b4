//! API keys: `Authorization: Bearer <key>`, each key with scopes. A key is
//! shown once, when made; only its SHA-256 is kept, in the read-model database.

use std::{fmt, sync::Arc, time::Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeZone, Utc};
use database::{Database, Signal, query};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::key_memory::KeyMemory;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Scope {
    /// Ingest events.
    #[serde(rename = "events:write")]
    EventsWrite,
    /// Read players, features, recommendations.
    #[serde(rename = "read")]
    Read,
    /// Webhooks, models, projections and keys; implies the others.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Self; 3] = [Self::EventsWrite, Self::Read, Self::Admin];

    /// The scope as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventsWrite => "events:write",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    /// Reads a list written `events:write,read`.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        let scopes =
            s.split(',')
                .map(|part| {
                    Self::ALL.into_iter().find(|scope| scope.as_str() == part.trim()).ok_or_else(|| {
                        format!("unknown scope `{part}`: use {}", Self::ALL.map(Self::as_str).join(", "))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err("give at least one scope".to_owned());
        }
        let mut once = Vec::with_capacity(scopes.len());
        for scope in scopes {
            if !once.contains(&scope) {
                once.push(scope);
            }
        }
        Ok(once)
    }
}

/// A key's name, as the API and `nudge keys` take it: 1 to 100 characters,
/// not all of them white space.
pub fn key_name(raw: &str) -> Result<String, String> {
    if raw.chars().all(char::is_whitespace) || raw.chars().count() > 100 {
        return Err("name must be 1 to 100 characters, not all of them white space".to_owned());
    }
    Ok(raw.to_owned())
}

/// A key as listed (the key itself is never kept).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// Its id (to revoke it by).
    pub id: Uuid,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether it may act with `scope` (admin may do everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| *s == scope || *s == Scope::Admin)
    }
}

/// A key just made: the secret is shown this once.
pub struct NewKey {
    /// The key as listed.
    pub key: ApiKey,
    /// `nudge_` and 43 characters.
    pub secret: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey").field("key", &self.key).finish_non_exhaustive()
    }
}

/// What [`Keys::bootstrap`] did.
#[derive(Debug, PartialEq)]
pub enum Bootstrap {
    /// The key was stored, with scope `admin`.
    Stored(ApiKey),
    /// The key was stored before (in force or revoked: a revoked one stays revoked).
    Known,
    /// Another admin key is in force: the bootstrap key was not stored.
    AdminInForce,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// No randomness.
    #[error("no randomness available: {0}")]
    Random(String),
    /// A stored row does not read back.
    #[error("a stored API key does not read back: {0}")]
    Stored(String),
}

/// Where keys are kept: the read-model database.
#[derive(Debug, Clone)]
pub struct Keys {
    database: Database,
    /// What the checks on every request read, kept a moment (the server's).
    memory: Option<Arc<KeyMemory>>,
}

impl Keys {
    /// The key table in the read-model database.
    pub fn new(database: Database) -> Self {
        Self { database, memory: None }
    }

    /// The same, keeping what [`Keys::any`] and [`Keys::authenticate`] read
    /// for a moment: what a server checking every request wants.
    pub fn remembering(database: Database) -> Self {
        let memory = Arc::new(KeyMemory::new(&database));
        Self { database, memory: Some(memory) }
    }

    /// Forgets what was read, here and (PostgreSQL) on every other instance.
    async fn changed(&self) -> Result<(), KeyError> {
        if let Some(memory) = &self.memory {
            memory.forget();
        }
        Ok(self.database.signal(Signal::Keys).await?)
    }
}

type Row = (String, String, String, i64, Option<i64>);

fn key((id, name, scopes, created_at, revoked_at): Row) -> Result<ApiKey, KeyError> {
    let time = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    Ok(ApiKey {
        id: id.parse().map_err(|e: uuid::Error| KeyError::Stored(e.to_string()))?,
        name,
        scopes: Scope::parse_list(&scopes).map_err(KeyError::Stored)?,
        created_at: time(created_at),
        revoked_at: revoked_at.map(time),
    })
}

/// The SHA-256 of `secret`, in lowercase hex.
fn hash(secret: &str) -> String {
    domain::to_hex(&Sha256::digest(secret.as_bytes()))
}

impl Keys {
    /// Makes a key with these scopes.
    pub async fn create(&self, name: &str, scopes: &[Scope], now: DateTime<Utc>) -> Result<NewKey, KeyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        let secret = format!("nudge_{}", URL_SAFE_NO_PAD.encode(bytes));
        let key = self.insert(name, scopes, &secret, now).await?;
        Ok(NewKey { key, secret })
    }

    /// Stores `secret` (an operator's, from a file) as an admin key, once:
    /// only while no admin key is in force and this key was never stored.
    pub async fn bootstrap(&self, name: &str, secret: &str, now: DateTime<Utc>) -> Result<Bootstrap, KeyError> {
        let known: Option<(String,)> = query("SELECT id FROM api_keys WHERE key_hash = $1")
            .bind(hash(secret))
            .fetch_optional(self.database.reader())
            .await?;
        if known.is_some() {
            return Ok(Bootstrap::Known);
        }
        // Scopes are a comma list of `events:write`, `read` and `admin`: only `admin` holds "admin".
        let sql = "SELECT id FROM api_keys WHERE revoked_at IS NULL AND scopes LIKE '%admin%' LIMIT 1";
        let admin: Option<(String,)> = query(sql).fetch_optional(self.database.reader()).await?;
        if admin.is_some() {
            return Ok(Bootstrap::AdminInForce);
        }
        Ok(Bootstrap::Stored(self.insert(name, &[Scope::Admin], secret, now).await?))
    }

    async fn insert(&self, name: &str, scopes: &[Scope], secret: &str, now: DateTime<Utc>) -> Result<ApiKey, KeyError> {
        let key = ApiKey {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            scopes: scopes.to_vec(),
            created_at: now,
            revoked_at: None,
        };
        let written = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
        let sql = "INSERT INTO api_keys (id, name, scopes, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
        query(sql)
            .bind(key.id.to_string())
            .bind(name)
            .bind(written)
            .bind(hash(secret))
            .bind(now.timestamp_millis())
            .execute(self.database.writer())
            .await?;
        self.changed().await?;
        Ok(key)
    }

    /// A page of keys in id order (oldest first: ids are UUIDv7), those after `after`.
    pub async fn list(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<ApiKey>, KeyError> {
        let sql = "SELECT id, name, scopes, created_at, revoked_at FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2";
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let rows: Vec<Row> = query(sql).bind(after).bind(limit as i64).fetch_all(self.database.reader()).await?;
        rows.into_iter().map(key).collect()
    }

    /// Revokes a key at once; whether it was in force.
    pub async fn revoke(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, KeyError> {
        let sql = "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        let done = query(sql).bind(now.timestamp_millis()).bind(id.to_string()).execute(self.database.writer()).await?;
        self.changed().await?;
        Ok(done == 1)
    }

    /// The key in force that `secret` is, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>, KeyError> {
        let digest = hash(secret);
        let now = Instant::now();
        if let Some(known) = self.memory.as_ref().and_then(|m| m.key(&digest, now)) {
            return Ok(Some(known));
        }
        let reading = self.memory.as_deref().map(|m| (m, m.generation()));
        let sql =
            "SELECT id, name, scopes, created_at, revoked_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL";
        let row: Option<Row> = query(sql).bind(&digest).fetch_optional(self.database.reader()).await?;
        let found = row.map(key).transpose()?;
        // Unknown keys are not kept: one made on another instance works at once.
        if let (Some((memory, generation)), Some(found)) = (reading, &found) {
            memory.remember_key(digest, found.clone(), generation, now);
        }
        Ok(found)
    }

    /// Whether any key is in force.
    pub async fn any(&self) -> Result<bool, KeyError> {
        let now = Instant::now();
        if let Some(known) = self.memory.as_ref().and_then(|m| m.any(now)) {
            return Ok(known);
        }
        let reading = self.memory.as_deref().map(|m| (m, m.generation()));
        let sql = "SELECT id FROM api_keys WHERE revoked_at IS NULL LIMIT 1";
        let any = query(sql).fetch_optional::<(String,)>(self.database.reader()).await?.is_some();
        if let Some((memory, generation)) = reading {
            memory.remember_any(any, generation, now);
        }
        Ok(any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_as_written_and_admin_allows_all() {
        assert_eq!(Scope::parse_list("events:write, read"), Ok(vec![Scope::EventsWrite, Scope::Read]));
        assert!(Scope::parse_list("write").is_err());
        let key =
            |scopes| ApiKey { id: Uuid::nil(), name: String::new(), scopes, created_at: Utc::now(), revoked_at: None };
        assert!(key(vec![Scope::Admin]).allows(Scope::EventsWrite));
        assert!(!key(vec![Scope::Read]).allows(Scope::EventsWrite));
    }
}
