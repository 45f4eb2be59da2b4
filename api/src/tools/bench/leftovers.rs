//! What a benchmark makes outside itself: temporary folders for its SQLite
//! files, `nudge serve` processes and PostgreSQL schemas (`bench cluster`).
//! Each is removed when the benchmark is done with it, and what is left when
//! it fails half-way or Ctrl-C or SIGTERM ends it.

use std::{
    io::Write,
    path::PathBuf,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

/// What the benchmark under way has made and not removed yet.
struct Live {
    folders: Vec<PathBuf>,
    processes: Vec<u32>,
    /// Each schema's database URL and name.
    schemas: Vec<(String, String)>,
}

impl Live {
    const NOTHING: Self = Self { folders: Vec::new(), processes: Vec::new(), schemas: Vec::new() };
}

static LIVE: Mutex<Live> = Mutex::new(Live::NOTHING);

/// Set when Ctrl-C or SIGTERM has come: see [`interrupted`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fresh temporary folder for a benchmark's SQLite file, removed on drop.
pub(super) struct TempFolder(PathBuf);

impl TempFolder {
    pub(super) fn new() -> Self {
        let path = std::env::temp_dir().join(format!("nudge-bench-{}", uuid::Uuid::new_v4().simple()));
        live().folders.push(path.clone());
        Self(path)
    }

    pub(super) fn sqlite_url(&self) -> String {
        format!("sqlite://{}/nudge.db", self.0.display())
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        live().folders.retain(|live| live != &self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process started, to be killed if the benchmark is interrupted.
pub(super) fn started(pid: u32) {
    live().processes.push(pid);
}

/// A process started with [`started`] is gone.
pub(super) fn ended(pid: u32) {
    live().processes.retain(|live| *live != pid);
}

/// A schema made in the database at `base`, to be dropped if the benchmark is interrupted.
pub(super) fn made_schema(base: &str, name: &str) {
    live().schemas.push((base.to_owned(), name.to_owned()));
}

/// A schema recorded with [`made_schema`] is dropped.
pub(super) fn dropped_schema(name: &str) {
    live().schemas.retain(|(_, live)| live != name);
}

/// Whether Ctrl-C or SIGTERM has come: [`exit_on_interrupt`]'s handler is then
/// removing what the benchmark made and ends the process when done, so the
/// benchmark, which may have failed meanwhile (its instances killed under
/// it), must not end it first.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Ends the process on Ctrl-C or SIGTERM (exit status 130 or 143), first
/// removing what the benchmark under way made ([`remove_all`]), which would
/// otherwise be left behind: a benchmark's stores can take gigabytes, and its
/// instances run on.
///
/// The signals are caught from this call on, so that nothing is made before
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
        INTERRUPTED.store(true, Ordering::SeqCst);
        remove_all("interrupted").await;
        std::process::exit(status);
    });
    Ok(())
}

/// Removes `folder` and what it holds, again each time a thread of the
/// benchmark, still running (the projection's, a database's), made a file in
/// it meanwhile; once the folder is gone none can be made in it.
fn remove_folder(folder: &std::path::Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match std::fs::remove_dir_all(folder) {
            Err(error) if error.kind() == std::io::ErrorKind::DirectoryNotEmpty && tries < 100 => tries += 1,
            result => return result,
        }
    }
}

/// Kills the processes, drops the schemas and removes the folders made and not
/// removed yet, each told on standard error after `reason`.
pub(super) async fn remove_all(reason: &str) {
    let Live { folders, processes, schemas } = std::mem::replace(&mut *live(), Live::NOTHING);
    // A closed standard error must not stop the rest being removed.
    let tell = |line: std::fmt::Arguments<'_>| {
        let _ = writeln!(std::io::stderr(), "{reason}: {line}");
    };
    for pid in processes {
        let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        if !killed.is_ok_and(|status| status.success()) {
            tell(format_args!("cannot kill process {pid}"));
        }
    }
    for (base, name) in schemas {
        match super::cluster::drop_schema(&base, &name).await {
            Ok(()) => tell(format_args!("dropped schema {name}")),
            Err(error) => tell(format_args!("cannot drop schema {name}: {error:#}")),
        }
    }
    for folder in folders {
        match remove_folder(&folder) {
            Ok(()) => tell(format_args!("removed {}", folder.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tell(format_args!("cannot remove {}: {error}", folder.display())),
        }
    }
}
