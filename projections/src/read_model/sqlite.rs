//! The read model in SQLite: by default the same file as the event store.

use std::{str::FromStr, time::Duration};

use domain::FeatureValue;
use sqlx::{
    Sqlite,
    query::Query,
    sqlite::{
        SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use super::{
    Changes, PlayerRow, RecommendationQuery, RowUpdate, Table, columns, player_row, recommendation, sql, to_i64,
    to_u64, update_set,
};
use crate::ProjectionError;
use domain::Recommendation;

/// Rows per upsert statement: 46 parameters each, well under SQLite's limit.
/// Smaller chunks of 16 and 1 finish a batch, so few statements are prepared.
const CHUNKS: [usize; 3] = [256, 16, 1];

/// The read model in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteReadModel {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteReadModel {
    shared_statements!(writer, readers, sqlx::Sqlite);

    /// The state column as hex text.
    const STATE_HEX: &str = "hex(state)";

    /// Opens (creating and migrating it if needed) the file at `url`.
    pub async fn connect(url: &str) -> Result<Self, ProjectionError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| ProjectionError::InvalidUrl(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The checkpoint makes rows recoverable by replay: NORMAL is enough.
            .synchronous(SqliteSynchronous::Normal)
            // A multi-row upsert keeps a statement journal: in memory, not a temp file.
            .pragma("temp_store", "memory")
            // Batches touch rows all over the table: keep 64 MiB of its pages cached.
            .pragma("cache_size", "-65536")
            // Fold rows hit again and again are copied back once per checkpoint:
            // checkpoint every 40 MiB of WAL rather than 4 MiB.
            .pragma("wal_autocheckpoint", "10000")
            .busy_timeout(Duration::from_secs(30));
        if let Some(folder) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .map_err(|e| ProjectionError::InvalidUrl(format!("cannot create folder {}: {e}", folder.display())))?;
        }
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        store::sqlite::MIGRATOR.run(&writer).await?;
        let readers = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(Self { writer, readers })
    }

    pub(super) fn pools(&self) -> store::Pools {
        store::Pools::Sqlite { writer: self.writer.clone(), readers: self.readers.clone() }
    }

    pub(super) async fn load(&self, table: Table, players: &[String]) -> Result<Vec<PlayerRow>, ProjectionError> {
        let mut rows = Vec::with_capacity(players.len());
        for chunk in players.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT player_id, revision, position, state FROM {} WHERE player_id IN ({marks})",
                table.name()
            );
            let mut query = sqlx::query_as(&sql);
            for player in chunk {
                query = query.bind(player);
            }
            for row in query.fetch_all(&self.readers).await? {
                rows.push(player_row(row)?);
            }
        }
        Ok(rows)
    }

    pub(super) async fn commit(&self, table: Table, changes: &Changes, checkpoint: u64) -> Result<(), ProjectionError> {
        let rows = changes.rows.as_slice();
        let mut tx = self.writer.begin().await?;
        let mut rest = rows;
        for size in CHUNKS {
            while rest.len() >= size {
                let (chunk, tail) = rest.split_at(size);
                let sql = upsert(table, size);
                let mut query = sqlx::query(&sql);
                for row in chunk {
                    query = bind(query, row);
                }
                query.execute(&mut *tx).await?;
                rest = tail;
            }
        }
        if table == Table::Live {
            Self::write_decisions(&mut tx, changes).await?;
        }
        sqlx::query(&sql::save_checkpoint(table)).bind(to_i64(checkpoint)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// `INSERT ... ON CONFLICT DO UPDATE` of `rows` rows.
fn upsert(table: Table, rows: usize) -> String {
    let columns = columns();
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT (player_id) DO UPDATE SET {}",
        table.name(),
        columns.join(", "),
        vec![row; rows].join(", "),
        update_set()
    )
}

/// Binds one row's values in the order of [`columns`].
fn bind<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments<'q>>,
    row: &'q RowUpdate,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    query = query.bind(&row.player_id).bind(to_i64(row.revision)).bind(to_i64(row.position));
    for value in row.features.values() {
        query = match value {
            FeatureValue::Int(v) => query.bind(v),
            FeatureValue::OptInt(v) => query.bind(v),
            FeatureValue::Float(v) => query.bind(v),
            FeatureValue::OptFloat(v) => query.bind(v),
            FeatureValue::Bool(v) => query.bind(v),
            FeatureValue::Time(v) => query.bind(v),
            FeatureValue::Text(v) => query.bind(v.map(str::to_owned)),
        };
    }
    query.bind(&row.state)
}
