//! Statements written once with `$n` placeholders, run on SQLite or PostgreSQL.
//!
//! sqlx's query types differ per database; a [`Statement`] keeps its arguments
//! as [`Value`]s until it knows where it runs, so that an owner of tables
//! writes each statement, and binds its arguments, in one place.

use chrono::{DateTime, Utc};
use sqlx::{
    Arguments, Database as SqlxDatabase, Encode, Executor, FromRow, IntoArguments, PgConnection, PgPool,
    SqliteConnection, SqlitePool, Type, postgres::PgRow, sqlite::SqliteRow,
};

use crate::{Pool, Tx};

/// An argument of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'q> {
    /// A 64-bit integer, or NULL.
    Int(Option<i64>),
    /// A 32-bit integer, or NULL (PostgreSQL `INTEGER` columns).
    Int32(Option<i32>),
    /// A float, or NULL.
    Float(Option<f64>),
    /// A boolean, or NULL.
    Bool(Option<bool>),
    /// Text, or NULL.
    Text(Option<&'q str>),
    /// Owned text, or NULL.
    String(Option<String>),
    /// Bytes, or NULL.
    Bytes(Option<&'q [u8]>),
    /// A time, or NULL.
    Time(Option<DateTime<Utc>>),
}

macro_rules! values {
    ($($variant:ident: $t:ty => $($from:ty),+;)+) => {$($(
        impl<'q> From<$from> for Value<'q> {
            fn from(value: $from) -> Self {
                Value::$variant(Option::<$t>::from(value))
            }
        }
    )+)+};
}

values! {
    Int: i64 => i64, Option<i64>;
    Int32: i32 => i32, Option<i32>;
    Float: f64 => f64, Option<f64>;
    Bool: bool => bool, Option<bool>;
    Text: &'q str => &'q str, Option<&'q str>;
    String: String => String, Option<String>;
    Bytes: &'q [u8] => &'q [u8], Option<&'q [u8]>;
    Time: DateTime<Utc> => DateTime<Utc>, Option<DateTime<Utc>>;
}

impl<'q> From<&'q String> for Value<'q> {
    fn from(value: &'q String) -> Self {
        Value::Text(Some(value))
    }
}

impl<'q> From<&'q Option<String>> for Value<'q> {
    fn from(value: &'q Option<String>) -> Self {
        Value::Text(value.as_deref())
    }
}

impl<'q> From<&'q Vec<u8>> for Value<'q> {
    fn from(value: &'q Vec<u8>) -> Self {
        Value::Bytes(Some(value))
    }
}

/// A row type both databases decode: tuples and `sqlx::FromRow` structs of
/// the types [`Value`] binds.
pub trait Record: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> Record for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// A statement and its arguments, in `$1`, `$2`, ... order.
#[derive(Debug, Clone)]
#[must_use = "a statement does nothing until it is run"]
pub struct Statement<'q> {
    sql: &'q str,
    values: Vec<Value<'q>>,
}

/// A statement in SQL both databases run alike.
pub fn query(sql: &str) -> Statement<'_> {
    Statement { sql, values: Vec::new() }
}

/// A `VALUES` list of `rows` rows of `columns` parameters each, marked for
/// the database it runs on: `$1`, `$2`, ... on PostgreSQL, `?` on SQLite,
/// which looks a `$n` up in a list, so thousands of them cost quadratic time.
pub fn values(postgres: bool, rows: usize, columns: usize) -> String {
    let mark = |n: usize| if postgres { format!("${n}") } else { "?".to_owned() };
    let rows: Vec<String> = (0..rows)
        .map(|r| format!("({})", (1..=columns).map(|c| mark(r * columns + c)).collect::<Vec<_>>().join(", ")))
        .collect();
    format!("VALUES {}", rows.join(", "))
}

/// Where a statement runs: a pool, or an open transaction.
#[derive(Debug)]
pub enum On<'a> {
    /// A SQLite pool.
    SqlitePool(&'a SqlitePool),
    /// A SQLite transaction.
    SqliteTx(&'a mut SqliteConnection),
    /// The PostgreSQL pool.
    PostgresPool(&'a PgPool),
    /// A PostgreSQL transaction.
    PostgresTx(&'a mut PgConnection),
}

impl<'a> From<Pool<'a>> for On<'a> {
    fn from(pool: Pool<'a>) -> Self {
        match pool {
            Pool::Sqlite(pool) => On::SqlitePool(pool),
            Pool::Postgres(pool) => On::PostgresPool(pool),
        }
    }
}

impl<'a> From<&'a mut Tx> for On<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        match tx {
            Tx::Sqlite(tx) => On::SqliteTx(tx),
            Tx::Postgres(tx) => On::PostgresTx(tx),
        }
    }
}

impl<'q> Statement<'q> {
    /// Binds the next argument.
    pub fn bind(mut self, value: impl Into<Value<'q>>) -> Self {
        self.values.push(value.into());
        self
    }

    /// Runs it; answers the rows it changed.
    pub async fn execute<'a>(self, on: impl Into<On<'a>>) -> Result<u64, sqlx::Error> {
        Ok(match on.into() {
            On::SqlitePool(pool) => execute::<sqlx::Sqlite, _>(pool, self).await?.rows_affected(),
            On::SqliteTx(tx) => execute::<sqlx::Sqlite, _>(tx, self).await?.rows_affected(),
            On::PostgresPool(pool) => execute::<sqlx::Postgres, _>(pool, self).await?.rows_affected(),
            On::PostgresTx(tx) => execute::<sqlx::Postgres, _>(tx, self).await?.rows_affected(),
        })
    }

    /// Runs it; answers every row.
    pub async fn fetch_all<'a, T: Record>(self, on: impl Into<On<'a>>) -> Result<Vec<T>, sqlx::Error> {
        self.fetch(on, Rows::All).await
    }

    /// Runs it; answers the first row, if any.
    pub async fn fetch_optional<'a, T: Record>(self, on: impl Into<On<'a>>) -> Result<Option<T>, sqlx::Error> {
        Ok(self.fetch(on, Rows::First).await?.pop())
    }

    async fn fetch<'a, T: Record>(self, on: impl Into<On<'a>>, rows: Rows) -> Result<Vec<T>, sqlx::Error> {
        match on.into() {
            On::SqlitePool(pool) => fetch::<sqlx::Sqlite, _, T>(pool, self, rows).await,
            On::SqliteTx(tx) => fetch::<sqlx::Sqlite, _, T>(tx, self, rows).await,
            On::PostgresPool(pool) => fetch::<sqlx::Postgres, _, T>(pool, self, rows).await,
            On::PostgresTx(tx) => fetch::<sqlx::Postgres, _, T>(tx, self, rows).await,
        }
    }

    /// Runs it; answers the first row, or `RowNotFound`.
    pub async fn fetch_one<'a, T: Record>(self, on: impl Into<On<'a>>) -> Result<T, sqlx::Error> {
        self.fetch_optional(on).await?.ok_or(sqlx::Error::RowNotFound)
    }
}

/// The arguments of a statement, encoded for database `DB`.
fn arguments<'q, DB: SqlxDatabase>(values: Vec<Value<'q>>) -> Result<DB::Arguments<'q>, sqlx::Error>
where
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<i32>: Encode<'q, DB> + Type<DB>,
    Option<f64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    let mut arguments = DB::Arguments::<'q>::default();
    for value in values {
        match value {
            Value::Int(v) => arguments.add(v),
            Value::Int32(v) => arguments.add(v),
            Value::Float(v) => arguments.add(v),
            Value::Bool(v) => arguments.add(v),
            Value::Text(v) => arguments.add(v),
            Value::String(v) => arguments.add(v),
            Value::Bytes(v) => arguments.add(v),
            Value::Time(v) => arguments.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

/// The bounds a database meets for [`arguments`] and the runs below.
trait Runs: SqlxDatabase {
    fn arguments(values: Vec<Value<'_>>) -> Result<Self::Arguments<'_>, sqlx::Error>;
}

impl Runs for sqlx::Sqlite {
    fn arguments(values: Vec<Value<'_>>) -> Result<Self::Arguments<'_>, sqlx::Error> {
        arguments::<Self>(values)
    }
}

impl Runs for sqlx::Postgres {
    fn arguments(values: Vec<Value<'_>>) -> Result<Self::Arguments<'_>, sqlx::Error> {
        arguments::<Self>(values)
    }
}

/// How many rows a fetch reads.
#[derive(Debug, Clone, Copy)]
enum Rows {
    All,
    First,
}

async fn execute<'e, 'q: 'e, DB, E>(executor: E, statement: Statement<'q>) -> Result<DB::QueryResult, sqlx::Error>
where
    DB: Runs,
    E: Executor<'e, Database = DB>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let arguments = DB::arguments(statement.values)?;
    sqlx::query_with(statement.sql, arguments).execute(executor).await
}

async fn fetch<'e, 'q: 'e, DB, E, T>(executor: E, statement: Statement<'q>, rows: Rows) -> Result<Vec<T>, sqlx::Error>
where
    DB: Runs,
    E: Executor<'e, Database = DB>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    T: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    let arguments = DB::arguments(statement.values)?;
    let query = sqlx::query_as_with(statement.sql, arguments);
    match rows {
        Rows::All => query.fetch_all(executor).await,
        Rows::First => Ok(query.fetch_optional(executor).await?.into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::values;

    #[test]
    fn values_number_postgres_marks_across_rows_and_leave_sqlite_its_question_marks() {
        assert_eq!(values(true, 2, 3), "VALUES ($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values(false, 2, 2), "VALUES (?, ?), (?, ?)");
        assert_eq!(values(true, 1, 1), "VALUES ($1)");
    }
}
