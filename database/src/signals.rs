//! Signals between the instances sharing a PostgreSQL database, over
//! LISTEN/NOTIFY: a hint to look again now instead of at the next poll.
//!
//! A signal is never the only way news travels: whoever listens still polls,
//! so a signal lost (while a listener reconnects, or on SQLite, where one
//! process is the whole service) costs only the poll's delay.

use std::{convert::Infallible, sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use tokio::{sync::watch, task::JoinHandle};

use crate::{Database, Pool, Pools, Tx, query};

/// How long a listener whose connection failed waits before it connects again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Partition leases were released, or an instance joined or left.
    Leases,
    /// Another model version became the active one.
    Activation,
    /// An API key was made or revoked.
    Keys,
}

impl Signal {
    /// The start of its PostgreSQL channel's name. The name ends with the
    /// digest of the schema, as SQL [`CHANNEL`] makes it: channels are the
    /// database's, and instances on another schema of it share nothing.
    fn prefix(self) -> &'static str {
        match self {
            Self::Leases => "nudge_leases_",
            Self::Activation => "nudge_activation_",
            Self::Keys => "nudge_keys_",
        }
    }
}

/// SQL for the channel of the signal whose prefix is `$1`, in the schema of
/// the connection (names stay within PostgreSQL's 63 bytes).
const CHANNEL: &str = "$1 || md5(current_schema())";

/// The signals of one kind arriving from every instance, this one included.
#[derive(Debug)]
pub struct Listener {
    /// How many arrived, counting one for each time the listener connected.
    arrived: Arc<watch::Sender<u64>>,
    seen: watch::Receiver<u64>,
    task: Option<JoinHandle<()>>,
}

impl Listener {
    /// Waits until a signal arrives, or one came since the last wait. Never
    /// ends on SQLite.
    pub async fn next(&mut self) {
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = self.seen.changed().await;
    }

    /// How many signals arrived so far, counting one for each time the
    /// listener connected (what was sent meanwhile is lost).
    pub fn heard(&self) -> u64 {
        *self.arrived.borrow()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Database {
    /// Tells every instance listening for `signal` on this database, now
    /// (PostgreSQL; nothing on SQLite).
    pub async fn signal(&self, signal: Signal) -> Result<(), sqlx::Error> {
        if let Pools::Postgres(pool) = &self.0 {
            query(&format!("SELECT pg_notify({CHANNEL}, '')"))
                .bind(signal.prefix())
                .execute(Pool::Postgres(pool))
                .await?;
        }
        Ok(())
    }

    /// Listens for `signal` until the listener is dropped, connecting again
    /// whenever the connection fails (PostgreSQL; one that never hears
    /// anything on SQLite).
    pub fn listen(&self, signal: Signal) -> Listener {
        let arrived = Arc::new(watch::Sender::new(0));
        let task = match &self.0 {
            Pools::Sqlite { .. } => None,
            Pools::Postgres(pool) => Some(tokio::spawn(hear(pool.clone(), signal, Arc::clone(&arrived)))),
        };
        Listener { seen: arrived.subscribe(), arrived, task }
    }
}

impl Tx {
    /// Tells every instance listening for `signal` once this transaction
    /// commits, and never if it does not (PostgreSQL; nothing on SQLite).
    pub async fn signal(&mut self, signal: Signal) -> Result<(), sqlx::Error> {
        if self.is_postgres() {
            query(&format!("SELECT pg_notify({CHANNEL}, '')")).bind(signal.prefix()).execute(&mut *self).await?;
        }
        Ok(())
    }
}

/// Wakes the listener on each of `signal`'s notifications, and once after
/// every reconnect (what was sent meanwhile is lost).
async fn hear(pool: PgPool, signal: Signal, arrived: Arc<watch::Sender<u64>>) {
    loop {
        let Err(error) = listen_once(&pool, signal, &arrived).await;
        tracing::warn!(%error, signal = ?signal, "cannot listen for signals; polling meanwhile");
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn listen_once(pool: &PgPool, signal: Signal, arrived: &watch::Sender<u64>) -> Result<Infallible, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    let (channel,): (String,) =
        sqlx::query_as(&format!("SELECT {CHANNEL}")).bind(signal.prefix()).fetch_one(&mut listener).await?;
    listener.listen(&channel).await?;
    arrived.send_modify(|n| *n += 1);
    loop {
        listener.recv().await?;
        arrived.send_modify(|n| *n += 1);
    }
}
