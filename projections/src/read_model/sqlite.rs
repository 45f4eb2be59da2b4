//! The feature rows in SQLite: multi-row statements of `?` parameters.

use std::sync::LazyLock;

use database::{Pool, query};
use domain::FeatureValue;
use sqlx::{Sqlite, SqliteConnection, SqlitePool, query::Query, sqlite::SqliteArguments};

use super::{
    Table,
    rows::{RowUpdate, StoredRow, columns, to_i64, update_set},
};
use crate::ProjectionError;

/// Rows per upsert statement: 50 parameters each, well under SQLite's limit.
/// Halving sizes finish a batch: a batch of up to 511 rows takes at most one
/// statement of each size, and every statement is a round trip to the
/// connection's thread (a batch of 15 rows took 15 with sizes 256, 16 and 1).
const CHUNKS: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// Each table's upserts, one per size of [`CHUNKS`]: made
/// once, since the longest is tens of kilobytes of SQL.
static UPSERTS: LazyLock<[[String; CHUNKS.len()]; Table::ALL.len()]> =
    LazyLock::new(|| Table::ALL.map(|table| CHUNKS.map(|rows| upsert_sql(table, rows))));

/// Players per `IN (...)` of a load.
const LOAD_CHUNK: usize = 500;

/// The stored rows of these players.
pub(super) async fn load(
    pool: &SqlitePool,
    table: Table,
    players: &[String],
) -> Result<Vec<StoredRow>, ProjectionError> {
    let mut rows = Vec::with_capacity(players.len());
    for chunk in players.chunks(LOAD_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql =
            format!("SELECT player_id, revision, position, state FROM {} WHERE player_id IN ({marks})", table.name());
        let mut statement = query(&sql);
        for player in chunk {
            statement = statement.bind(player);
        }
        rows.extend(statement.fetch_all::<StoredRow>(Pool::Sqlite(pool)).await?);
    }
    Ok(rows)
}

/// Writes rows in chunks of a few sizes.
pub(super) async fn upsert(tx: &mut SqliteConnection, table: Table, rows: &[RowUpdate]) -> Result<(), ProjectionError> {
    let statements = &UPSERTS[table.index()];
    let mut rest = rows;
    for (size, sql) in CHUNKS.into_iter().zip(statements) {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            let mut query = sqlx::query(sql);
            for row in chunk {
                query = bind(query, row);
            }
            query.execute(&mut *tx).await?;
            rest = tail;
        }
    }
    Ok(())
}

/// `INSERT ... ON CONFLICT DO UPDATE` of `rows` rows.
fn upsert_sql(table: Table, rows: usize) -> String {
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
