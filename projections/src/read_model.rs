//! The player feature read model: one row per player in PostgreSQL or SQLite.

use domain::{FeatureValue, Features, InterventionKind, Recommendation, Status};

use crate::player::{Answer, PlayerState};

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
        let bytes = postcard::to_stdvec(state)
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

/// Reads a stored recommendation back, with its current status.
fn recommendation((status, body): (String, String)) -> Result<Recommendation, ProjectionError> {
    let mut recommendation: Recommendation = serde_json::from_str(&body).map_err(ProjectionError::Encode)?;
    recommendation.status = Status::parse(&status).unwrap_or(recommendation.status);
    Ok(recommendation)
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

    /// The database's pools, for the other tables it holds (webhooks, API keys).
    pub fn pools(&self) -> store::Pools {
        dispatch!(self, model => model.pools())
    }

    /// The model registry in the same database.
    pub fn registry(&self) -> ml::Registry {
        ml::Registry::new(self.pools())
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

    /// Writes a batch's changes and checkpoint in one transaction: the changed
    /// rows, and for the live table the recommendations and answers.
    pub async fn commit(&self, table: Table, changes: &Changes, checkpoint: u64) -> Result<(), ProjectionError> {
        dispatch!(self, model => model.commit(table, changes, checkpoint).await)
    }

    /// Stored recommendations, oldest first.
    pub async fn recommendations(
        &self,
        query: &RecommendationQuery<'_>,
    ) -> Result<Vec<Recommendation>, ProjectionError> {
        dispatch!(self, model => model.recommendations(query).await)
    }

    /// Empties the rebuild table and sets its checkpoint to the start.
    pub async fn start_rebuild(&self) -> Result<(), ProjectionError> {
        dispatch!(self, model => model.start_rebuild().await)
    }

    /// Replaces the live rows and checkpoint with the rebuilt ones, in one transaction.
    pub async fn promote_rebuild(&self) -> Result<(), ProjectionError> {
        dispatch!(self, model => model.promote_rebuild().await)
    }

    /// Deletes a player's rows (live and rebuilt), recommendations and the
    /// outbox rows of those not routed yet, in one transaction. The projection
    /// must not run meanwhile: see [`crate::FeatureProjection::erase`].
    pub async fn erase(&self, player_id: &str) -> Result<(), ProjectionError> {
        dispatch!(self, model => model.erase(player_id).await)
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
    ($writer:ident, $reader:ident, $db:ty) => {
        /// Writes a batch's recommendations, their outbox rows and the answers
        /// inside its transaction.
        async fn write_decisions(
            tx: &mut sqlx::Transaction<'_, $db>,
            changes: &Changes,
        ) -> Result<(), ProjectionError> {
            for recommendation in &changes.recommendations {
                let body = serde_json::to_string(recommendation).map_err(ProjectionError::Encode)?;
                let position = to_i64(recommendation.triggered_by.position);
                let stored = sqlx::query(sql::INSERT_RECOMMENDATION)
                    .bind(position)
                    .bind(recommendation.id.to_string())
                    .bind(&recommendation.player_id)
                    .bind(recommendation.kind.as_str())
                    .bind(recommendation.created_at)
                    .bind(body)
                    .bind(recommendation.triggered_by.traceparent.map(|t| t.to_string()))
                    .execute(&mut **tx)
                    .await?;
                if stored.rows_affected() == 1 {
                    sqlx::query(sql::INSERT_OUTBOX).bind(position).execute(&mut **tx).await?;
                }
            }
            for answer in &changes.answers {
                sqlx::query(sql::ANSWER_RECOMMENDATION)
                    .bind(answer.status.as_str())
                    .bind(answer.at)
                    .bind(answer.id.to_string())
                    .bind(&answer.player_id)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }

        pub(super) async fn recommendations(
            &self,
            query: &RecommendationQuery<'_>,
        ) -> Result<Vec<Recommendation>, ProjectionError> {
            let (sql, player, kind) = sql::recommendations(query);
            let mut statement = sqlx::query_as(&sql).bind(to_i64(query.after.unwrap_or(0)));
            if let Some(player) = player {
                statement = statement.bind(player);
            }
            if let Some(kind) = kind {
                statement = statement.bind(kind);
            }
            let rows: Vec<(String, String)> = statement.bind(query.limit as i64).fetch_all(&self.$reader).await?;
            rows.into_iter().map(recommendation).collect()
        }

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

        pub(super) async fn erase(&self, player_id: &str) -> Result<(), ProjectionError> {
            let mut tx = self.$writer.begin().await?;
            for statement in sql::erase() {
                sqlx::query(&statement).bind(player_id).execute(&mut *tx).await?;
            }
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
    use super::{RecommendationQuery, Table, columns};

    /// Stores a recommendation once (a replay of its batch finds it there).
    pub(super) const INSERT_RECOMMENDATION: &str = "INSERT INTO recommendations \
         (position, id, player_id, kind, created_at, body, traceparent) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT DO NOTHING";

    /// Queues a new recommendation for the webhook subscriptions.
    pub(super) const INSERT_OUTBOX: &str = "INSERT INTO webhook_outbox (position) VALUES ($1)";

    /// Records a player's answer to one of their own recommendations.
    pub(super) const ANSWER_RECOMMENDATION: &str =
        "UPDATE recommendations SET status = $1, answered_at = $2 WHERE id = $3 AND player_id = $4";

    /// Recommendations after a position, oldest first, maybe of one player or kind;
    /// answers the statement and which of those it binds (after `$1`, before the limit).
    pub(super) fn recommendations<'a>(
        query: &RecommendationQuery<'a>,
    ) -> (String, Option<&'a str>, Option<&'static str>) {
        let mut sql = "SELECT status, body FROM recommendations WHERE position > $1".to_owned();
        let mut n = 1;
        if query.player_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND player_id = ${n}"));
        }
        if query.kind.is_some() {
            n += 1;
            sql.push_str(&format!(" AND kind = ${n}"));
        }
        sql.push_str(&format!(" ORDER BY position LIMIT ${}", n + 1));
        (sql, query.player_id, query.kind.map(|k| k.as_str()))
    }

    /// Deletes everything of player `$1`: the outbox rows first, found through
    /// the recommendations they stand for.
    pub(super) fn erase() -> [String; 4] {
        [
            "DELETE FROM webhook_outbox WHERE position IN (SELECT position FROM recommendations WHERE player_id = $1)"
                .to_owned(),
            "DELETE FROM recommendations WHERE player_id = $1".to_owned(),
            format!("DELETE FROM {} WHERE player_id = $1", Table::Live.name()),
            format!("DELETE FROM {} WHERE player_id = $1", Table::Rebuild.name()),
        ]
    }

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
