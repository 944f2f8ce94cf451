//! What one HTTP attempt produced (`Attempt`), and its parts in words: a
//! `Retry-After` header, why a first read says the job must not start, a
//! connect error a person can act on. What an attempt means for the request
//! is `retry::decide`'s.

use std::time::{Duration, SystemTime};

/// What one HTTP attempt produced, reduced to what classification needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Response {
        status: u16,
        retry_after: Option<String>,
        body: String,
        /// The body was longer than `client::MAX_RESPONSE_BYTES`: `body` is
        /// its start, the rest was never read.
        truncated: bool,
        /// The server's clock, from its `Date` header (one-second resolution).
        date: Option<std::time::SystemTime>,
    },
    /// The connection was never made: nothing was sent.
    ConnectFailed(String),
    /// No response in time, after the request may have been written.
    TimedOut,
    /// The exchange broke part-way (reset, closed, truncated body).
    Broken(String),
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    // A date in the past means "now"; HTTP dates have one-second resolution,
    // so round up to the next whole second rather than retry early.
    Some(at.duration_since(now).map_or(Duration::ZERO, |d| Duration::from_secs(d.as_secs_f64().ceil() as u64)))
}

/// Why a first, authenticated read says the job must not start, if it does:
/// the keys were refused, or `host` cannot be reached at all.
pub fn preflight_problem(attempt: &Attempt, host: &str) -> Option<String> {
    match attempt {
        Attempt::Response { status: status @ (401 | 403), .. } => Some(format!(
            "the API answered {status} to a first read: check the keys (TRACKDRIVE_PUBLIC_KEY / \
             TRACKDRIVE_PRIVATE_KEY or --credentials) and that they may read and update calls"
        )),
        Attempt::Response { .. } => None,
        Attempt::ConnectFailed(e) | Attempt::Broken(e) => {
            Some(format!("cannot connect to {host}: {}", connect_words(e)))
        }
        Attempt::TimedOut => Some(format!("cannot connect to {host}: no answer within --timeout")),
    }
}

/// A connect error in words a person can act on.
pub fn connect_words(e: &str) -> String {
    if let Some(at) = e.find("invalid peer certificate: ") {
        let detail = e[at + 26..].split([':', ',']).next().unwrap_or_default().trim();
        return format!("certificate not trusted ({detail}); set SSL_CERT_FILE if a proxy re-signs TLS");
    }
    if e.contains("certificate") {
        return format!("certificate problem ({e}); set SSL_CERT_FILE if a proxy re-signs TLS");
    }
    if e.contains("dns error") || e.contains("failed to lookup address") {
        return "the name does not resolve (DNS): check the address and the network".into();
    }
    if e.contains("Connection refused") {
        return "connection refused: check the address and port, and that the service is up".into();
    }
    e.to_string()
}

/// A connect error that is this machine's, not the server's: out of file
/// descriptors or memory. Retrying row by row would only blame the API; the
/// job stops at once, naming the cause and what to change.
pub fn local_resource_error(e: &str) -> Option<String> {
    if e.contains("Too many open files") || e.contains("os error 24") || e.contains("os error 23") {
        return Some(
            "this machine ran out of open files (Too many open files): lower --concurrency, or raise the \
             limit (ulimit -n); nothing was sent for this row"
                .into(),
        );
    }
    if e.contains("Cannot allocate memory") || e.contains("os error 12") || e.contains("out of memory") {
        return Some(
            "this machine ran out of memory (Cannot allocate memory): lower --concurrency, or free \
                     memory; nothing was sent for this row"
                .into(),
        );
    }
    None
}

/// A connect error that retrying cannot mend (a certificate, a name that
/// does not resolve): the job stops at once instead of retrying row by row.
pub fn lasting_connect_error(e: &str) -> bool {
    e.contains("certificate") || e.contains("dns error") || e.contains("failed to lookup address")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> Attempt {
        Attempt::Response { status, retry_after: None, body: String::new(), truncated: false, date: None }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn preflight_words() {
        let refused =
            "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)";
        let cert = "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer";
        let dns = "error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known";
        let cases = [
            (response(401), Some("the API answered 401 to a first read")),
            (response(403), Some("the API answered 403")),
            (response(404), None),
            (response(200), None),
            (response(503), None),
            (Attempt::ConnectFailed(refused.into()), Some("cannot connect to acme.trackdrive.com: connection refused")),
            (
                Attempt::ConnectFailed(cert.into()),
                Some(
                    "cannot connect to acme.trackdrive.com: certificate not trusted (UnknownIssuer); set SSL_CERT_FILE",
                ),
            ),
            (Attempt::ConnectFailed(dns.into()), Some("the name does not resolve (DNS)")),
            (Attempt::TimedOut, Some("no answer within --timeout")),
        ];
        for (attempt, want) in cases {
            let got = preflight_problem(&attempt, "acme.trackdrive.com");
            match want {
                None => assert_eq!(got, None, "{attempt:?}"),
                Some(w) => assert!(got.as_deref().is_some_and(|g| g.contains(w)), "{attempt:?}: {got:?}"),
            }
        }
        assert!(lasting_connect_error(cert) && lasting_connect_error(dns) && !lasting_connect_error(refused));
        let emfile = "error sending request: client error (Connect): tcp open error: Too many open files (os error 24)";
        assert!(local_resource_error(emfile).is_some_and(|w| w.contains("ulimit -n")));
        assert!(local_resource_error("tcp open error: Cannot allocate memory (os error 12)").is_some());
        assert_eq!(local_resource_error(refused), None);
    }
}
