//! The one statement that writes a group: the rows, as one array per column,
//! and the head moved, in one transaction.

use std::{num::NonZeroU32, sync::Arc};

use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    handoff::Committing,
    notify::{CHANNEL, Followers},
    partitions,
};
use crate::{
    StoreError,
    plan::Row,
    sql::{to_i64, to_u64},
};

/// What an insert did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Inserted {
    /// The rows are in.
    Yes,
    /// Nothing was written: the head was no longer where the plan found it, or
    /// a stream planned as new has events. `head` and `found` (those streams'
    /// last revisions) are as the statement saw them before it wrote.
    No { head: u64, found: Vec<(String, u64)> },
}

/// Whom a writer's commits are told to besides its callers.
#[derive(Debug, Default)]
pub(super) struct Tell {
    /// This process's listener, which leaves the commit to the writer.
    pub(super) committing: Arc<Committing>,
    /// Other processes, by `NOTIFY` as the statement commits, while any follows.
    pub(super) followers: Arc<Followers>,
}

/// Inserts the rows and moves the head from `from` to `to`, in one statement and
/// so one transaction, having told `tell`; only if the head is still at `from`
/// and none of the streams planned as `new` has an event.
///
/// Checking `new` in the statement spares a read before it for streams this
/// process has not written since it started: a writer that planned them as new
/// and was wrong learns their revisions from the refusal.
pub(super) async fn insert(
    conn: &mut PgConnection,
    rows: &[Row<'_>],
    from: u64,
    to: u64,
    new: &[&str],
    partitions: NonZeroU32,
    tell: &Tell,
) -> Result<Inserted, StoreError> {
    let mut columns = Columns::with_capacity(rows.len());
    for row in rows {
        columns.push(row, partitions);
    }
    tell.committing.to(to);
    let answer: Vec<(i64, i64, Option<String>, Option<i64>)> = sqlx::query_as(
        "WITH found AS (\
             SELECT n.stream, (SELECT max(e.revision) FROM events e WHERE e.stream = n.stream) AS revision \
             FROM UNNEST($14::text[]) AS n(stream)), \
         moved AS (\
             UPDATE event_store_head SET position = $11 \
             WHERE position = $10 AND NOT EXISTS (SELECT 1 FROM found WHERE revision IS NOT NULL) \
             RETURNING CASE WHEN $15 THEN pg_notify($12, $11::text) END), \
         inserted AS (\
             INSERT INTO events (position, stream, revision, event_id, source, id, event_type, time, payload, \
             partition) \
             SELECT r.* FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], \
             $7::text[], $8::timestamptz[], $9::text[]::jsonb[], $13::int[]) AS r, moved \
             RETURNING 1) \
         SELECT (SELECT count(*) FROM inserted), (SELECT position FROM event_store_head), f.stream, f.revision \
         FROM (SELECT 1) AS one LEFT JOIN found f ON f.revision IS NOT NULL",
    )
    .bind(columns.positions)
    .bind(columns.streams)
    .bind(columns.revisions)
    .bind(columns.event_ids)
    .bind(columns.sources)
    .bind(columns.ids)
    .bind(columns.types)
    .bind(columns.times)
    .bind(columns.payloads)
    .bind(to_i64(from))
    .bind(to_i64(to))
    .bind(CHANNEL)
    .bind(columns.partitions)
    .bind(new)
    .bind(tell.followers.any())
    .fetch_all(conn)
    .await?;
    let (inserted, head) = answer.first().map_or((0, 0), |(inserted, head, _, _)| (*inserted, *head));
    if inserted > 0 {
        return Ok(Inserted::Yes);
    }
    let found = answer
        .into_iter()
        .filter_map(|(_, _, stream, revision)| Some((stream?, revision?)))
        .map(|(stream, revision)| Ok((stream, to_u64(revision)?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(Inserted::No { head: to_u64(head)?, found })
}

/// Rows turned into one array per column, for `UNNEST`.
struct Columns<'a> {
    positions: Vec<i64>,
    streams: Vec<&'a str>,
    revisions: Vec<i64>,
    event_ids: Vec<Uuid>,
    sources: Vec<&'a str>,
    ids: Vec<&'a str>,
    types: Vec<&'a str>,
    times: Vec<chrono::DateTime<chrono::Utc>>,
    payloads: Vec<&'a str>,
    partitions: Vec<Option<i32>>,
}

impl<'a> Columns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            positions: Vec::with_capacity(n),
            streams: Vec::with_capacity(n),
            revisions: Vec::with_capacity(n),
            event_ids: Vec::with_capacity(n),
            sources: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            times: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            partitions: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, row: &Row<'a>, partitions: NonZeroU32) {
        let e = row.event;
        self.partitions.push(partitions::of_stream(row.stream, partitions));
        self.positions.push(to_i64(row.position));
        self.streams.push(row.stream);
        self.revisions.push(to_i64(row.revision));
        self.event_ids.push(e.event_id);
        self.sources.push(&e.source);
        self.ids.push(&e.id);
        self.types.push(&e.event_type);
        self.times.push(e.time);
        self.payloads.push(&e.payload);
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::collections::HashMap;

    use sqlx::Connection;

    use super::{super::writer, *};
    use crate::{
        EventStore, ExpectedRevision,
        plan::{Stored, plan, tests::append},
        testing::PgSchema,
    };

    /// Inserts one event into `stream` at head 2, planned as its first.
    async fn as_new(conn: &mut PgConnection, stream: &str) -> Inserted {
        let calls = [vec![append(stream, ExpectedRevision::Any, &["c"])]];
        let stored = Stored { head: 2, existing: Vec::new(), heads: HashMap::from([(stream.to_owned(), None)]) };
        let planned = plan(&calls, &stored);
        insert(conn, &planned.rows, 2, planned.head, &[stream], NonZeroU32::MIN, &Tell::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn on_the_writers_connection_one_event_groups_reuse_one_generic_plan() {
        let schema = PgSchema::new().await.unwrap_or_else(|e| panic!("{e}"));
        let options = writer::options(schema.options().unwrap_or_else(|e| panic!("{e}")));
        drop(schema.open().await.unwrap_or_else(|e| panic!("{e}")));
        let mut conn = PgConnection::connect_with(&options).await.unwrap_or_else(|e| panic!("{e}"));
        // Past PostgreSQL's five custom plans, after which it may settle on a generic one.
        for head in 0..8 {
            let (stream, id) = (format!("player-{head}"), format!("event-{head}"));
            let calls = [vec![append(&stream, ExpectedRevision::Any, &[id.as_str()])]];
            let stored = Stored { head, existing: Vec::new(), heads: HashMap::from([(stream.clone(), None)]) };
            let planned = plan(&calls, &stored);
            let inserted =
                insert(&mut conn, &planned.rows, head, planned.head, &[&stream], NonZeroU32::MIN, &Tell::default())
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(inserted, Inserted::Yes);
        }
        let (generic, custom): (i64, i64) = sqlx::query_as(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH found AS%'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((generic, custom), (8, 0), "the insert is planned once, not at every group");
    }

    #[tokio::test]
    async fn a_stream_planned_as_new_that_has_events_is_refused_with_its_last_revision() {
        let schema = PgSchema::new().await.unwrap_or_else(|e| panic!("{e}"));
        let store = schema.open().await.unwrap_or_else(|e| panic!("{e}"));
        store
            .append(vec![append("player-1", ExpectedRevision::Any, &["a", "b"])])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut conn = PgConnection::connect_with(&schema.options().unwrap_or_else(|e| panic!("{e}")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = as_new(&mut conn, "player-1").await;
        assert_eq!(refused, Inserted::No { head: 2, found: vec![("player-1".to_owned(), 1)] });
        assert_eq!(as_new(&mut conn, "player-2").await, Inserted::Yes, "nothing was written by the refused one");
    }
}
