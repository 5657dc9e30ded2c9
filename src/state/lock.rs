//! An exclusive lock beside the state file, so two rolly processes never deliver from
//! the same state at once (a second daemon refuses to start).

use std::fs::File;
use std::path::{Path, PathBuf};

/// Held for as long as the process uses the state file; released on drop or exit.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// The lock is taken by someone else, or cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "another rolly is using state file {state} (lock {lock} is held); stop it first, or give this one its own [state].path"
    )]
    Held { state: PathBuf, lock: PathBuf },
    #[error("cannot create lock file {lock}: {source}")]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

impl StateLock {
    /// Takes the lock for `state_path` without waiting.
    pub fn acquire(state_path: &Path) -> Result<Self, Error> {
        let mut lock = state_path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                lock: lock.clone(),
                source,
            })?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|source| Error::Io {
                lock: lock.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Held {
                state: state_path.into(),
                lock,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(Error::Io { lock, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_state_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("rolly.db");
        let first = StateLock::acquire(&state).unwrap();
        let err = StateLock::acquire(&state).unwrap_err();
        assert!(
            err.to_string()
                .contains("another rolly is using state file"),
            "{err}"
        );
        drop(first);
        StateLock::acquire(&state).unwrap();
    }
}
