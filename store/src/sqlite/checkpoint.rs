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
//!
//! A checkpoint beside the writer cannot end the WAL, though: SQLite starts it
//! over only when a write transaction begins with every frame copied back, and
//! under steady load the writer is inside a transaction, appending, while the
//! task copies. So when the WAL holds more than [`FINISH_FRAMES`] after the
//! task's copy, it asks the writer, between two of its transactions, to copy
//! back what is left ([`Checkpointer::finish`]): what came in during the task's
//! copy, after which the next transaction starts the WAL over, and
//! `journal_size_limit` gives the disk back. (Without this, a steady load grew
//! the WAL without bound: 15 GB over a 2-million-event fill.)

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{Connection, SqliteConnection, sqlite::SqliteConnectOptions};
use tokio::sync::oneshot;

/// How often the WAL is copied back: rarely enough that a page written again
/// and again is copied once (every half second cost the projection and the
/// webhooks a fifth of their throughput), often enough that the WAL stays
/// tens of megabytes.
const EVERY: Duration = Duration::from_secs(5);

/// Frames (pages) the WAL may hold, not all copied back, before the writer is
/// asked to finish the copy: SQLite's own automatic threshold.
const FINISH_FRAMES: i64 = 1_000;

/// Most passes of one copy: each copies back what came in during the one before.
const MAX_PASSES: usize = 3;

/// The size the WAL file is cut back to when it starts over, in bytes.
///
/// Large enough that under a steady load the WAL reuses the blocks it already
/// has (5 seconds at 20,000 events a second fill about 700 MB). Cut back
/// further, it grew again through the next 5 seconds, and every sync of a
/// growing file waits for the file system's journal, which writes out first
/// what the checkpoint is copying into the database: appends stalled for as
/// long as the checkpoint ran, up to 300 ms (BENCHMARKS.md, session 43).
pub const JOURNAL_SIZE_LIMIT: i64 = 1024 * 1024 * 1024;

/// The statement that copies the WAL back without waiting for anyone.
pub const PASSIVE: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// The checkpoint task of one file; it stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    _stop: Arc<oneshot::Sender<()>>,
    finish: Arc<AtomicBool>,
    /// The file's name in the metrics.
    file: &'static str,
}

impl Checkpointer {
    /// `options` for the file's writer: it never checkpoints itself, and cuts
    /// the WAL file back when it starts over.
    pub fn writer_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
        options.pragma("wal_autocheckpoint", "0").pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string())
    }

    /// Opens a connection of its own to the file and checkpoints through it
    /// every [`EVERY`]; `file` names it in the metrics (`store`, `read_models`).
    pub async fn spawn(options: &SqliteConnectOptions, file: &'static str) -> Result<Self, sqlx::Error> {
        Self::spawn_every(options, file, EVERY).await
    }

    async fn spawn_every(
        options: &SqliteConnectOptions,
        file: &'static str,
        every: Duration,
    ) -> Result<Self, sqlx::Error> {
        let mut conn = SqliteConnection::connect_with(options).await?;
        let (stop, mut stopped) = oneshot::channel();
        let finish = Arc::new(AtomicBool::new(false));
        let asked = Arc::clone(&finish);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                match copy(&mut conn, file).await {
                    // Even copied whole, the WAL starts over only if that
                    // happened between two of the writer's transactions.
                    Ok(frames) if frames > FINISH_FRAMES => asked.store(true, Ordering::Relaxed),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, file, "checkpoint failed; retried at the next tick"),
                }
            }
        });
        Ok(Self { _stop: Arc::new(stop), finish, file })
    }

    /// Whether the writer should copy back what is left of the WAL now, between
    /// two of its transactions (with [`PASSIVE`]); asks once per request.
    pub fn finish(&self) -> bool {
        self.finish.swap(false, Ordering::Relaxed)
    }

    /// Takes the writer's [`PASSIVE`] answer (busy, frames, copied): asks again
    /// when the task's own checkpoint held the file, and records how it went.
    pub fn finished(&self, (busy, frames, copied): (i64, i64, i64)) {
        let file = self.file;
        if busy != 0 {
            self.finish.store(true, Ordering::Relaxed);
            return;
        }
        metrics::counter!("nudge_sqlite_checkpoint_finishes_total", "file" => file).increment(1);
        if copied < frames {
            tracing::debug!(file, frames, copied, "a reader holds frames of the WAL; it starts over later");
        }
    }
}

/// Copies the WAL back, again while the last pass found more than
/// [`FINISH_FRAMES`] come in during the one before, so that the writer's
/// finish, which holds its next transaction, has little left to copy.
/// Answers the frames the WAL held at the last pass.
async fn copy(conn: &mut SqliteConnection, file: &'static str) -> Result<i64, sqlx::Error> {
    let mut before = 0;
    for _ in 0..MAX_PASSES {
        let started = std::time::Instant::now();
        let (_, frames, _) = sqlx::query_as::<_, (i64, i64, i64)>(PASSIVE).fetch_one(&mut *conn).await?;
        metrics::histogram!("nudge_sqlite_checkpoint_seconds", "file" => file).record(started.elapsed());
        metrics::gauge!("nudge_sqlite_wal_frames", "file" => file).set(frames as f64);
        if frames - before <= FINISH_FRAMES {
            return Ok(frames);
        }
        before = frames;
    }
    Ok(before)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::SqliteJournalMode;

    use super::*;

    /// A WAL-mode file with a table `t`, and its writer.
    struct WalFile {
        _dir: tempfile::TempDir,
        file: std::path::PathBuf,
        options: SqliteConnectOptions,
        writer: SqliteConnection,
    }

    async fn wal_file() -> WalFile {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wal.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut writer = SqliteConnection::connect_with(&Checkpointer::writer_options(options.clone())).await.unwrap();
        sqlx::query("CREATE TABLE t (v BLOB)").execute(&mut writer).await.unwrap();
        WalFile { _dir: dir, file, options, writer }
    }

    /// The writer leaves its WAL alone however large it grows; the task copies it back.
    #[tokio::test]
    async fn the_writer_never_checkpoints_and_the_task_does() {
        let WalFile { _dir, file, options, mut writer } = wal_file().await;
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

    /// With no write beside it, a copy answers the frames the WAL holds, all copied back.
    #[tokio::test]
    async fn a_copy_answers_the_frames_of_its_last_pass() {
        let WalFile { _dir, options, mut writer, .. } = wal_file().await;
        for _ in 0..2_000 {
            sqlx::query("INSERT INTO t VALUES (zeroblob(4000))").execute(&mut writer).await.unwrap();
        }
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        let frames = copy(&mut conn, "store").await.unwrap();
        assert!(frames > FINISH_FRAMES, "the WAL's frames: {frames}");
        let (busy, held, copied): (i64, i64, i64) = sqlx::query_as(PASSIVE).fetch_one(&mut conn).await.unwrap();
        assert_eq!((busy, held, copied), (0, frames, frames), "all of it copied back");
    }

    /// One page a transaction, without a pause: the task alone never copies
    /// the whole WAL, so it asks the writer, and the WAL then starts over.
    #[tokio::test]
    async fn under_writes_that_never_pause_the_wal_still_starts_over() {
        let WalFile { _dir, options, mut writer, .. } = wal_file().await;
        let checkpointer = Checkpointer::spawn_every(&options, "store", Duration::from_millis(10)).await.unwrap();
        let mut inserts = 0;
        let frames = loop {
            sqlx::query("INSERT INTO t VALUES (zeroblob(4000))").execute(&mut writer).await.unwrap();
            inserts += 1;
            if checkpointer.finish() {
                let answer = sqlx::query_as(PASSIVE).fetch_one(&mut writer).await.unwrap();
                checkpointer.finished(answer);
                let (busy, frames, copied) = answer;
                if busy == 0 {
                    assert_eq!(copied, frames, "the writer copies back all that is left");
                    break frames;
                }
            }
        };
        assert!(frames > FINISH_FRAMES, "asked only once the WAL held {FINISH_FRAMES} frames: {frames}");
        sqlx::query("INSERT INTO t VALUES (zeroblob(4000))").execute(&mut writer).await.unwrap();
        let frames_after = loop {
            let (busy, frames, _): (i64, i64, i64) = sqlx::query_as(PASSIVE).fetch_one(&mut writer).await.unwrap();
            if busy == 0 {
                break frames;
            }
        };
        assert!(frames_after < 10, "after {inserts} inserts the WAL started over: {frames_after} frames");
    }
}
