//! The player feature read model: one row per player in PostgreSQL or SQLite.

use domain::{FeatureValue, Features, PlayerFeatures};

use crate::ProjectionError;

pub use postgres::PostgresReadModel;
pub use sqlite::SqliteReadModel;

/// The table a projection writes: the live one, or the one a rebuild fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `player_features`, which the API serves.
    Live,
    /// `player_features_rebuild`, filled from position 0 until it replaces the live rows.
    Rebuild,
}

impl Table {
    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Live => "player_features",
            Self::Rebuild => "player_features_rebuild",
        }
    }

    /// The name its checkpoint is stored under.
    pub fn checkpoint(self) -> &'static str {
        match self {
            Self::Live => "features",
            Self::Rebuild => "features_rebuild",
        }
    }
}

/// One player's stored state: the fold and the last event folded in.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerRow {
    /// Whose row.
    pub player_id: String,
    /// Stream revision of the last event folded in.
    pub revision: u64,
    /// Global position of the last event folded in.
    pub position: u64,
    /// The fold state.
    pub state: PlayerFeatures,
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
    pub fn of(
        player_id: String,
        revision: u64,
        position: u64,
        state: &PlayerFeatures,
    ) -> Result<Self, ProjectionError> {
        let bytes = postcard::to_stdvec(state)
            .map_err(|source| ProjectionError::State { player_id: player_id.clone(), source })?;
        Ok(Self { player_id, revision, position, state: bytes, features: state.features() })
    }
}

/// Reads a stored row back: (player_id, revision, position, state).
fn player_row(
    (player_id, revision, position, state): (String, i64, i64, Vec<u8>),
) -> Result<PlayerRow, ProjectionError> {
    let state = postcard::from_bytes(&state)
        .map_err(|source| ProjectionError::State { player_id: player_id.clone(), source })?;
    Ok(PlayerRow { player_id, revision: to_u64("revision", revision)?, position: to_u64("position", position)?, state })
}

fn to_u64(what: &'static str, value: i64) -> Result<u64, ProjectionError> {
    u64::try_from(value).map_err(|_| ProjectionError::OutOfRange { what, value })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Every column an upsert writes, in order: keys, features, state.
fn columns() -> Vec<&'static str> {
    let mut columns = vec!["player_id", "revision", "position"];
    columns.extend(Features::NAMES);
    columns.push("state");
    columns
}

/// `SET column = excluded.column` for every column but the key.
fn update_set() -> String {
    columns().iter().skip(1).map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ")
}

/// What a feature column holds, for binding whole columns at once.
fn kinds() -> Vec<FeatureValue<'static>> {
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

/// The read model, in whichever database was chosen.
#[derive(Debug, Clone)]
pub enum ReadModel {
    /// In a SQLite file.
    Sqlite(SqliteReadModel),
    /// In a PostgreSQL database.
    Postgres(PostgresReadModel),
}

/// Forwards a call to whichever database holds the read model.
macro_rules! dispatch {
    ($self:ident, $model:ident => $call:expr) => {
        match $self {
            ReadModel::Sqlite($model) => $call,
            ReadModel::Postgres($model) => $call,
        }
    };
}

impl ReadModel {
    /// Opens (and migrates) the read model at `url`: `sqlite://...` or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, ProjectionError> {
        match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("sqlite") => Ok(Self::Sqlite(SqliteReadModel::connect(url).await?)),
            Some("postgres" | "postgresql") => Ok(Self::Postgres(PostgresReadModel::connect(url).await?)),
            _ => Err(ProjectionError::InvalidUrl(format!("{url}: the scheme must be sqlite:// or postgres://"))),
        }
    }

    /// The model registry in the same database.
    pub fn registry(&self) -> ml::Registry {
        match self {
            Self::Sqlite(model) => model.registry(),
            Self::Postgres(model) => model.registry(),
        }
    }

    /// The stored rows of these players (those that have one).
    pub async fn load(&self, table: Table, players: &[String]) -> Result<Vec<PlayerRow>, ProjectionError> {
        dispatch!(self, model => model.load(table, players).await)
    }

    /// One player's row in the live table.
    pub async fn get(&self, player_id: &str) -> Result<Option<PlayerRow>, ProjectionError> {
        Ok(self.load(Table::Live, &[player_id.to_owned()]).await?.pop())
    }

    /// The stored checkpoint of `table`'s projection, `None` before its first commit.
    pub async fn checkpoint(&self, table: Table) -> Result<Option<u64>, ProjectionError> {
        dispatch!(self, model => model.checkpoint(table).await)
    }

    /// Writes changed rows and the checkpoint in one transaction.
    pub async fn commit(&self, table: Table, rows: &[RowUpdate], checkpoint: u64) -> Result<(), ProjectionError> {
        dispatch!(self, model => model.commit(table, rows, checkpoint).await)
    }

    /// Empties the rebuild table and sets its checkpoint to the start.
    pub async fn start_rebuild(&self) -> Result<(), ProjectionError> {
        dispatch!(self, model => model.start_rebuild().await)
    }

    /// Replaces the live rows and checkpoint with the rebuilt ones, in one transaction.
    pub async fn promote_rebuild(&self) -> Result<(), ProjectionError> {
        dispatch!(self, model => model.promote_rebuild().await)
    }

    /// Every row of `table` with its feature columns as text, ordered by player:
    /// what comparing two read models row by row needs.
    pub async fn dump(&self, table: Table) -> Result<Vec<Vec<Option<String>>>, ProjectionError> {
        dispatch!(self, model => model.dump(table).await)
    }
}

/// The read-model methods whose SQL both databases run alike, written once and
/// expanded in each adapter's `impl` (sqlx's executor bounds do not survive being
/// made generic): `$writer` is the pool that writes, `$reader` the one that dumps.
macro_rules! shared_statements {
    ($writer:ident, $reader:ident) => {
        pub(super) async fn checkpoint(&self, table: Table) -> Result<Option<u64>, ProjectionError> {
            let position: Option<i64> =
                sqlx::query_scalar(&sql::checkpoint(table)).fetch_optional(&self.$writer).await?;
            position.map(|p| to_u64("checkpoint", p)).transpose()
        }

        pub(super) async fn start_rebuild(&self) -> Result<(), ProjectionError> {
            let mut tx = self.$writer.begin().await?;
            sqlx::query(&format!("DELETE FROM {}", Table::Rebuild.name())).execute(&mut *tx).await?;
            sqlx::query(&sql::save_checkpoint(Table::Rebuild)).bind(0i64).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        }

        pub(super) async fn promote_rebuild(&self) -> Result<(), ProjectionError> {
            let mut tx = self.$writer.begin().await?;
            for statement in sql::promote() {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        pub(super) async fn dump(&self, table: Table) -> Result<Vec<Vec<Option<String>>>, ProjectionError> {
            use sqlx::Row;
            let rows = sqlx::query(&sql::dump(table, Self::STATE_HEX)).fetch_all(&self.$reader).await?;
            rows.iter()
                .map(|row| (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i).map_err(Into::into)).collect())
                .collect()
        }
    };
}

mod postgres;
mod sqlite;

/// SQL both databases run the same way.
mod sql {
    use super::{Table, columns};

    /// Copies the rebuilt rows over the live ones and moves the checkpoint along.
    pub(super) fn promote() -> [String; 5] {
        let columns = columns().join(", ");
        [
            format!("DELETE FROM {}", Table::Live.name()),
            format!("INSERT INTO {} ({columns}) SELECT {columns} FROM {}", Table::Live.name(), Table::Rebuild.name()),
            format!(
                "INSERT INTO projection_checkpoints (name, position) \
                 SELECT '{}', position FROM projection_checkpoints WHERE name = '{}' \
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                Table::Live.checkpoint(),
                Table::Rebuild.checkpoint()
            ),
            format!("DELETE FROM {}", Table::Rebuild.name()),
            format!("DELETE FROM projection_checkpoints WHERE name = '{}'", Table::Rebuild.checkpoint()),
        ]
    }

    /// Every column of a table as text (the state as `state_hex`), ordered by player.
    pub(super) fn dump(table: Table, state_hex: &str) -> String {
        let columns = columns()
            .iter()
            .map(|c| if *c == "state" { state_hex.to_owned() } else { format!("CAST({c} AS TEXT)") })
            .collect::<Vec<_>>()
            .join(", ");
        format!("SELECT {columns} FROM {} ORDER BY player_id", table.name())
    }

    /// Sets the checkpoint of `table`'s projection to `$1`.
    pub(super) fn save_checkpoint(table: Table) -> String {
        format!(
            "INSERT INTO projection_checkpoints (name, position) VALUES ('{}', $1) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            table.checkpoint()
        )
    }

    /// Reads the checkpoint of `table`'s projection.
    pub(super) fn checkpoint(table: Table) -> String {
        format!("SELECT position FROM projection_checkpoints WHERE name = '{}'", table.checkpoint())
    }
}
