//! A SQLite file's WAL, copied back into the file by a task of its own rather
//! than by whichever commit crosses SQLite's threshold.
//!
//! With SQLite's automatic checkpoint, the commit that happens to fill the WAL
//! past its limit copies it back before it returns: every so often one group
//! of appends, or one projection batch, takes tens of milliseconds longer, and
//! what it writes is answered or visible that much later. A passive checkpoint
//! on another connection runs beside the writer and never blocks it. The
//! writer is opened with [`Checkpointer::writer_options`], which turn SQLite's
//! own checkpoint off.

use std::{sync::Arc, time::Duration};

use sqlx::{Connection, SqliteConnection, sqlite::SqliteConnectOptions};
use tokio::sync::oneshot;

/// How often the WAL is copied back: rarely enough that a page written again
/// and again is copied once (every half second cost the projection and the
/// webhooks a fifth of their throughput), often enough that the WAL stays
/// tens of megabytes.
const EVERY: Duration = Duration::from_secs(5);

/// The checkpoint task of one file; it stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    _stop: Arc<oneshot::Sender<()>>,
}

impl Checkpointer {
    /// `options` for the file's writer: it never checkpoints itself.
    pub fn writer_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
        options.pragma("wal_autocheckpoint", "0")
    }

    /// Opens a connection of its own to the file and checkpoints through it
    /// every [`EVERY`]; `file` names it in the metrics (`store`, `read_models`).
    pub async fn spawn(options: &SqliteConnectOptions, file: &'static str) -> Result<Self, sqlx::Error> {
        let mut conn = SqliteConnection::connect_with(options).await?;
        let (stop, mut stopped) = oneshot::channel();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let started = std::time::Instant::now();
                match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut conn).await
                {
                    Ok((_, frames, _)) => {
                        metrics::histogram!("nudge_sqlite_checkpoint_seconds", "file" => file)
                            .record(started.elapsed());
                        metrics::gauge!("nudge_sqlite_wal_frames", "file" => file).set(frames as f64);
                    }
                    Err(error) => tracing::warn!(%error, file, "checkpoint failed; retried at the next tick"),
                }
            }
        });
        Ok(Self { _stop: Arc::new(stop) })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::SqliteJournalMode;

    use super::*;

    /// The writer leaves its WAL alone however large it grows; the task copies it back.
    #[tokio::test]
    async fn the_writer_never_checkpoints_and_the_task_does() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wal.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut writer = SqliteConnection::connect_with(&Checkpointer::writer_options(options.clone())).await.unwrap();
        sqlx::query("CREATE TABLE t (v BLOB)").execute(&mut writer).await.unwrap();
        // 2,000 pages of 4 KiB: twice SQLite's own threshold.
        for _ in 0..2_000 {
            sqlx::query("INSERT INTO t VALUES (zeroblob(4000))").execute(&mut writer).await.unwrap();
        }
        let size = || std::fs::metadata(&file).unwrap().len();
        assert!(size() < 1_000_000, "the writer checkpointed: {} bytes", size());
        let _checkpointer = Checkpointer::spawn(&options, "store").await.unwrap();
        while size() < 8_000_000 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
