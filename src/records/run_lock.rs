//! One run at a time. A run holds exclusive OS locks (`flock`) for its whole
//! life: one for its journal, so no second run of that journal starts
//! (plain, `--resume` or `--restart`), and one named by the input's SHA-256
//! and the target, so the same report copied under another name cannot be
//! sent to the same account at the same time. The kernel releases a lock
//! when its process dies, however it dies: a crash never leaves a stale one.
//! Each lock file holds its holder's process id and start time, to say who
//! holds it. Both live in the lock directory (`lock_dir`), never beside the
//! report: a rehearsal or a plan leaves nothing in the operator's folder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Locks held until dropped (the end of the run).
#[derive(Debug, Default)]
pub struct RunLocks {
    _files: Vec<File>,
}

/// Why a run may not start.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another tdrecon run ({holder}) is already {what}: two runs at once could apply the same rows twice. \
         Wait for it to finish, or stop it (Ctrl-C) and use --resume"
    )]
    Held { holder: String, what: String },
    #[error("cannot take the run lock {path}: {error} (set TDRECON_LOCK_DIR to a directory you can write)")]
    Io { path: PathBuf, error: std::io::Error },
}

impl RunLocks {
    /// The lock of the journal at `journal`: taken by every run,
    /// dry runs and sandboxes too (they still write the same outputs).
    pub fn journal(&mut self, journal: &Path) -> Result<(), LockError> {
        // Named by where the journal is, however the path was written.
        let key = Sha256::digest(crate::files::paths::resolved(journal).as_os_str().as_encoded_bytes());
        let name: String = key.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let dir = lock_dir();
        std::fs::create_dir_all(&dir).map_err(|error| LockError::Io { path: dir.clone(), error })?;
        let what = format!("writing {}", journal.display());
        self.take(dir.join(format!("journal-{name}.lock")), what)
    }

    /// The lock for this input's content sent to `target`.
    pub fn input(&mut self, input_sha256: &str, target: &str, input: &Path) -> Result<(), LockError> {
        let key = Sha256::digest(format!("{input_sha256}|{target}").as_bytes());
        let name: String = key.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let dir = lock_dir();
        std::fs::create_dir_all(&dir).map_err(|error| LockError::Io { path: dir.clone(), error })?;
        let what = format!("sending a file with the same content as {} to {target}", input.display());
        self.take(dir.join(format!("{name}.lock")), what)
    }

    fn take(&mut self, path: PathBuf, what: String) -> Result<(), LockError> {
        let io = |error| LockError::Io { path: path.clone(), error };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(LockError::Held { holder: holder(&mut file), what }),
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        let since = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
        let me = format!("process {}, started {since}", std::process::id());
        file.set_len(0).and_then(|()| file.write_all(me.as_bytes())).map_err(io)?;
        self._files.push(file);
        Ok(())
    }
}

/// Who holds a lock, as it wrote itself into the lock file.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.take(200).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() { "a process that is just starting".into() } else { text.to_string() }
}

/// Where input locks live: `TDRECON_LOCK_DIR`, else the user's runtime
/// directory, else their cache, else the system's temporary directory.
fn lock_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TDRECON_LOCK_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("tdrecon");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache/tdrecon/locks");
    }
    std::env::temp_dir().join("tdrecon-locks")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("x.results.journal");
        let mut first = RunLocks::default();
        first.journal(&journal).unwrap();
        let mut second = RunLocks::default();
        let err = second.journal(&journal).unwrap_err().to_string();
        assert!(err.contains(&format!("process {}", std::process::id())), "{err}");
        assert!(err.contains("started 20"), "{err}");
        // The same journal named another way is the same lock.
        let other = dir.path().join(".").join("x.results.journal");
        assert!(RunLocks::default().journal(&other).is_err());
        drop(first);
        second.journal(&journal).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing beside the journal");
    }
}
