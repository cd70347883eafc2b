//! One `hearth run` per database. Two processes on one store would both answer every slash
//! command and could both send a post (issue 23); until several processes are designed for
//! (product §14), a second one refuses to start.
//!
//! The lock is an OS file lock on `<database>.lock`, held for the life of the process: the OS
//! drops it when the process ends, however it ends (a SIGKILL leaves no stale lock behind).
//! Commands that only read (`report`, `privacy export`) do not take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// Held while the process runs; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

/// The database file behind a `sqlite:` url, if it is a file.
pub fn database_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory"))
        .then(|| PathBuf::from(path))
}

/// Takes the lock for the database at `url`; `None` for databases that are not files.
pub fn acquire(url: &str) -> anyhow::Result<Option<InstanceLock>> {
    let Some(database) = database_file(url) else {
        return Ok(None);
    };
    let mut name = database.clone().into_os_string();
    name.push(".lock");
    let path = PathBuf::from(name);
    lock(&path, &database).map(Some)
}

fn lock(path: &Path, database: &Path) -> anyhow::Result<InstanceLock> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create the lock file {} next to the database; fix: make its folder writable or set [database] url to a writable place",
            path.display()
        )
    })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another hearth process".to_owned()
            } else {
                format!("another hearth process (pid {holder})")
            };
            bail!(
                "{who} is already running on the database {}; only one may run on a database.\n  fix: stop the other process first, or give this one its own [database] url (processes that share a store, with --shards, need PostgreSQL)",
                database.display()
            );
        }
        Err(TryLockError::Error(err)) => {
            return Err(err).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
    // Who holds it, for the message a second process prints.
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(InstanceLock {
        _file: file,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_files_are_found_in_urls() {
        assert_eq!(
            database_file("sqlite://data/hearth.db"),
            Some(PathBuf::from("data/hearth.db"))
        );
        assert_eq!(
            database_file("sqlite:///var/lib/h.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/h.db"))
        );
        assert_eq!(database_file("sqlite::memory:"), None);
        assert_eq!(database_file("postgres://x"), None);
    }

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/h.db", dir.path().display());
        let first = acquire(&url).unwrap().unwrap();
        let err = acquire(&url).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())) && err.contains("fix:"),
            "{err}"
        );
        drop(first);
        assert!(acquire(&url).unwrap().is_some());
    }
}
