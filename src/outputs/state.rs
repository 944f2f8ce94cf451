//! Where tdrecon keeps what outlives a run, per account: the rate limit it
//! found (`upload::rate_memory`) and the ledger of what it applied
//! (`ledger`). `TDRECON_STATE_DIR`, else `$XDG_STATE_HOME/tdrecon`, else
//! `~/.local/state/tdrecon`; an account is named by a hash of its base URL
//! and public key, which never appears in a file name or a file.

use std::path::PathBuf;

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

/// An account's name in file names: 16 hex digits of a hash of the base
/// URL (without a trailing slash) and the public key.
pub fn account_key(base_url: &str, public_key: &str) -> String {
    let mut hash = Sha256::new();
    // `https://ACME.trackdrive.com/` and `--subdomain acme` are one account.
    hash.update(base_url.trim_end_matches('/').to_ascii_lowercase().as_bytes());
    hash.update(b"\n");
    hash.update(public_key.as_bytes());
    hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_per_account_and_no_key_in_it() {
        let a = account_key("https://acme.trackdrive.com/", "pk_1");
        assert_eq!(a, account_key("https://acme.trackdrive.com", "pk_1"));
        assert_eq!(a, account_key("https://ACME.TrackDrive.com/", "pk_1"));
        assert_ne!(a, account_key("https://acme.trackdrive.com", "pk_2"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("pk_1"));
    }
}
