//! The model registry, in the read-model database: every trained version and
//! the one, at most, that scores.

use chrono::{DateTime, Utc};
use database::{Database, Listener, Signal, query};

use crate::{MlError, artifact::ModelArtifact};

/// Where model versions are kept: the read-model database.
#[derive(Debug, Clone)]
pub struct Registry(Database);

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
    /// The registry in the read-model database.
    pub fn new(database: Database) -> Self {
        Self(database)
    }

    /// Registers a version (once: the same version again changes nothing).
    pub async fn save(&self, artifact: &ModelArtifact, trained_at: DateTime<Utc>) -> Result<(), MlError> {
        let json = artifact.to_json()?;
        let sql = "INSERT INTO models (version, trained_at, artifact) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        query(sql).bind(&artifact.version).bind(trained_at).bind(json).execute(self.0.writer()).await?;
        Ok(())
    }

    /// Every version, the latest trained first.
    pub async fn list(&self) -> Result<Vec<ModelEntry>, MlError> {
        let sql = format!("SELECT {COLUMNS} FROM models ORDER BY trained_at DESC, version");
        let rows: Vec<Row> = query(&sql).fetch_all(self.0.reader()).await?;
        rows.into_iter().map(entry).collect()
    }

    /// One version.
    pub async fn get(&self, version: &str) -> Result<Option<ModelEntry>, MlError> {
        let sql = format!("SELECT {COLUMNS} FROM models WHERE version = $1");
        let row: Option<Row> = query(&sql).bind(version).fetch_optional(self.0.reader()).await?;
        row.map(entry).transpose()
    }

    /// The active version, if one is.
    pub async fn active(&self) -> Result<Option<ModelEntry>, MlError> {
        let sql = format!("SELECT {COLUMNS} FROM models WHERE active");
        let row: Option<Row> = query(&sql).fetch_optional(self.0.reader()).await?;
        row.map(entry).transpose()
    }

    /// Activations as they commit, made by any instance (see [`Database::listen`]).
    pub fn activations(&self) -> Listener {
        self.0.listen(Signal::Activation)
    }

    /// The active version's name, if one is: what an instance compares with
    /// the model it scores with, without reading the artifact.
    pub async fn active_version(&self) -> Result<Option<String>, MlError> {
        let row: Option<(String,)> =
            query("SELECT version FROM models WHERE active").fetch_optional(self.0.reader()).await?;
        Ok(row.map(|(version,)| version))
    }

    /// Makes `version` the active one (and no other) in one transaction, which
    /// tells the other instances as it commits; answers false when there is no
    /// such version.
    pub async fn activate(&self, version: &str, now: DateTime<Utc>) -> Result<bool, MlError> {
        let mut tx = self.0.begin().await?;
        // One activation at a time (SQLite's single writer already is): the
        // unique index would fail a concurrent one.
        if tx.is_postgres() {
            query("LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE").execute(&mut tx).await?;
        }
        let exists: Option<(i32,)> =
            query("SELECT 1 FROM models WHERE version = $1").bind(version).fetch_optional(&mut tx).await?;
        if exists.is_some() {
            query("UPDATE models SET active = false WHERE active AND version <> $1")
                .bind(version)
                .execute(&mut tx)
                .await?;
            query("UPDATE models SET active = true, activated_at = $2 WHERE version = $1")
                .bind(version)
                .bind(now)
                .execute(&mut tx)
                .await?;
            tx.signal(Signal::Activation).await?;
        }
        tx.commit().await?;
        let found = exists.is_some();
        Ok(found)
    }
}

fn entry((artifact, trained_at, active, activated_at): Row) -> Result<ModelEntry, MlError> {
    Ok(ModelEntry { artifact: ModelArtifact::from_json(&artifact)?, trained_at, active, activated_at })
}
