//! What `--rate auto` learned about an account's limit, kept between runs.
//!
//! A nightly job meets the same limit every night. Found afresh, it costs a
//! slow start from 10/s and the `Retry-After` pause of the 429 that shows it
//! (on a ten-second job, a sixth of the time). Remembered, the next run
//! starts just under it. One small JSON file per target and account (named
//! by a hash of the base URL and the public key, which never appears in
//! it), in `TDRECON_STATE_DIR`, else `$XDG_STATE_HOME/tdrecon/rates`, else
//! `~/.local/state/tdrecon/rates`. Forgotten after 30 days; a stale limit
//! costs one 429, which sets the rate from what the server accepts.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::records::state::{Account, adopt, earlier_key, state_dir};
use crate::trackdrive::auto_rate::Known;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How long a remembered limit is trusted.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most of a memory file read: it is a few lines.
const MAX_BYTES: u64 = 4096;
const VERSION: u32 = 1;

/// The memory for one target and account.
#[derive(Debug, Clone)]
pub struct RateMemory {
    path: PathBuf,
    /// The base URL, written into the file for a person reading it.
    target: String,
}

/// What an earlier run left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Remembered {
    pub known: Known,
    pub at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u32,
    /// The base URL, so a person reading the file knows what it is for.
    target: String,
    ceiling: Option<f64>,
    healthy: f64,
    at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum RecallError {
    #[error("cannot read {0}: {1}")]
    Unreadable(PathBuf, io::Error),
    #[error("{0} is not a rate memory tdrecon wrote ({1}); it will be replaced")]
    Damaged(PathBuf, String),
}

impl RateMemory {
    /// The memory for the account `base_url` reaches, in the state
    /// directory; `None` when there is no home to keep it in.
    pub fn for_account(base_url: &str, public_key: &str) -> Option<RateMemory> {
        Some(RateMemory::in_dir(&state_dir("rates")?, base_url, public_key))
    }

    /// The account's memory in `dir`, named by its host (whatever key is
    /// used); one named the earlier way, by the URL and `public_key`, is
    /// adopted.
    pub fn in_dir(dir: &Path, base_url: &str, public_key: &str) -> RateMemory {
        let name = Account::of(base_url).key();
        let path = dir.join(format!("rate-{name}.json"));
        let earlier = dir.join(format!("rate-{}.json", earlier_key(base_url, public_key)));
        // A memory that cannot be moved is found again by the next 429.
        let _ = adopt(&earlier, &path, &[]);
        RateMemory { path, target: base_url.to_string() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What an earlier run learned, if it is recent enough to trust.
    pub fn recall(&self, now: Timestamp) -> Result<Option<Remembered>, RecallError> {
        let mut text = String::new();
        match std::fs::File::open(&self.path) {
            Ok(file) => file.take(MAX_BYTES).read_to_string(&mut text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => Err(e),
        }
        .map_err(|e| RecallError::Unreadable(self.path.clone(), e))?;
        let damaged = |why: String| RecallError::Damaged(self.path.clone(), why);
        let record: Record = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
        if record.version != VERSION {
            return Err(damaged(format!("version {}", record.version)));
        }
        let usable = |r: f64| r.is_finite() && r >= 0.0;
        if !usable(record.healthy) || record.ceiling.is_some_and(|c| !usable(c)) {
            return Err(damaged("a rate that is not a number of requests a second".into()));
        }
        let age = now.duration_since(record.at);
        if age.is_negative() || age.unsigned_abs() > MAX_AGE {
            return Ok(None);
        }
        Ok(Some(Remembered { known: Known { ceiling: record.ceiling, healthy: record.healthy }, at: record.at }))
    }

    /// Keeps what this run knows, replacing the file whole (written beside
    /// it, then renamed: a run killed meanwhile leaves the old one).
    pub fn keep(&self, known: Known, now: Timestamp) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let record = Record {
            version: VERSION,
            target: self.target.clone(),
            ceiling: known.ceiling.map(round),
            healthy: round(known.healthy),
            at: now,
        };
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut file, &record)?;
        file.write_all(b"\n")?;
        file.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

fn round(rate: f64) -> f64 {
    (rate * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(ceiling: Option<f64>, healthy: f64) -> Known {
        Known { ceiling, healthy }
    }

    #[test]
    fn keeps_and_recalls_per_target_and_account() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2026-11-28T02:00:00Z".parse().unwrap();
        let acme = RateMemory::in_dir(dir.path(), "https://acme.trackdrive.com/", "pub-1");
        assert_eq!(acme.recall(now).unwrap(), None, "nothing kept yet");
        acme.keep(known(Some(300.04), 291.0), now).unwrap();
        let back = acme.recall(now + jiff::SignedDuration::from_hours(24)).unwrap().unwrap();
        assert_eq!(back, Remembered { known: known(Some(300.0), 291.0), at: now });
        // The same account without the trailing slash, or with another key,
        // is the same memory; another target is not.
        for (url, key) in [("https://acme.trackdrive.com", "pub-1"), ("https://ACME.trackdrive.com", "pub-2")] {
            assert_eq!(RateMemory::in_dir(dir.path(), url, key).path(), acme.path());
        }
        let other = RateMemory::in_dir(dir.path(), "https://other.trackdrive.com", "pub-1");
        assert_eq!(other.recall(now).unwrap(), None);
        let text = std::fs::read_to_string(acme.path()).unwrap();
        assert!(!text.contains("pub-1") && !acme.path().to_string_lossy().contains("pub-1"), "{text}");
    }

    #[test]
    fn a_memory_named_by_url_and_key_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2026-11-28T02:00:00Z".parse().unwrap();
        let earlier = dir.path().join(format!("rate-{}.json", earlier_key("https://acme.trackdrive.com", "pub-1")));
        let kept = RateMemory { path: earlier.clone(), target: "https://acme.trackdrive.com".into() };
        kept.keep(known(None, 42.0), now).unwrap();
        let memory = RateMemory::in_dir(dir.path(), "https://acme.trackdrive.com/", "pub-1");
        assert_eq!(memory.recall(now).unwrap().map(|r| r.known.healthy), Some(42.0));
        assert!(!earlier.exists());
    }

    #[test]
    fn forgets_what_is_old_and_refuses_what_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let then: Timestamp = "2026-10-01T02:00:00Z".parse().unwrap();
        let memory = RateMemory::in_dir(dir.path(), "https://acme.trackdrive.com", "pub");
        memory.keep(known(None, 40.0), then).unwrap();
        let later = |days: i64| then + jiff::SignedDuration::from_hours(24 * days);
        assert!(memory.recall(later(29)).unwrap().is_some());
        assert_eq!(memory.recall(later(31)).unwrap(), None, "a month old: found again");
        assert_eq!(memory.recall(later(-1)).unwrap(), None, "from the future: a clock was wrong");
        let damaged = [
            "",
            "{",
            "[]",
            r#"{"version":2,"target":"x","ceiling":null,"healthy":1.0,"at":"2026-10-01T02:00:00Z"}"#,
            r#"{"version":1,"target":"x","ceiling":-5.0,"healthy":1.0,"at":"2026-10-01T02:00:00Z"}"#,
            r#"{"version":1,"target":"x","ceiling":null,"healthy":1e999,"at":"2026-10-01T02:00:00Z"}"#,
            r#"{"version":1,"target":"x","ceiling":null,"healthy":1.0,"at":"yesterday"}"#,
            r#"{"version":1,"target":"x","ceiling":null,"healthy":1.0,"at":"2026-10-01T02:00:00Z","key":"k"}"#,
        ];
        for text in damaged {
            std::fs::write(memory.path(), text).unwrap();
            let error = memory.recall(later(1)).unwrap_err();
            assert!(matches!(error, RecallError::Damaged(..)), "{text}: {error}");
        }
        // Megabytes of junk are not read whole.
        std::fs::write(memory.path(), "9".repeat(5 << 20)).unwrap();
        assert!(memory.recall(later(1)).is_err());
    }
}
