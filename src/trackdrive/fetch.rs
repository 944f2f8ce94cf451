//! A report from where it is: `tdrecon run https://…/report.csv` (a Google
//! Sheets "publish as CSV" link, a pre-signed object-store URL). Not
//! TrackDrive, but the same HTTP stack. The body is fetched, within
//! `MAX_BYTES` and `MAX_TIME`, into a copy kept beside the run's outputs
//! (`<stem>.download.csv`): that copy is the input the run reads and hashes,
//! so the journal is bound to its bytes and `--resume` reads the same ones,
//! whatever the URL serves by then.
//!
//! `https` only (plain `http` to this machine, for rehearsals and tests),
//! redirects likewise, at most five. Messages show a URL without its query
//! or fragment: a pre-signed URL's signature is a secret.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest body fetched: a buyer report of millions of rows is well
/// under it (a million-row nightly CSV is about 80 MiB); a URL that serves
/// more is not a report.
pub const MAX_BYTES: u64 = 512 << 20;
/// The longest a fetch may take, all of it.
pub const MAX_TIME: Duration = Duration::from_secs(300);
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// Whether the input named is a URL to fetch.
pub fn is_url(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The URL as messages, the ledger and the summary show it: scheme, host,
/// port and path, never the query or fragment.
pub fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "(a URL)".into(),
    }
}

/// Allowed: https, or http to a loopback address.
fn allowed(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback =
        bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// Where the copy of `url` is kept: `<stem>.download.<ext>` in the working
/// directory, its extension the URL's (a spreadsheet stays one), else `.csv`.
pub fn kept_copy(url: &str) -> PathBuf {
    let shown = shown(url);
    let last = shown.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
    let ext = [".csv.gz", ".tsv.gz", ".xlsx", ".xlsm", ".xls", ".ods", ".tsv", ".tab", ".txt", ".gz"]
        .iter()
        .find(|e| last.ends_with(*e))
        .copied()
        .unwrap_or(".csv");
    PathBuf::from(format!("{}.download{ext}", crate::input::source::stem(Path::new(&shown))))
}

/// Fetches `url` into `to` (written whole, then moved into place: a fetch
/// cut short leaves no half copy). Blocking: it runs a runtime of its own.
pub fn fetch(url: &str, to: &Path) -> Result<u64, String> {
    let name = shown(url);
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{name}: not a URL ({e})"))?;
    if !allowed(&parsed) {
        return Err(format!("{name}: a report is fetched over https:// only (plain http only from this machine)"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot fetch {name}: {e}"))?;
    let dir = to.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut part = tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("cannot keep a copy of {name}: {e}"))?;
    let got = runtime.block_on(async {
        tokio::time::timeout(MAX_TIME, download(parsed, part.as_file_mut(), &name))
            .await
            .unwrap_or_else(|_| Err(format!("{name}: not fetched within {} s", MAX_TIME.as_secs())))
    })?;
    part.as_file().sync_all().map_err(|e| format!("cannot keep a copy of {name}: {e}"))?;
    part.persist(to).map_err(|e| format!("cannot keep a copy of {name} as {}: {e}", to.display()))?;
    Ok(got)
}

async fn download(url: reqwest::Url, out: &mut std::fs::File, name: &str) -> Result<u64, String> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if allowed(attempt.url()) {
            attempt.follow()
        } else {
            attempt.error("a redirect to a URL that is not https")
        }
    });
    let client = super::http::client_builder()
        .redirect(policy)
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot fetch {name}: {e}"))?;
    let mut response = client.get(url).send().await.map_err(|e| format!("cannot fetch {name}: {}", words(e)))?;
    if !response.status().is_success() {
        return Err(format!("{name} answered {}", response.status()));
    }
    if response.content_length().is_some_and(|n| n > MAX_BYTES) {
        return Err(too_large(name));
    }
    let mut total = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("cannot fetch {name}: {}", words(e)))? {
        total += chunk.len() as u64;
        if total > MAX_BYTES {
            return Err(too_large(name));
        }
        out.write_all(&chunk).map_err(|e| format!("cannot keep a copy of {name}: {e}"))?;
    }
    Ok(total)
}

fn too_large(name: &str) -> String {
    format!("{name} serves more than {} MiB: too large to be a buyer report; nothing was sent", MAX_BYTES >> 20)
}

/// A reqwest error without its URL (which may carry a signature).
fn words(e: reqwest::Error) -> String {
    let e = e.without_url();
    match std::error::Error::source(&e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_secrets_and_kept_by_its_name() {
        let signed =
            "https://bucket.s3.amazonaws.com/nightly/acme-2026-12-07.csv?X-Amz-Signature=abc123&X-Amz-Expires=600";
        assert_eq!(shown(signed), "https://bucket.s3.amazonaws.com/nightly/acme-2026-12-07.csv");
        let kept = |url: &str| kept_copy(url).display().to_string();
        assert!(
            kept(signed).starts_with("acme-2026-12-07-") && kept(signed).ends_with(".download.csv"),
            "{}",
            kept(signed)
        );
        let sheet = "https://docs.google.com/spreadsheets/d/e/2PACX-1v/pub?output=csv";
        assert!(kept(sheet).starts_with("pub-") && kept(sheet).ends_with(".download.csv"));
        assert!(kept("https://x.example/r/night.xlsx").ends_with(".download.xlsx"));
        // Two URLs that end alike keep apart; one URL's query does not matter.
        assert_ne!(kept("https://x.example/a/k.csv"), kept("https://x.example/b/k.csv"));
        assert_eq!(kept("https://x.example/a/k.csv?sig=1"), kept("https://x.example/a/k.csv?sig=2"));
        assert_eq!(shown("https://user:pw@x.example/a.csv"), "https://x.example/a.csv");
        for (url, ok) in [
            ("https://x.example/a.csv", true),
            ("http://127.0.0.1:8080/a.csv", true),
            ("http://localhost/a.csv", true),
            ("http://x.example/a.csv", false),
            ("ftp://x.example/a.csv", false),
        ] {
            assert_eq!(allowed(&reqwest::Url::parse(url).unwrap()), ok, "{url}");
        }
        assert!(is_url("HTTPS://x/y") && !is_url("night.csv") && !is_url("-"));
    }
}
