//! The embedded default serves from one process: a serving nudge holds an
//! exclusive OS lock on a file beside each SQLite database it uses.

use std::{
    fs::{File, TryLockError},
    path::{Path, PathBuf},
    str::FromStr,
};

use sqlx::sqlite::SqliteConnectOptions;

use crate::StoreError;

/// Exclusive locks on the SQLite databases of a serving process, released when
/// dropped or when the process ends, however it ends.
#[derive(Debug)]
pub struct ServeLock {
    _files: Vec<File>,
}

impl ServeLock {
    /// Locks the database file of every `sqlite://` URL among `urls` (the others
    /// are not SQLite and are skipped) through `{file}.lock` beside it, creating
    /// the folder if needed; fails while another process holds one of them.
    pub fn acquire(urls: &[&str]) -> Result<Self, StoreError> {
        let mut databases: Vec<PathBuf> = Vec::new();
        for url in urls.iter().filter(|url| url.starts_with("sqlite:")) {
            let database = database_file(url)?;
            if !databases.contains(&database) {
                databases.push(database);
            }
        }
        let files = databases.iter().map(|database| lock(database)).collect::<Result<_, _>>()?;
        Ok(Self { _files: files })
    }

    /// Locks the SQLite database at `url`, then deletes it with its WAL and
    /// shared-memory files, so that the caller starts on an empty one.
    pub fn acquire_emptied(url: &str) -> Result<Self, StoreError> {
        let held = Self::acquire(&[url])?;
        let database = database_file(url)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = with_suffix(&database, suffix);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StoreError::Lock { path: file, source }),
            }
        }
        Ok(held)
    }
}

/// The database file a `sqlite://` URL names, read as [`super::SqliteStore::connect`] reads it.
fn database_file(url: &str) -> Result<PathBuf, StoreError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(format!("{url}: {e}")))?;
    super::check_file(url, options.get_filename(), "sqlite://data/nudge.db").map_err(StoreError::InvalidUrl)?;
    Ok(options.get_filename().to_path_buf())
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes the exclusive lock of `{database}.lock`, creating its folder and the file.
fn lock(database: &Path) -> Result<File, StoreError> {
    let path = with_suffix(database, ".lock");
    let failed = |source| StoreError::Lock { path: path.clone(), source };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(failed)?;
    }
    let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(failed)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::HeldByAnotherProcess(database.to_path_buf())),
        Err(TryLockError::Error(source)) => Err(failed(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(folder: &Path, name: &str) -> String {
        format!("sqlite://{}", folder.join(name).display())
    }

    #[test]
    fn a_held_database_is_refused_until_its_lock_is_dropped() {
        let folder = tempfile::tempdir().unwrap();
        let held = ServeLock::acquire(&[&url(folder.path(), "nudge.db")]).unwrap();
        let refused = ServeLock::acquire(&[&url(folder.path(), "nudge.db")]).unwrap_err();
        assert!(matches!(refused, StoreError::HeldByAnotherProcess(_)), "{refused}");
        assert!(refused.to_string().contains("PostgreSQL"), "{refused}");
        drop(held);
        ServeLock::acquire(&[&url(folder.path(), "nudge.db")]).unwrap();
    }

    #[test]
    fn one_database_named_twice_is_locked_once_and_others_are_skipped() {
        let folder = tempfile::tempdir().unwrap();
        let database = url(folder.path(), "nudge.db");
        let _held = ServeLock::acquire(&[&database, "postgres://db/nudge", &database]).unwrap();
        ServeLock::acquire(&[&url(folder.path(), "read-models.db")]).unwrap();
    }

    #[test]
    fn emptied_leaves_no_database_behind() {
        let folder = tempfile::tempdir().unwrap();
        let database = folder.path().join("nudge.db");
        std::fs::write(&database, b"old").unwrap();
        std::fs::write(with_suffix(&database, "-wal"), b"old").unwrap();
        let _held = ServeLock::acquire_emptied(&url(folder.path(), "nudge.db")).unwrap();
        assert!(!database.exists() && !with_suffix(&database, "-wal").exists());
    }
}
