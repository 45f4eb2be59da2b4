//! What the API keys' table answered a moment ago, so that a request checks
//! its key without a database round trip.
//!
//! An answer is kept for at most [`KEPT_FOR`], and forgotten at once when this
//! process makes or revokes a key, or when another instance signals that it
//! did (PostgreSQL). A key revoked by another process on SQLite (`nudge keys
//! revoke` beside `nudge serve`) is refused within [`KEPT_FOR`].

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use database::{Database, Listener, Signal};

use super::keys::ApiKey;

/// How long an answer is trusted.
pub const KEPT_FOR: Duration = Duration::from_secs(1);

/// How many keys are remembered; past it, all are forgotten and read again.
const MOST_KEYS: usize = 1_000;

/// The answers kept, and what they were read under.
#[derive(Debug)]
pub struct KeyMemory {
    /// Keys made or revoked elsewhere.
    signals: Listener,
    /// Keys made or revoked here.
    changes: AtomicU64,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    any: Option<Stamped<bool>>,
    /// By the key's digest.
    keys: HashMap<String, Stamped<ApiKey>>,
}

#[derive(Debug)]
struct Stamped<T> {
    value: T,
    read_at: Instant,
    generation: u64,
}

/// The generation an answer was read under: take it before the read, so that
/// a change made while the read ran leaves the answer stale at once.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl KeyMemory {
    /// An empty memory, listening for keys changed by other instances.
    pub fn new(database: &Database) -> Self {
        Self { signals: database.listen(Signal::Keys), changes: AtomicU64::new(0), kept: Mutex::default() }
    }

    /// The generation answers read from now on belong to.
    pub fn generation(&self) -> Generation {
        Generation(self.changes.load(Ordering::Acquire) + self.signals.heard())
    }

    /// Forgets every answer: a key was made or revoked here.
    pub fn forget(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        *self.kept() = Kept::default();
    }

    /// Whether any key is in force, if known.
    pub fn any(&self, now: Instant) -> Option<bool> {
        let current = self.generation();
        self.kept().any.as_ref().filter(|s| s.fresh(current, now)).map(|s| s.value)
    }

    /// Keeps whether any key is in force, as read under `generation`.
    pub fn remember_any(&self, any: bool, generation: Generation, now: Instant) {
        self.kept().any = Some(Stamped { value: any, read_at: now, generation: generation.0 });
    }

    /// The key in force with this digest, if known to be one.
    pub fn key(&self, digest: &str, now: Instant) -> Option<ApiKey> {
        let current = self.generation();
        self.kept().keys.get(digest).filter(|s| s.fresh(current, now)).map(|s| s.value.clone())
    }

    /// Keeps the key in force with this digest, as read under `generation`.
    pub fn remember_key(&self, digest: String, key: ApiKey, generation: Generation, now: Instant) {
        let mut kept = self.kept();
        if kept.keys.len() >= MOST_KEYS && !kept.keys.contains_key(&digest) {
            kept.keys.clear();
        }
        kept.keys.insert(digest, Stamped { value: key, read_at: now, generation: generation.0 });
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // What is kept is whole after every statement: a panic elsewhere cannot leave it half-written.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Stamped<T> {
    fn fresh(&self, current: Generation, now: Instant) -> bool {
        self.generation == current.0 && now.saturating_duration_since(self.read_at) < KEPT_FOR
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::services::keys::Scope;

    fn key() -> ApiKey {
        ApiKey {
            id: Uuid::nil(),
            name: "ops".into(),
            scopes: vec![Scope::Read],
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            revoked_at: None,
        }
    }

    async fn memory() -> KeyMemory {
        let database = Database::connect("sqlite://:memory:").await.unwrap();
        KeyMemory::new(&database)
    }

    #[tokio::test]
    async fn answers_are_kept_for_a_second_and_forgotten_on_a_change() {
        let memory = memory().await;
        let now = Instant::now();
        assert_eq!(memory.any(now), None);
        memory.remember_any(true, memory.generation(), now);
        memory.remember_key("d".into(), key(), memory.generation(), now);
        assert_eq!(memory.any(now + KEPT_FOR / 2), Some(true));
        assert_eq!(memory.key("d", now + KEPT_FOR / 2), Some(key()));
        assert_eq!(memory.key("e", now), None);
        assert_eq!(memory.any(now + KEPT_FOR), None);
        assert_eq!(memory.key("d", now + KEPT_FOR), None);
        memory.forget();
        assert_eq!((memory.any(now), memory.key("d", now)), (None, None));
    }

    #[tokio::test]
    async fn an_answer_read_while_a_key_changed_is_never_kept() {
        let memory = memory().await;
        let now = Instant::now();
        let before = memory.generation();
        memory.forget();
        memory.remember_any(false, before, now);
        memory.remember_key("d".into(), key(), before, now);
        assert_eq!((memory.any(now), memory.key("d", now)), (None, None));
    }

    #[tokio::test]
    async fn past_the_bound_older_keys_are_read_again() {
        let memory = memory().await;
        let now = Instant::now();
        for i in 0..MOST_KEYS {
            memory.remember_key(i.to_string(), key(), memory.generation(), now);
        }
        memory.remember_key("last".into(), key(), memory.generation(), now);
        assert_eq!(memory.key("0", now), None);
        assert_eq!(memory.key("last", now), Some(key()));
    }
}
