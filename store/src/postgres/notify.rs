//! Commits told across processes: the listener that hears other processes'
//! commits, and whether any other process listens for this one's.
//!
//! A `NOTIFY` costs every commit that sends one: PostgreSQL takes a
//! database-wide lock to queue it at commit, and wakes every listening backend
//! of the database. One process alone on a store has no one to tell (its own
//! subscriptions hear its writer in memory), so its writer notifies only while
//! another process follows. Each listener holds a shared advisory lock, keyed
//! by the store's head table, for as long as its session lives; the writer
//! counts the others' locks every second. A process that starts following is
//! notified from the next count on, and until then its subscriptions poll,
//! as they do for a lost notification.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    time::Duration,
};

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;

use super::handoff::Committing;
use crate::sql::advance;

/// The channel appenders notify on commit, so that subscribers in every other
/// process sharing the database wake at once.
pub(super) const CHANNEL: &str = "nudge_events";

/// The high half of the listeners' advisory lock key (`nudg`); the low half is
/// the oid of the store's head table, so stores in other schemas or databases
/// count apart.
const LOCK_CLASS: i64 = 0x6E75_6467;

/// How often the writer counts the other processes that follow.
const COUNT_EVERY: Duration = Duration::from_secs(1);

/// How long the listener waits before it tries again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Whether processes other than this one follow the store's commits.
#[derive(Debug, Default)]
pub(super) struct Followers {
    /// Whether the last count found any.
    others: AtomicBool,
    /// The backend of this process's listener, whose lock is its own.
    listener: AtomicI32,
}

impl Followers {
    /// Whether the writer's commits should notify.
    pub(super) fn any(&self) -> bool {
        self.others.load(Ordering::Relaxed)
    }

    /// Counts the other processes following, on a connection of `pool`.
    pub(super) async fn count(&self, pool: &PgPool) -> Result<i64, sqlx::Error> {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid = $1::oid AND objid = 'event_store_head'::regclass AND pid <> $2",
        )
        .bind(LOCK_CLASS)
        .bind(self.listener.load(Ordering::Relaxed))
        .fetch_one(pool)
        .await?;
        self.others.store(others > 0, Ordering::Relaxed);
        metrics::gauge!("nudge_store_followers").set(others as f64);
        Ok(others)
    }

    /// Marks the listener's session (after each connect) as following.
    async fn follow(&self, listener: &mut PgListener) -> Result<(), sqlx::Error> {
        let backend: i32 = sqlx::query_scalar(
            "SELECT pg_backend_pid() FROM \
             (SELECT pg_advisory_lock_shared(($1 << 32) | 'event_store_head'::regclass::oid::bigint)) AS locked",
        )
        .bind(LOCK_CLASS)
        .fetch_one(listener)
        .await?;
        self.listener.store(backend, Ordering::Relaxed);
        Ok(())
    }

    /// Counts every [`COUNT_EVERY`] from one after the store's first count,
    /// for as long as the store lives; a count that fails leaves the writer
    /// notifying, as is always safe.
    async fn keep_counting(&self, pool: &PgPool) {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + COUNT_EVERY, COUNT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(error) = self.count(pool).await {
                self.others.store(true, Ordering::Relaxed);
                tracing::warn!(%error, "could not count the processes following the event store");
            }
        }
    }
}

/// This process's listener, connected, listening and marked as following.
pub(super) struct Listener {
    listener: PgListener,
    followers: Arc<Followers>,
}

impl Listener {
    /// Listens on a connection of `listens`, a pool of its own: the session
    /// (and so the lock marking it) lasts as long as that connection.
    pub(super) async fn start(listens: &PgPool, followers: Arc<Followers>) -> Result<Self, sqlx::Error> {
        let mut listener = PgListener::connect_with(listens).await?;
        listener.listen(CHANNEL).await?;
        followers.follow(&mut listener).await?;
        Ok(Self { listener, followers })
    }

    /// Moves `head` when another process appends, and keeps counting the
    /// other followers on `pool`; forever.
    pub(super) async fn run(self, pool: PgPool, head: Arc<watch::Sender<u64>>, committing: Arc<Committing>) {
        let Self { listener, followers } = self;
        tokio::join!(listen(listener, &followers, &head, &committing), followers.keep_counting(&pool));
    }
}

/// Hears notifications; a listener that lost its connection reconnects (and
/// listens again) on its own, and its new session is marked again.
async fn listen(mut listener: PgListener, followers: &Followers, head: &watch::Sender<u64>, committing: &Committing) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => heard(notification.payload(), head, committing),
            Ok(None) => mark_again(&mut listener, followers).await,
            Err(error) => {
                tracing::warn!(%error, "event notifications lost, reconnecting");
                tokio::time::sleep(RETRY).await;
                mark_again(&mut listener, followers).await;
            }
        }
    }
}

/// Marks the listener's (new) session as following, until that succeeds.
async fn mark_again(listener: &mut PgListener, followers: &Followers) {
    while let Err(error) = followers.follow(listener).await {
        tracing::warn!(%error, "could not mark this process as following the event store");
        tokio::time::sleep(RETRY).await;
    }
}

/// Moves the head to a notified position, unless this process's writer
/// commits up to it and so announces it itself.
fn heard(payload: &str, head: &watch::Sender<u64>, committing: &Committing) {
    if let Ok(position) = payload.parse::<u64>()
        && !committing.covers(position)
    {
        head.send_if_modified(|h| advance(h, position));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_moves_the_head_unless_this_process_commits_up_to_it() {
        let (head, committing) = (watch::Sender::new(3), Committing::default());
        committing.to(10);
        heard("7", &head, &committing);
        heard("10", &head, &committing);
        assert_eq!(*head.borrow(), 3, "the writer announces its own commits once they are in memory");
        heard("12", &head, &committing);
        assert_eq!(*head.borrow(), 12, "another process's commit");
        heard("not a position", &head, &committing);
        heard("11", &head, &committing);
        assert_eq!(*head.borrow(), 12, "the head never goes back");
    }
}

#[cfg(all(test, feature = "testing"))]
mod followed {
    use sqlx::{Connection, PgConnection};

    use crate::{EventStore, ExpectedRevision, plan::tests::append, testing::PgSchema};

    use super::*;

    /// The first notification `listener` hears after `store` commits event
    /// `id` and a marker is sent: the commit's head if the store notified.
    async fn heard_after_append(
        store: &crate::postgres::PostgresStore,
        listener: &mut PgListener,
        marker: &mut PgConnection,
        id: &str,
    ) -> String {
        store.append(vec![append("player-1", ExpectedRevision::Any, &[id])]).await.unwrap_or_else(|e| panic!("{e}"));
        sqlx::query("SELECT pg_notify($1, 'marker')")
            .bind(CHANNEL)
            .execute(&mut *marker)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        listener.recv().await.unwrap_or_else(|e| panic!("{e}")).payload().to_owned()
    }

    #[tokio::test]
    async fn a_writer_notifies_only_while_another_process_follows() {
        let schema = PgSchema::new().await.unwrap_or_else(|e| panic!("{e}"));
        let options = schema.options().unwrap_or_else(|e| panic!("{e}"));
        let alone = schema.open().await.unwrap_or_else(|e| panic!("{e}"));
        // A plain listener (not a store) hears what is sent; notifications
        // arrive in commit order, so the marker comes first unless the
        // store notified before it.
        let mut listener = PgListener::connect_with(&sqlx::PgPool::connect_lazy_with(options.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        listener.listen(CHANNEL).await.unwrap_or_else(|e| panic!("{e}"));
        let mut marker = PgConnection::connect_with(&options).await.unwrap_or_else(|e| panic!("{e}"));
        let count = |store: &crate::postgres::PostgresStore| {
            let (followers, pool) = (Arc::clone(&store.followers), store.pool.clone());
            async move { followers.count(&pool).await.unwrap_or_else(|e| panic!("{e}")) }
        };

        assert_eq!(count(&alone).await, 0, "its own listener is not another process");
        assert_eq!(heard_after_append(&alone, &mut listener, &mut marker, "a").await, "marker");

        let other = schema.open().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count(&alone).await, 1, "a store follows from the moment it is open");
        assert_eq!(count(&other).await, 1);
        assert_eq!(heard_after_append(&alone, &mut listener, &mut marker, "b").await, "2");
        assert_eq!(listener.recv().await.unwrap_or_else(|e| panic!("{e}")).payload(), "marker");

        // Another schema's store is another store: it follows none of these.
        let elsewhere = PgSchema::new().await.unwrap_or_else(|e| panic!("{e}"));
        let _elsewhere = elsewhere.open().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count(&other).await, 1, "only the first store follows the second");
    }
}
