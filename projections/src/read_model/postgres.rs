//! PostgreSQL specifics of the read model: a batch's transaction settings, and the
//! feature rows with every column bound as one array.

use std::{sync::LazyLock, time::Duration};

use chrono::{DateTime, Utc};
use domain::FeatureValue;
use sqlx::{PgConnection, PgPool, Postgres, postgres::PgArguments, query::Query};

use super::{
    Table,
    rows::{RowUpdate, StoredRow, columns, kinds, to_i64, update_set},
};
use crate::ProjectionError;

/// A batch's transaction settings, sent with its `BEGIN`.
///
/// A server ends it when it idles longer than the lease `ttl` (never below a
/// second: a commit that runs does not idle that long), so that the row locks
/// of a process stopped inside it keep nobody from taking its partitions over.
///
/// Its commit does not wait for the WAL to reach the disk (`synchronous_commit
/// = off`): read models are rebuilt from the store by replay, like SQLite's
/// (`synchronous = NORMAL`). A crash of the server may lose the last batches,
/// each whole with its checkpoint, and the projection folds them again to the
/// same rows; WAL is one sequence, so any later synchronous commit (a webhook
/// delivery, a lease taken over) makes them durable first. Waiting for each
/// batch's flush queued it behind the appends' group commits and them behind it.
pub(super) fn batch_settings(ttl: Duration) -> [(&'static str, String); 2] {
    [
        ("idle_in_transaction_session_timeout", ttl.as_millis().max(1_000).to_string()),
        ("synchronous_commit", "off".to_owned()),
    ]
}

/// The stored rows of these players.
///
/// Planned for each call, not prepared once: a connection's cached plan is
/// chosen on its first few calls, and one chosen while the table was still
/// small scans the whole table for as long as the connection lives (about a
/// millisecond a call at 10,000 rows, half of what PostgreSQL spent on a
/// projection's batch), where the primary key finds the few players asked for.
pub(super) async fn load(pool: &PgPool, table: Table, players: &[String]) -> Result<Vec<StoredRow>, ProjectionError> {
    let sql = format!("SELECT player_id, revision, position, state FROM {} WHERE player_id = ANY($1)", table.name());
    Ok(sqlx::query_as(&sql).bind(players).persistent(false).fetch_all(pool).await?)
}

/// Each table's upsert, made once.
static UPSERTS: LazyLock<[String; Table::ALL.len()]> = LazyLock::new(|| Table::ALL.map(upsert_sql));

/// Writes every row in one statement.
pub(super) async fn upsert(tx: &mut PgConnection, table: Table, rows: &[RowUpdate]) -> Result<(), ProjectionError> {
    let sql = &UPSERTS[table.index()];
    bind_columns(sqlx::query(sql), rows).execute(tx).await?;
    Ok(())
}

/// The PostgreSQL array type of a column holding `kind`.
fn array_type(kind: &FeatureValue<'_>) -> &'static str {
    match kind {
        FeatureValue::Int(_) | FeatureValue::OptInt(_) => "int8[]",
        FeatureValue::Float(_) | FeatureValue::OptFloat(_) => "float8[]",
        FeatureValue::Bool(_) => "bool[]",
        FeatureValue::Time(_) => "timestamptz[]",
        FeatureValue::Text(_) => "text[]",
    }
}

/// One upsert of any number of rows: every column bound as an array and unnested,
/// so a batch is one statement with a fixed text (prepared once).
fn upsert_sql(table: Table) -> String {
    let mut types = vec!["text[]", "int8[]", "int8[]"];
    types.extend(kinds().iter().map(array_type));
    types.push("bytea[]");
    let arrays = types.iter().enumerate().map(|(i, t)| format!("${}::{t}", i + 1)).collect::<Vec<_>>().join(", ");
    format!(
        "INSERT INTO {} ({}) SELECT * FROM UNNEST({arrays}) ON CONFLICT (player_id) DO UPDATE SET {}",
        table.name(),
        columns().join(", "),
        update_set()
    )
}

/// A column of values, gathered across rows.
enum Column {
    Int(Vec<i64>),
    OptInt(Vec<Option<i64>>),
    Float(Vec<f64>),
    OptFloat(Vec<Option<f64>>),
    Bool(Vec<bool>),
    Time(Vec<Option<DateTime<Utc>>>),
    Text(Vec<Option<String>>),
}

impl Column {
    fn for_kind(kind: &FeatureValue<'_>, rows: usize) -> Self {
        match kind {
            FeatureValue::Int(_) => Self::Int(Vec::with_capacity(rows)),
            FeatureValue::OptInt(_) => Self::OptInt(Vec::with_capacity(rows)),
            FeatureValue::Float(_) => Self::Float(Vec::with_capacity(rows)),
            FeatureValue::OptFloat(_) => Self::OptFloat(Vec::with_capacity(rows)),
            FeatureValue::Bool(_) => Self::Bool(Vec::with_capacity(rows)),
            FeatureValue::Time(_) => Self::Time(Vec::with_capacity(rows)),
            FeatureValue::Text(_) => Self::Text(Vec::with_capacity(rows)),
        }
    }

    fn push(&mut self, value: FeatureValue<'_>) {
        match (self, value) {
            (Self::Int(c), FeatureValue::Int(v)) => c.push(v),
            (Self::OptInt(c), FeatureValue::OptInt(v)) => c.push(v),
            (Self::Float(c), FeatureValue::Float(v)) => c.push(v),
            (Self::OptFloat(c), FeatureValue::OptFloat(v)) => c.push(v),
            (Self::Bool(c), FeatureValue::Bool(v)) => c.push(v),
            (Self::Time(c), FeatureValue::Time(v)) => c.push(v),
            (Self::Text(c), FeatureValue::Text(v)) => c.push(v.map(str::to_owned)),
            // Every row's values come in the same order with the same variants.
            _ => unreachable!("feature values out of order"),
        }
    }

    fn bind<'q>(self, query: Query<'q, Postgres, PgArguments>) -> Query<'q, Postgres, PgArguments> {
        match self {
            Self::Int(c) => query.bind(c),
            Self::OptInt(c) => query.bind(c),
            Self::Float(c) => query.bind(c),
            Self::OptFloat(c) => query.bind(c),
            Self::Bool(c) => query.bind(c),
            Self::Time(c) => query.bind(c),
            Self::Text(c) => query.bind(c),
        }
    }
}

/// Binds every column of `rows` as one array each, in the order of [`columns`].
fn bind_columns<'q>(query: Query<'q, Postgres, PgArguments>, rows: &[RowUpdate]) -> Query<'q, Postgres, PgArguments> {
    let mut features: Vec<Column> = kinds().iter().map(|k| Column::for_kind(k, rows.len())).collect();
    for row in rows {
        for (column, value) in features.iter_mut().zip(row.features.values()) {
            column.push(value);
        }
    }
    let mut query = query
        .bind(rows.iter().map(|r| r.player_id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| to_i64(r.revision)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| to_i64(r.position)).collect::<Vec<_>>());
    for column in features {
        query = column.bind(query);
    }
    query.bind(rows.iter().map(|r| r.state.clone()).collect::<Vec<_>>())
}
