//! The recommendations table: at most one recommendation per triggering event,
//! its global position the feed's cursor, its body the JSON webhooks send.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use database::{Tx, query, values};
use domain::{InterventionKind, Recommendation, Status};
use webhooks::Queued;

use super::{
    ReadModel,
    rows::{Changes, to_i64, to_u64},
};
use crate::ProjectionError;

/// Which recommendations to read.
#[derive(Debug, Clone, Copy)]
pub struct RecommendationQuery<'a> {
    /// Only this player's.
    pub player_id: Option<&'a str>,
    /// Only of this kind.
    pub kind: Option<InterventionKind>,
    /// Only those triggered after this position (the feed's cursor).
    pub after: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// Recommendations per multi-row insert: 7 parameters each.
const INSERT_CHUNK: usize = 500;

/// Stores `rows` recommendations, each once (a replay of its batch finds it
/// there), and answers the positions of those it stored.
fn insert_sql(postgres: bool, rows: usize) -> String {
    format!(
        "INSERT INTO recommendations (position, id, player_id, kind, created_at, body, traceparent) {} \
         ON CONFLICT DO NOTHING RETURNING position",
        values(postgres, rows, 7)
    )
}

/// Records a player's answer to one of their own recommendations.
const ANSWER: &str = "UPDATE recommendations SET status = $1, answered_at = $2 WHERE id = $3 AND player_id = $4";

/// The columns a delivery carries.
const QUEUED_COLUMNS: &str = "position, id, player_id, kind, created_at, body, traceparent";

type QueuedRow = (i64, String, String, String, DateTime<Utc>, String, Option<String>);

impl ReadModel {
    /// Writes a batch's recommendations, queues the new ones in the outbox, and
    /// records the answers, inside its transaction; answers how many it queued.
    pub(super) async fn write_decisions(&self, tx: &mut Tx, changes: &Changes) -> Result<usize, ProjectionError> {
        let mut queued = Vec::new();
        for chunk in changes.recommendations.chunks(INSERT_CHUNK) {
            let sql = insert_sql(tx.is_postgres(), chunk.len());
            let mut statement = query(&sql);
            for recommendation in chunk {
                let body = serde_json::to_string(recommendation).map_err(ProjectionError::Encode)?;
                statement = statement
                    .bind(to_i64(recommendation.triggered_by.position))
                    .bind(recommendation.id.to_string())
                    .bind(recommendation.player_id.as_str())
                    .bind(recommendation.kind.as_str())
                    .bind(recommendation.created_at)
                    .bind(body)
                    .bind(recommendation.triggered_by.traceparent.map(|t| t.to_string()));
            }
            let stored: Vec<(i64,)> = statement.fetch_all(&mut *tx).await?;
            for (position,) in stored {
                queued.push(to_u64("position", position)?);
            }
        }
        self.outbox.enqueue(tx, &queued).await?;
        for answer in &changes.answers {
            query(ANSWER)
                .bind(answer.status.as_str())
                .bind(answer.at)
                .bind(answer.id.to_string())
                .bind(answer.player_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        Ok(queued.len())
    }

    /// Stored recommendations, oldest first.
    pub async fn recommendations(
        &self,
        filter: &RecommendationQuery<'_>,
    ) -> Result<Vec<Recommendation>, ProjectionError> {
        self.recommendations_between(filter, None, false).await
    }

    /// Those triggered after the filter's `after` and before position `before`
    /// (when given), oldest first or newest first: the console reads the
    /// feed's latest this way.
    pub async fn recommendations_between(
        &self,
        filter: &RecommendationQuery<'_>,
        before: Option<u64>,
        newest_first: bool,
    ) -> Result<Vec<Recommendation>, ProjectionError> {
        let mut sql = "SELECT status, body FROM recommendations WHERE position > $1".to_owned();
        let mut n = 1;
        if filter.player_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND player_id = ${n}"));
        }
        if filter.kind.is_some() {
            n += 1;
            sql.push_str(&format!(" AND kind = ${n}"));
        }
        if before.is_some() {
            n += 1;
            sql.push_str(&format!(" AND position < ${n}"));
        }
        sql.push_str(if newest_first { " ORDER BY position DESC" } else { " ORDER BY position" });
        sql.push_str(&format!(" LIMIT ${}", n + 1));
        let mut statement = query(&sql).bind(to_i64(filter.after.unwrap_or(0)));
        if let Some(player) = filter.player_id {
            statement = statement.bind(player);
        }
        if let Some(kind) = filter.kind {
            statement = statement.bind(kind.as_str());
        }
        if let Some(before) = before {
            statement = statement.bind(to_i64(before));
        }
        let rows: Vec<(String, String)> = statement.bind(filter.limit as i64).fetch_all(self.database.reader()).await?;
        rows.into_iter().map(recommendation).collect()
    }
}

/// Reads a stored recommendation back, with its current status.
fn recommendation((status, body): (String, String)) -> Result<Recommendation, ProjectionError> {
    let mut recommendation: Recommendation = serde_json::from_str(&body).map_err(ProjectionError::Encode)?;
    recommendation.status = Status::parse(&status).unwrap_or(recommendation.status);
    Ok(recommendation)
}

fn queued((position, id, player_id, kind, created_at, body, traceparent): QueuedRow) -> Queued {
    Queued { position: position.max(0).unsigned_abs(), id, player_id, kind, created_at, body, traceparent }
}

#[async_trait]
impl webhooks::Recommendations for ReadModel {
    async fn at(&self, tx: &mut Tx, positions: &[u64]) -> Result<Vec<Queued>, sqlx::Error> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        // SQLite looks a `$n` parameter's name up in a list, so a thousand of
        // them cost quadratic time: it gets `?`.
        let mark = |n: usize| if tx.is_postgres() { format!("${n}") } else { "?".to_owned() };
        let marks: Vec<String> = (1..=positions.len()).map(mark).collect();
        let sql = format!(
            "SELECT {QUEUED_COLUMNS} FROM recommendations WHERE position IN ({}) ORDER BY position",
            marks.join(", ")
        );
        let mut statement = query(&sql);
        for position in positions {
            statement = statement.bind(to_i64(*position));
        }
        let rows: Vec<QueuedRow> = statement.fetch_all(tx).await?;
        Ok(rows.into_iter().map(queued).collect())
    }

    async fn since(
        &self,
        tx: &mut Tx,
        since: DateTime<Utc>,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Queued>, sqlx::Error> {
        let sql = format!(
            "SELECT {QUEUED_COLUMNS} FROM recommendations WHERE created_at >= $1 AND position > $2 \
             ORDER BY position LIMIT $3"
        );
        let after = after.map_or(-1, to_i64);
        let rows: Vec<QueuedRow> = query(&sql).bind(since).bind(after).bind(limit as i64).fetch_all(tx).await?;
        Ok(rows.into_iter().map(queued).collect())
    }
}
