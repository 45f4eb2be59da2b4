//! Fresh, throw-away databases for tests: a SQLite file in a temporary folder, or
//! a PostgreSQL schema of its own, dropped when the test ends (even on panic).

use std::{path::PathBuf, str::FromStr};

use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use uuid::Uuid;

use crate::{NewEvent, StoreError, postgres::PostgresStore, sqlite::SqliteStore};

/// The PostgreSQL server tests use: `NUDGE_TEST_DATABASE_URL`, else the local one.
pub fn postgres_url() -> String {
    std::env::var("NUDGE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A session-start CloudEvent from `source` with `id`, its event id derived
/// from both, as a test appends it.
pub fn event(source: &str, id: &str) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("{source}#{id}").as_bytes()),
        source: source.to_owned(),
        id: id.to_owned(),
        event_type: "player.session.started".to_owned(),
        time: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        payload: serde_json::json!({"specversion": "1.0", "id": id, "source": source, "data": {"n": id}})
            .to_string()
            .into(),
        decoded: None,
    }
}

/// A SQLite database file in a temporary folder, removed on drop.
#[derive(Debug)]
pub struct TempSqlite {
    dir: tempfile::TempDir,
}

impl TempSqlite {
    /// Makes the folder.
    pub fn new() -> Result<Self, StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::InvalidUrl(format!("temporary folder: {e}")))?;
        Ok(Self { dir })
    }

    /// The store URL of the database file.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("nudge.db")
    }

    /// Opens a store on it.
    pub async fn open(&self) -> Result<SqliteStore, StoreError> {
        SqliteStore::connect(&self.url()).await
    }
}

/// A PostgreSQL schema of its own, dropped on drop.
#[derive(Debug)]
pub struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    /// Creates a new, empty schema on [`postgres_url`].
    pub async fn new() -> Result<Self, StoreError> {
        let url = postgres_url();
        let name = format!("test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&url).await?;
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await?;
        Ok(Self { url, name })
    }

    /// The store URL that puts everything in this schema.
    pub fn url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}&application_name={}", self.url, self.name, self.name)
    }

    /// Connection options that put everything in this schema.
    pub fn options(&self) -> Result<PgConnectOptions, StoreError> {
        Ok(PgConnectOptions::from_str(&self.url)?
            .options([("search_path", self.name.as_str())])
            .application_name(&self.name))
    }

    /// Opens a store in it (call again for a second process on the same data).
    pub async fn open(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(self.options()?, None).await
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop may run inside a runtime (or while unwinding from a panic), so the
        // schema is dropped from a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&url).await?;
                // Connections still open on the schema (a task of the test's own
                // runtime, blocked by this very drop, may hold one in a transaction)
                // would make the drop wait forever: end them first.
                sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
                    .bind(&name)
                    .execute(&mut conn)
                    .await?;
                // And never hang on a lock: fail loudly instead.
                sqlx::query("SET lock_timeout = '30s'").execute(&mut conn).await?;
                sqlx::query(&sql).execute(&mut conn).await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}
