//! The read-model database of nudge: one SQLite file or one PostgreSQL database
//! holding every table but the event store's (features, recommendations, the
//! webhook tables, models, API keys, erasures).
//!
//! This crate owns the schema (its migrations are one history, applied in
//! order) and the choice between SQLite and PostgreSQL; the crates that own the
//! tables write their SQL once, with `$n` placeholders, and run it through
//! [`query`] on a [`Pool`] or a [`Tx`]. Where the two databases need different
//! SQL, an owner matches on the [`Pool`] or [`Tx`] variant.

mod error;
mod signals;
mod statement;
mod tx;

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use error::DatabaseError;
pub use signals::{Listener, Signal};
pub use statement::{On, Record, Statement, Value, query, values};
pub use tx::Tx;

use store::sqlite::Checkpointer;

/// Connections that read a SQLite file at once; WAL lets them run beside the writer.
const SQLITE_READERS: u32 = 4;

/// Connections to PostgreSQL.
const POSTGRES_CONNECTIONS: u32 = 8;

/// Which database the read models live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

impl Backend {
    /// SQL for the database's clock, in milliseconds since 1970: what times
    /// that several instances compare (leases, heartbeats) are taken from, so
    /// that no instance's own clock decides.
    pub fn clock_ms(self) -> &'static str {
        match self {
            Self::Sqlite => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
            Self::Postgres => "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint)",
        }
    }
}

/// The read-model database: its pools, cheap to clone.
#[derive(Debug, Clone)]
pub struct Database(Pools, signals::Hubs);

#[derive(Debug, Clone)]
enum Pools {
    Sqlite { writer: SqlitePool, readers: SqlitePool, checkpointer: Checkpointer },
    Postgres(PgPool),
}

/// A pool to run a statement on: SQLite's writer or readers, or PostgreSQL's.
#[derive(Debug, Clone, Copy)]
pub enum Pool<'a> {
    /// A SQLite pool.
    Sqlite(&'a SqlitePool),
    /// The PostgreSQL pool.
    Postgres(&'a PgPool),
}

/// The connection options a read-model URL gives.
enum Options {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

/// Reads a read-model URL: `sqlite://path` naming a file, or `postgres://...`
/// naming a database.
fn options(url: &str) -> Result<Options, DatabaseError> {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite") => {
            let options =
                SqliteConnectOptions::from_str(url).map_err(|e| DatabaseError::InvalidUrl(format!("{url}: {e}")))?;
            store::sqlite::check_file(url, options.get_filename(), "sqlite://data/read-models.db")
                .map_err(DatabaseError::InvalidUrl)?;
            Ok(Options::Sqlite(options))
        }
        Some("postgres" | "postgresql") => store::postgres::connect_options(url)
            .map(Options::Postgres)
            .map_err(|e| DatabaseError::InvalidUrl(format!("{url}: {e}"))),
        _ => Err(DatabaseError::InvalidUrl(format!("`{url}`: the scheme must be sqlite:// or postgres://"))),
    }
}

impl Database {
    /// Opens and migrates the database at `url`: `sqlite://path` (the file and
    /// its folder are created) or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, DatabaseError> {
        match options(url)? {
            Options::Sqlite(options) => Self::connect_sqlite(options).await,
            Options::Postgres(options) => Self::connect_postgres(options).await,
        }
    }

    /// Refuses a URL [`Database::connect`] would refuse before connecting, so
    /// that a caller can tell before it makes anything else.
    pub fn check_url(url: &str) -> Result<(), DatabaseError> {
        options(url).map(drop)
    }

    /// Opens and migrates a SQLite file: one writer, a few read-only readers.
    pub async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Self, DatabaseError> {
        let options = options
            .create_if_missing(true)
            // A feature row is about 0.9 KiB and a batch rewrites rows all over the
            // table: 2 KiB pages halve what each writes to the WAL (new files only).
            .page_size(2048)
            .journal_mode(SqliteJournalMode::Wal)
            // Read models are recoverable by replay from their checkpoint: NORMAL is enough.
            .synchronous(SqliteSynchronous::Normal)
            // A multi-row upsert keeps a statement journal: in memory, not a temp file.
            .pragma("temp_store", "memory")
            // 8 MiB of pages cached, not more: a commit after a B-tree split that
            // reordered pages walks the whole page cache (SQLite parks a page at the
            // lock page's number while swapping), which at 64 MiB cost the webhook
            // dispatcher a fifth of the writer's time; the projection, whose batches
            // touch rows all over the feature table, ran as fast at 8 MiB as at 64.
            .pragma("cache_size", "-8192")
            .busy_timeout(Duration::from_secs(30));
        if let Some(folder) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .map_err(|e| DatabaseError::InvalidUrl(format!("cannot create folder {}: {e}", folder.display())))?;
        }
        if store::sqlite::cannot_write(options.get_filename()) {
            return Err(DatabaseError::ReadOnly(options.get_filename().to_path_buf()));
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // A COMMIT that failed (a full disk) leaves sqlx believing the
            // connection is still inside the transaction, where every later BEGIN
            // fails: such a connection is closed and a fresh one opened.
            .before_acquire(|conn, _| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }))
            .connect_with(Checkpointer::writer_options(options.clone()))
            .await?;
        schema(sqlx::migrate!("./migrations/sqlite")).run(&writer).await?;
        let checkpointer = Checkpointer::spawn(&options, "read_models").await?;
        let readers =
            SqlitePoolOptions::new().max_connections(SQLITE_READERS).connect_with(options.read_only(true)).await?;
        Ok(Self(Pools::Sqlite { writer, readers, checkpointer }, signals::Hubs::default()))
    }

    /// Connects to and migrates a PostgreSQL database (tests pass options that
    /// pick a schema of their own).
    pub async fn connect_postgres(options: PgConnectOptions) -> Result<Self, DatabaseError> {
        store::postgres::reach(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        schema(sqlx::migrate!("./migrations/postgres")).run(&pool).await?;
        Ok(Self(Pools::Postgres(pool), signals::Hubs::default()))
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.0 {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The pool that writes (SQLite's one writer), also for reads that must see
    /// the latest commit.
    pub fn writer(&self) -> Pool<'_> {
        match &self.0 {
            Pools::Sqlite { writer, .. } => Pool::Sqlite(writer),
            Pools::Postgres(pool) => Pool::Postgres(pool),
        }
    }

    /// The pool that reads (SQLite's read-only connections).
    pub fn reader(&self) -> Pool<'_> {
        match &self.0 {
            Pools::Sqlite { readers, .. } => Pool::Sqlite(readers),
            Pools::Postgres(pool) => Pool::Postgres(pool),
        }
    }

    /// Begins a transaction on the writer. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), waiting for it if another connection to the
    /// file (the event store's writer) holds it: a transaction that reads before
    /// it writes would otherwise fail with `database is locked` when another
    /// writer committed after its read.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match &self.0 {
            Pools::Sqlite { writer, checkpointer, .. } => {
                // Between two transactions: the checkpoint task cannot end the
                // WAL while batches keep coming (see `Checkpointer::finish`).
                if checkpointer.finish() {
                    let answer = sqlx::query_as(store::sqlite::PASSIVE).fetch_one(writer).await?;
                    checkpointer.finished(answer);
                }
                Tx::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            Pools::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// [`Database::begin`], with PostgreSQL settings for this transaction
    /// alone (`SET LOCAL`) sent in the same round trip as its `BEGIN`.
    /// SQLite has no such settings and begins as [`Database::begin`].
    pub async fn begin_with_settings(&self, settings: &[(&'static str, String)]) -> Result<Tx, sqlx::Error> {
        match &self.0 {
            Pools::Postgres(pool) => {
                let mut begin = String::from("BEGIN");
                for (name, value) in settings {
                    begin.push_str(&format!("; SET LOCAL {name} = '{}'", value.replace('\'', "''")));
                }
                Ok(Tx::Postgres(pool.begin_with(begin).await?))
            }
            Pools::Sqlite { .. } => self.begin().await,
        }
    }
}

/// The read-model schema's migrations. The event store keeps its own history
/// in the same bookkeeping table when both share a database, so migrations this
/// history does not know are left alone.
fn schema(mut migrator: Migrator) -> Migrator {
    migrator.set_ignore_missing(true);
    migrator
}
