//! Where tdrecon keeps what outlives a run, per account: the rate limit it
//! found (`records::rate_memory`) and the ledger of what it applied
//! (`ledger`). `TDRECON_STATE_DIR`, else `$XDG_STATE_HOME/tdrecon`, else
//! `~/.local/state/tdrecon`.
//!
//! An account is its host (`Account`): `--subdomain acme`,
//! `https://acme.trackdrive.com` and `https://ACME.trackdrive.com/` are one
//! account, whatever API key is used, so rotating the keys keeps its history.
//! Files were once named by a hash of the base URL *and* the public key;
//! `adopt` moves such a file to the account's name the first time the
//! account is used with that key, so an upgrade loses no history.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The directory for `what` (`rates`, `ledgers`).
pub fn state_dir(what: &str) -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("TDRECON_STATE_DIR") {
        // The rate memory has always lived at its top.
        return Some(if what == "rates" { dir } else { dir.join(what) });
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return Some(dir.join("tdrecon").join(what));
    }
    var("HOME").map(|home| home.join(".local/state/tdrecon").join(what))
}

/// An account, by its host: the scheme, the host in lower case (every
/// loopback name as `127.0.0.1`, one simulator however it is named) and the
/// port, explicit or the scheme's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account(String);

impl Account {
    /// The account `base_url` reaches; a URL that does not parse stands for
    /// itself, in lower case without a trailing slash.
    pub fn of(base_url: &str) -> Account {
        let Ok(url) = url::Url::parse(base_url.trim()) else {
            return Account(base_url.trim().trim_end_matches('/').to_ascii_lowercase());
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => "127.0.0.1".to_string(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => "127.0.0.1".to_string(),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => "127.0.0.1".to_string(),
            Some(host) => host.to_string().to_ascii_lowercase(),
            None => String::new(),
        };
        let port = url.port_or_known_default().map(|p| format!(":{p}")).unwrap_or_default();
        Account(format!("{}://{host}{port}", url.scheme()))
    }

    /// As shown to a person and kept in the ledger: `https://acme.trackdrive.com:443`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The account's name in file names: 16 hex digits of a hash of it.
    pub fn key(&self) -> String {
        hex16(&Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name files had before accounts were named by host: a hash of the
/// base URL (without a trailing slash) and the public key.
pub fn earlier_key(base_url: &str, public_key: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(base_url.trim_end_matches('/').to_ascii_lowercase().as_bytes());
    hash.update(b"\n");
    hash.update(public_key.as_bytes());
    hex16(&hash.finalize())
}

fn hex16(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Moves a file named the earlier way (`earlier`, with the files beside it
/// that end in each of `siblings`: an SQLite database's `-wal`) to
/// `current`, when `current` does not exist yet. `Ok(true)` when a file was
/// adopted; a file already adopted, or none, is `Ok(false)`.
pub fn adopt(earlier: &Path, current: &Path, siblings: &[&str]) -> std::io::Result<bool> {
    if earlier == current || !earlier.exists() || current.exists() {
        return Ok(false);
    }
    for suffix in siblings {
        let from = with_suffix(earlier, suffix);
        if from.exists() {
            std::fs::rename(&from, with_suffix(current, suffix))?;
        }
    }
    std::fs::rename(earlier, current)?;
    Ok(true)
}

/// `path` with `suffix` added to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_its_host_whatever_the_spelling() {
        let acme = Account::of("https://acme.trackdrive.com");
        for same in ["https://acme.trackdrive.com/", "https://ACME.TrackDrive.com/", "https://acme.trackdrive.com:443"]
        {
            assert_eq!(Account::of(same), acme, "{same}");
        }
        assert_eq!(acme.as_str(), "https://acme.trackdrive.com:443");
        assert_ne!(Account::of("https://bolt.trackdrive.com"), acme);
        let sim = Account::of("http://127.0.0.1:8080");
        for same in ["http://localhost:8080/", "http://LOCALHOST:8080", "http://[::1]:8080"] {
            assert_eq!(Account::of(same), sim, "{same}");
        }
        assert_ne!(Account::of("http://127.0.0.1:8081"), sim, "another port is another simulator");
        assert_eq!(acme.key().len(), 16);
    }

    #[test]
    fn the_earlier_name_never_holds_the_key() {
        let a = earlier_key("https://acme.trackdrive.com/", "pk_1");
        assert_eq!(a, earlier_key("https://ACME.trackdrive.com", "pk_1"));
        assert_ne!(a, earlier_key("https://acme.trackdrive.com", "pk_2"));
        assert!(!a.contains("pk_1") && a.len() == 16);
    }

    #[test]
    fn a_file_named_the_earlier_way_is_adopted_once() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.sqlite"), dir.path().join("new.sqlite"));
        std::fs::write(&old, "db").unwrap();
        std::fs::write(with_suffix(&old, "-wal"), "wal").unwrap();
        assert!(adopt(&old, &new, &["-wal"]).unwrap());
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "db");
        assert_eq!(std::fs::read_to_string(with_suffix(&new, "-wal")).unwrap(), "wal");
        assert!(!old.exists());
        std::fs::write(&old, "other").unwrap();
        assert!(!adopt(&old, &new, &["-wal"]).unwrap(), "the account's own file is never replaced");
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "db");
    }
}
