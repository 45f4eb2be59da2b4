//! Feature rows: one per player, its fold state and its features in columns.

use database::{Pool, Tx};
use domain::{FeatureValue, Features, Recommendation};
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{ReadModel, Table, postgres, sqlite};
use crate::{
    ProjectionError,
    player::{Answer, PlayerState},
};

/// Bytes set aside for a serialized fold state: most fit (about 470 on
/// average over a simulated population), so few are copied while they grow.
const STATE_CAPACITY: usize = 1024;

/// One player's stored state: the fold and the last event folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerRow {
    /// Whose row.
    pub player_id: String,
    /// Stream revision of the last event folded in.
    pub revision: u64,
    /// Global position of the last event folded in.
    pub position: u64,
    /// The player's state.
    pub state: PlayerState,
}

/// A row ready to write: the state serialized and the features computed.
#[derive(Debug, Clone, PartialEq)]
pub struct RowUpdate {
    /// Whose row.
    pub player_id: String,
    /// Stream revision of the last event folded in.
    pub revision: u64,
    /// Global position of the last event folded in.
    pub position: u64,
    /// The fold state, serialized (postcard: compact and fast, read back only by nudge).
    pub state: Vec<u8>,
    /// The features it stands for.
    pub features: Features,
}

impl RowUpdate {
    /// Serializes a player's state and computes its features.
    pub fn of(player_id: String, revision: u64, position: u64, state: &PlayerState) -> Result<Self, ProjectionError> {
        // `to_io`: a `Vec`'s writes are one copy each; `to_extend` pushes byte by byte.
        let bytes = postcard::to_io(state, Vec::with_capacity(STATE_CAPACITY))
            .map_err(|source| ProjectionError::State { player_id: player_id.clone(), source })?;
        Ok(Self { player_id, revision, position, state: bytes, features: state.fold.features() })
    }
}

/// What a micro-batch changed: player rows, recommendations made, answers given.
#[derive(Debug, Default)]
pub struct Changes {
    /// Rows of the players whose events were folded in.
    pub rows: Vec<RowUpdate>,
    /// Recommendations made, in event order.
    pub recommendations: Vec<Recommendation>,
    /// Players' answers to recommendations, in event order.
    pub answers: Vec<Answer>,
}

impl Changes {
    /// Adds another partition's changes.
    pub fn extend(&mut self, other: Changes) {
        self.rows.extend(other.rows);
        self.recommendations.extend(other.recommendations);
        self.answers.extend(other.answers);
    }
}

/// Reads a stored row back: (player_id, revision, position, state).
fn player_row((player_id, revision, position, state): StoredRow) -> Result<PlayerRow, ProjectionError> {
    let state = postcard::from_bytes(&state)
        .map_err(|source| ProjectionError::State { player_id: player_id.clone(), source })?;
    Ok(PlayerRow { player_id, revision: to_u64("revision", revision)?, position: to_u64("position", position)?, state })
}

pub(super) fn to_u64(what: &'static str, value: i64) -> Result<u64, ProjectionError> {
    u64::try_from(value).map_err(|_| ProjectionError::OutOfRange { what, value })
}

pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Every column an upsert writes, in order: keys, features, state.
pub(super) fn columns() -> Vec<&'static str> {
    let mut columns = vec!["player_id", "revision", "position"];
    columns.extend(Features::NAMES);
    columns.push("state");
    columns
}

/// `SET column = excluded.column` for every column but the key.
pub(super) fn update_set() -> String {
    columns().iter().skip(1).map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ")
}

/// What a feature column holds, for binding whole columns at once.
pub(super) fn kinds() -> Vec<FeatureValue<'static>> {
    // The values of a default row have the variant of every feature.
    Features::default()
        .values()
        .into_iter()
        .map(|v| match v {
            FeatureValue::Int(v) => FeatureValue::Int(v),
            FeatureValue::OptInt(v) => FeatureValue::OptInt(v),
            FeatureValue::Float(v) => FeatureValue::Float(v),
            FeatureValue::OptFloat(v) => FeatureValue::OptFloat(v),
            FeatureValue::Bool(v) => FeatureValue::Bool(v),
            FeatureValue::Time(v) => FeatureValue::Time(v),
            FeatureValue::Text(_) => FeatureValue::Text(None),
        })
        .collect()
}

impl ReadModel {
    /// The stored rows of these players (those that have one).
    pub async fn load(&self, table: Table, players: &[String]) -> Result<Vec<PlayerRow>, ProjectionError> {
        let rows = match self.database.reader() {
            Pool::Sqlite(pool) => sqlite::load(pool, table, players).await?,
            Pool::Postgres(pool) => postgres::load(pool, table, players).await?,
        };
        rows.into_iter().map(player_row).collect()
    }

    /// One player's row in the live table.
    pub async fn get(&self, player_id: &str) -> Result<Option<PlayerRow>, ProjectionError> {
        Ok(self.load(Table::Live, &[player_id.to_owned()]).await?.pop())
    }

    /// Every row of `table` with its feature columns as text, ordered by player:
    /// what comparing two read models row by row needs.
    pub async fn dump(&self, table: Table) -> Result<Vec<Vec<Option<String>>>, ProjectionError> {
        let sql = |state_hex: &str| {
            let columns = columns()
                .iter()
                .map(|c| if *c == "state" { state_hex.to_owned() } else { format!("CAST({c} AS TEXT)") })
                .collect::<Vec<_>>()
                .join(", ");
            format!("SELECT {columns} FROM {} ORDER BY player_id", table.name())
        };
        match self.database.reader() {
            Pool::Sqlite(pool) => sqlx::query(&sql("hex(state)")).fetch_all(pool).await?.iter().map(texts).collect(),
            Pool::Postgres(pool) => {
                sqlx::query(&sql("encode(state, 'hex')")).fetch_all(pool).await?.iter().map(texts).collect()
            }
        }
    }
}

/// Writes the changed rows of a batch in its transaction.
pub(super) async fn upsert(tx: &mut Tx, table: Table, rows: &[RowUpdate]) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    match tx {
        Tx::Sqlite(tx) => sqlite::upsert(tx, table, rows).await,
        Tx::Postgres(tx) => postgres::upsert(tx, table, rows).await,
    }
}

/// A stored row as both databases read it: (player_id, revision, position, state).
pub(super) type StoredRow = (String, i64, i64, Vec<u8>);

/// Every column of a row as text.
fn texts<R: Row>(row: &R) -> Result<Vec<Option<String>>, ProjectionError>
where
    usize: ColumnIndex<R>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i).map_err(Into::into)).collect()
}
