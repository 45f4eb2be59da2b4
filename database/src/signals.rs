//! Signals between the instances sharing a PostgreSQL database, over
//! LISTEN/NOTIFY: a hint to look again now instead of at the next poll.
//!
//! A signal is never the only way news travels: whoever listens still polls,
//! so a signal lost (while a listener reconnects, or on SQLite, where one
//! process is the whole service) costs only the poll's delay.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::Duration,
};

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
    /// Every signal, each at its [`Signal::index`].
    const ALL: [Self; 3] = [Self::Leases, Self::Activation, Self::Keys];

    /// This signal's place in [`Signal::ALL`].
    fn index(self) -> usize {
        self as usize
    }

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
    seen: watch::Receiver<u64>,
    /// What keeps the count's sender: the connection every listener of the
    /// database shares, or on SQLite a sender nothing signals.
    _source: Source,
}

#[derive(Debug)]
#[expect(dead_code, reason = "held, never read: the sender lives as long as the listener")]
enum Source {
    Shared(Arc<Hub>),
    Silent(watch::Sender<u64>),
}

impl Listener {
    /// Waits until a signal arrives, or one came since the last wait. Never
    /// ends on SQLite.
    pub async fn next(&mut self) {
        // The sender lives as long as `self`: the wait cannot fail.
        let _ = self.seen.changed().await;
    }

    /// How many signals arrived so far, counting one for each time the
    /// connection listening connected (what was sent meanwhile is lost).
    pub fn heard(&self) -> u64 {
        *self.seen.borrow()
    }
}

/// The one connection that listens for every signal on behalf of all the
/// listeners of a database, and the count of each signal it heard.
///
/// PostgreSQL wakes every backend listening in a database on every
/// notification, whatever its channel, and the event store notifies on each
/// commit: a connection per kind of signal cost a backend wake-up per kind on
/// every append.
#[derive(Debug)]
struct Hub {
    arrived: [Arc<watch::Sender<u64>>; Signal::ALL.len()],
    task: JoinHandle<()>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The hub of a database while any of its listeners lives, shared by its clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hubs(Arc<Mutex<Weak<Hub>>>);

impl Hubs {
    /// The running hub, or a new one listening on `pool`.
    fn hub(&self, pool: &PgPool) -> Arc<Hub> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hub) = slot.upgrade() {
            return hub;
        }
        let arrived = Signal::ALL.map(|_| Arc::new(watch::Sender::new(0)));
        let task = tokio::spawn(hear(pool.clone(), arrived.clone()));
        let hub = Arc::new(Hub { arrived, task });
        *slot = Arc::downgrade(&hub);
        hub
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
    /// anything on SQLite). The listeners of a database share one connection.
    pub fn listen(&self, signal: Signal) -> Listener {
        match &self.0 {
            Pools::Sqlite { .. } => {
                let silent = watch::Sender::new(0);
                Listener { seen: silent.subscribe(), _source: Source::Silent(silent) }
            }
            Pools::Postgres(pool) => {
                let hub = self.1.hub(pool);
                Listener { seen: hub.arrived[signal.index()].subscribe(), _source: Source::Shared(hub) }
            }
        }
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

/// Counts each signal's notifications, and one of each after every reconnect
/// (what was sent meanwhile is lost).
async fn hear(pool: PgPool, arrived: [Arc<watch::Sender<u64>>; Signal::ALL.len()]) {
    loop {
        let Err(error) = listen_once(&pool, &arrived).await;
        tracing::warn!(%error, "cannot listen for signals; polling meanwhile");
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn listen_once(pool: &PgPool, arrived: &[Arc<watch::Sender<u64>>]) -> Result<Infallible, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    let mut channels = Vec::with_capacity(Signal::ALL.len());
    for signal in Signal::ALL {
        let (channel,): (String,) =
            sqlx::query_as(&format!("SELECT {CHANNEL}")).bind(signal.prefix()).fetch_one(&mut listener).await?;
        channels.push(channel);
    }
    listener.listen_all(channels.iter().map(String::as_str)).await?;
    for count in arrived {
        count.send_modify(|n| *n += 1);
    }
    loop {
        let notification = listener.recv().await?;
        if let Some(count) = channels.iter().position(|c| c == notification.channel()).and_then(|i| arrived.get(i)) {
            count.send_modify(|n| *n += 1);
        }
    }
}
