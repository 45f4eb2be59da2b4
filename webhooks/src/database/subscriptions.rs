//! Subscription rows.

use chrono::{DateTime, Utc};
use database::query;
use domain::InterventionKind;
use uuid::Uuid;

use super::{Database, millis, time};
use crate::{Mode, SigningSecret, Subscription, Validation, WebhookError};

const COLUMNS: &str = "id, url, types, kinds, mode, description, enabled, disabled_reason, handshake, validation, \
     validation_error, secret, previous_secret, previous_secret_until, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    url: String,
    types: String,
    kinds: Option<String>,
    mode: String,
    description: String,
    enabled: bool,
    disabled_reason: Option<String>,
    handshake: bool,
    validation: String,
    validation_error: Option<String>,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for Subscription {
    type Error = WebhookError;

    fn try_from(row: Row) -> Result<Self, WebhookError> {
        let bad = |detail: String| WebhookError::stored("subscription", format!("{}: {detail}", row.id));
        let kinds = match &row.kinds {
            Some(kinds) => Some(serde_json::from_str::<Vec<InterventionKind>>(kinds).map_err(|e| bad(e.to_string()))?),
            None => None,
        };
        Ok(Subscription {
            id: row.id.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
            types: serde_json::from_str(&row.types).map_err(|e| bad(e.to_string()))?,
            kinds,
            mode: Mode::parse(&row.mode).ok_or_else(|| bad(format!("mode {}", row.mode)))?,
            validation: Validation::parse(&row.validation)
                .ok_or_else(|| bad(format!("validation {}", row.validation)))?,
            secret: SigningSecret::parse(&row.secret).map_err(|e| bad(e.to_string()))?,
            previous_secret: row
                .previous_secret
                .as_deref()
                .map(SigningSecret::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            previous_secret_expires_at: row.previous_secret_until.map(time),
            url: row.url,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            handshake: row.handshake,
            validation_error: row.validation_error,
            created_at: time(row.created_at),
            updated_at: time(row.updated_at),
        })
    }
}

/// The JSON the `types` and `kinds` columns hold.
fn lists(subscription: &Subscription) -> (String, Option<String>) {
    let types = serde_json::Value::from(subscription.types.clone()).to_string();
    let kinds = subscription
        .kinds
        .as_ref()
        .map(|kinds| serde_json::Value::from(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()).to_string());
    (types, kinds)
}

impl Database {
    /// Stores a new subscription.
    pub async fn insert_subscription(&self, subscription: &Subscription) -> Result<(), WebhookError> {
        let sql = format!("INSERT INTO webhook_subscriptions ({COLUMNS}) VALUES ({})", placeholders(16));
        self.write_subscription(&sql, subscription).await
    }

    /// Stores every field of a changed subscription; `fresh_handshake` starts
    /// its validation handshakes over (its address or handshake setting changed).
    pub async fn update_subscription(
        &self,
        subscription: &Subscription,
        fresh_handshake: bool,
    ) -> Result<(), WebhookError> {
        let mut sets: Vec<String> =
            COLUMNS.split(", ").skip(1).enumerate().map(|(i, column)| format!("{column} = ${}", i + 2)).collect();
        if fresh_handshake {
            sets.push("handshake_attempts = 0, handshake_next_at = 0".to_owned());
        }
        let sql = format!("UPDATE webhook_subscriptions SET {} WHERE id = $1", sets.join(", "));
        self.write_subscription(&sql, subscription).await
    }

    async fn write_subscription(&self, sql: &str, s: &Subscription) -> Result<(), WebhookError> {
        let (types, kinds) = lists(s);
        query(sql)
            .bind(s.id.to_string())
            .bind(&s.url)
            .bind(&types)
            .bind(&kinds)
            .bind(s.mode.as_str())
            .bind(&s.description)
            .bind(s.enabled)
            .bind(&s.disabled_reason)
            .bind(s.handshake)
            .bind(s.validation.as_str())
            .bind(&s.validation_error)
            .bind(s.secret.to_string())
            .bind(s.previous_secret.as_ref().map(ToString::to_string))
            .bind(s.previous_secret_expires_at.map(millis))
            .bind(millis(s.created_at))
            .bind(millis(s.updated_at))
            .execute(self.database.writer())
            .await?;
        Ok(())
    }

    /// Every subscription, oldest first.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, WebhookError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id");
        let rows: Vec<Row> = query(&sql).fetch_all(self.database.reader()).await?;
        rows.into_iter().map(Subscription::try_from).collect()
    }

    /// A page of subscriptions in id order (oldest first: ids are UUIDv7),
    /// those after `after`.
    pub async fn subscription_page(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Subscription>, WebhookError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions WHERE id > $1 ORDER BY id LIMIT $2");
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let rows: Vec<Row> = query(&sql).bind(after).bind(limit as i64).fetch_all(self.database.reader()).await?;
        rows.into_iter().map(Subscription::try_from).collect()
    }

    /// One subscription.
    pub async fn subscription(&self, id: Uuid) -> Result<Option<Subscription>, WebhookError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = $1");
        let row: Option<Row> = query(&sql).bind(id.to_string()).fetch_optional(self.database.reader()).await?;
        row.map(Subscription::try_from).transpose()
    }

    /// Deletes a subscription and its deliveries; whether it existed.
    pub async fn delete_subscription(&self, id: Uuid) -> Result<bool, WebhookError> {
        let id = id.to_string();
        let mut tx = self.database.begin().await?;
        query("DELETE FROM webhook_deliveries WHERE subscription_id = $1").bind(id.as_str()).execute(&mut tx).await?;
        if tx.is_postgres() {
            query("DELETE FROM webhook_slots WHERE subscription_id = $1").bind(id.as_str()).execute(&mut tx).await?;
        }
        let deleted =
            query("DELETE FROM webhook_subscriptions WHERE id = $1").bind(id.as_str()).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// Claims the subscription's validation handshake until `until`, if it
    /// waits for one and no instance holds or waits out an earlier attempt:
    /// the attempts made so far, or `None` when it is not this instance's turn.
    pub async fn claim_handshake(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u32>, WebhookError> {
        let sql = "UPDATE webhook_subscriptions SET handshake_next_at = $1 \
             WHERE id = $2 AND enabled = $3 AND validation = $4 AND handshake_next_at <= $5 RETURNING handshake_attempts";
        let made: Option<(i32,)> = query(sql)
            .bind(millis(until))
            .bind(id.to_string())
            .bind(true)
            .bind(Validation::Pending.as_str())
            .bind(millis(now))
            .fetch_optional(self.database.writer())
            .await?;
        Ok(made.map(|(made,)| made.max(0) as u32))
    }

    /// Records the outcome of a validation handshake sent to `url`, unless
    /// the address changed meanwhile; `next` is when a refused one is tried
    /// again.
    pub async fn set_validation(
        &self,
        id: Uuid,
        url: &str,
        validation: Validation,
        error: Option<&str>,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let sql = "UPDATE webhook_subscriptions SET validation = $1, validation_error = $2, updated_at = $3, \
             handshake_attempts = handshake_attempts + 1, handshake_next_at = $4 WHERE id = $5 AND url = $6";
        query(sql)
            .bind(validation.as_str())
            .bind(error)
            .bind(millis(now))
            .bind(millis(next))
            .bind(id.to_string())
            .bind(url)
            .execute(self.database.writer())
            .await?;
        Ok(())
    }

    /// Disables a subscription (its receiver answered `410 Gone`).
    pub async fn disable(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<(), WebhookError> {
        let sql = "UPDATE webhook_subscriptions SET enabled = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4";
        query(sql)
            .bind(false)
            .bind(reason)
            .bind(millis(now))
            .bind(id.to_string())
            .execute(self.database.writer())
            .await?;
        Ok(())
    }
}

/// `$1, $2, ... $n`.
pub(super) fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
