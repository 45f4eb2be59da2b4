//! The temporary folders benchmarks keep their SQLite files in, removed when
//! the benchmark ends, and when Ctrl-C or SIGTERM ends it.

use std::{
    io::Write,
    path::PathBuf,
    sync::{Mutex, PoisonError},
};

/// The folders of the benchmark under way, for [`exit_on_interrupt`] to remove.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A fresh temporary folder for a benchmark's SQLite file, removed on drop.
pub(super) struct TempFolder(PathBuf);

impl TempFolder {
    pub(super) fn new() -> Self {
        let path = std::env::temp_dir().join(format!("nudge-bench-{}", uuid::Uuid::new_v4().simple()));
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).push(path.clone());
        Self(path)
    }

    pub(super) fn sqlite_url(&self) -> String {
        format!("sqlite://{}/nudge.db", self.0.display())
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).retain(|live| live != &self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Ends the process on Ctrl-C or SIGTERM (exit status 130 or 143), first
/// removing the temporary folders of the benchmark under way, which would
/// otherwise be left behind: a benchmark's stores can take gigabytes.
///
/// The signals are caught from this call on, so that no folder is made before
/// they are; the process ends at once rather than unwinding the benchmark,
/// which may be deep in work that does not yield.
#[cfg(unix)]
pub fn exit_on_interrupt() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        let status = tokio::select! {
            _ = interrupt.recv() => 130,
            _ = terminate.recv() => 143,
        };
        let folders = std::mem::take(&mut *LIVE.lock().unwrap_or_else(PoisonError::into_inner));
        let mut stderr = std::io::stderr().lock();
        for folder in folders {
            // A closed standard error must not stop the others being removed.
            match std::fs::remove_dir_all(&folder) {
                Ok(()) => {
                    let _ = writeln!(stderr, "interrupted: removed {}", folder.display());
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    let _ = writeln!(stderr, "interrupted: cannot remove {}: {error}", folder.display());
                }
            }
        }
        std::process::exit(status);
    });
    Ok(())
}
