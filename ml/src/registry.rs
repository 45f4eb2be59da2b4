//! The model registry, in the read-model database: every trained version and
//! the one, at most, that scores.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, SqlitePool};

use crate::{MlError, artifact::ModelArtifact};

/// Where model versions are kept.
#[derive(Debug, Clone)]
pub enum Registry {
    /// A SQLite read model: writes go through its single writer.
    Sqlite {
        /// The one connection that writes.
        writer: SqlitePool,
        /// Connections that read.
        readers: SqlitePool,
    },
    /// A PostgreSQL read model.
    Postgres(PgPool),
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    /// The artifact.
    pub artifact: ModelArtifact,
    /// When it was trained.
    pub trained_at: DateTime<Utc>,
    /// Whether it is the one that scores.
    pub active: bool,
    /// When it was last activated.
    pub activated_at: Option<DateTime<Utc>>,
}

type Row = (String, DateTime<Utc>, bool, Option<DateTime<Utc>>);

const COLUMNS: &str = "artifact, trained_at, active, activated_at";

impl Registry {
    /// Registers a version (once: the same version again changes nothing).
    pub async fn save(&self, artifact: &ModelArtifact, trained_at: DateTime<Utc>) -> Result<(), MlError> {
        let json = artifact.to_json()?;
        match self {
            Self::Sqlite { writer, .. } => {
                sqlx::query(
                    "INSERT INTO models (version, trained_at, artifact) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(&artifact.version)
                .bind(trained_at)
                .bind(json)
                .execute(writer)
                .await?;
            }
            Self::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO models (version, trained_at, artifact) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(&artifact.version)
                .bind(trained_at)
                .bind(json)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Every version, the latest trained first.
    pub async fn list(&self) -> Result<Vec<ModelEntry>, MlError> {
        let sql = format!("SELECT {COLUMNS} FROM models ORDER BY trained_at DESC, version");
        let rows: Vec<Row> = match self {
            Self::Sqlite { readers, .. } => sqlx::query_as(&sql).fetch_all(readers).await?,
            Self::Postgres(pool) => sqlx::query_as(&sql).fetch_all(pool).await?,
        };
        rows.into_iter().map(entry).collect()
    }

    /// One version.
    pub async fn get(&self, version: &str) -> Result<Option<ModelEntry>, MlError> {
        let row: Option<Row> = match self {
            Self::Sqlite { readers, .. } => {
                let sql = format!("SELECT {COLUMNS} FROM models WHERE version = ?");
                sqlx::query_as(&sql).bind(version).fetch_optional(readers).await?
            }
            Self::Postgres(pool) => {
                let sql = format!("SELECT {COLUMNS} FROM models WHERE version = $1");
                sqlx::query_as(&sql).bind(version).fetch_optional(pool).await?
            }
        };
        row.map(entry).transpose()
    }

    /// The active version, if one is.
    pub async fn active(&self) -> Result<Option<ModelEntry>, MlError> {
        let sql = format!("SELECT {COLUMNS} FROM models WHERE active");
        let row: Option<Row> = match self {
            Self::Sqlite { readers, .. } => sqlx::query_as(&sql).fetch_optional(readers).await?,
            Self::Postgres(pool) => sqlx::query_as(&sql).fetch_optional(pool).await?,
        };
        row.map(entry).transpose()
    }

    /// Makes `version` the active one (and no other) in one transaction;
    /// answers false when there is no such version.
    pub async fn activate(&self, version: &str, now: DateTime<Utc>) -> Result<bool, MlError> {
        let found = match self {
            Self::Sqlite { writer, .. } => {
                let mut tx = writer.begin().await?;
                let exists = sqlx::query("SELECT 1 FROM models WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() {
                    sqlx::query("UPDATE models SET active = 0 WHERE active = 1 AND version <> ?")
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE models SET active = 1, activated_at = ? WHERE version = ?")
                        .bind(now)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                exists.is_some()
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // One activation at a time: the unique index would fail a concurrent one.
                sqlx::query("LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
                let exists = sqlx::query("SELECT 1 FROM models WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_some() {
                    sqlx::query("UPDATE models SET active = false WHERE active AND version <> $1")
                        .bind(version)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE models SET active = true, activated_at = $2 WHERE version = $1")
                        .bind(version)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                exists.is_some()
            }
        };
        Ok(found)
    }
}

fn entry((artifact, trained_at, active, activated_at): Row) -> Result<ModelEntry, MlError> {
    Ok(ModelEntry { artifact: ModelArtifact::from_json(&artifact)?, trained_at, active, activated_at })
}
