//! Request slots on PostgreSQL, where several instances dispatch: each request
//! to a subscription holds one of its slot rows, so that the requests in flight
//! across every instance stay within `--webhook-concurrency`. A slot is freed
//! when its attempt settles, or lapses with the attempt's lease when its
//! instance died. On SQLite one process dispatches and its semaphore suffices.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Database, deliveries, millis};
use crate::WebhookError;

/// Slots to take: at most `wanted` of a subscription's first `concurrency`.
#[derive(Debug, Clone, Copy)]
pub struct SlotRequest {
    /// The subscription.
    pub subscription: Uuid,
    /// Its bound on requests in flight.
    pub concurrency: usize,
    /// How many this worker can use now.
    pub wanted: usize,
}

impl Database {
    /// Makes sure the subscription has its first `concurrency` slot rows.
    pub(crate) async fn add_slots(&self, subscription: Uuid, concurrency: usize) -> Result<(), WebhookError> {
        let database::Pool::Postgres(pool) = self.database.writer() else { return Ok(()) };
        sqlx::query(
            "INSERT INTO webhook_slots (subscription_id, slot, until_ms) \
             SELECT $1, s, 0 FROM generate_series(0, $2 - 1) AS s ON CONFLICT DO NOTHING",
        )
        .bind(subscription.to_string())
        .bind(i32::try_from(concurrency).unwrap_or(i32::MAX))
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Takes free slots, held until `until`, but only while the subscription
    /// has a due delivery (so an idle worker writes nothing). `None` on SQLite.
    pub(crate) async fn take_slots(
        &self,
        request: SlotRequest,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Vec<i32>>, WebhookError> {
        let database::Pool::Postgres(pool) = self.database.writer() else { return Ok(None) };
        let subscription = request.subscription.to_string();
        let concurrency = i32::try_from(request.concurrency).unwrap_or(i32::MAX);
        let sql = format!(
            "UPDATE webhook_slots SET until_ms = $1 WHERE subscription_id = $2 AND until_ms <= $3 AND slot IN \
             (SELECT slot FROM webhook_slots WHERE subscription_id = $2 AND slot < $4 AND until_ms <= $3 \
                 AND EXISTS (SELECT 1 FROM webhook_deliveries WHERE subscription_id = $2 AND {}) \
              ORDER BY slot LIMIT $5 FOR UPDATE SKIP LOCKED) \
             RETURNING slot",
            deliveries::due("$3")
        );
        let slots: Vec<(i32,)> = sqlx::query_as(&sql)
            .bind(millis(until))
            .bind(&subscription)
            .bind(millis(now))
            .bind(concurrency)
            .bind(request.wanted as i64)
            .fetch_all(pool)
            .await?;
        Ok(Some(slots.into_iter().map(|(slot,)| slot).collect()))
    }

    /// Frees slots whose requests have settled (or were never sent).
    pub(crate) async fn free_slots(&self, slots: &[(Uuid, i32)]) -> Result<(), WebhookError> {
        let database::Pool::Postgres(pool) = self.database.writer() else { return Ok(()) };
        if slots.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE webhook_slots s SET until_ms = 0 FROM UNNEST($1::text[], $2::int[]) AS v(subscription, slot) \
             WHERE s.subscription_id = v.subscription AND s.slot = v.slot",
        )
        .bind(slots.iter().map(|(s, _)| s.to_string()).collect::<Vec<_>>())
        .bind(slots.iter().map(|(_, slot)| *slot).collect::<Vec<_>>())
        .execute(pool)
        .await?;
        Ok(())
    }
}
