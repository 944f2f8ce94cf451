//! Deciding what one attempt's outcome means — apart from what to do about
//! it (see `row.rs` for retries and backoff).
//!
//! The question that matters for money is whether the request may have been
//! applied. A connect error or a 408/429 means it was not; a timeout after
//! the request was written, a connection reset mid-exchange, or a 5xx means
//! it may have been, and a row that adds to revenue must not be resent then.

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
    },
    /// The connection was never made: nothing was sent.
    ConnectFailed(String),
    /// No response in time, after the request may have been written.
    TimedOut,
    /// The exchange broke part-way (reset, closed, truncated body).
    Broken(String),
}

/// The class of an attempt's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    /// 2xx: applied.
    Done,
    /// The API refused the row (4xx other than 401/403/408/429): final.
    Rejected,
    /// 401/403: bad keys or missing permission: the whole job stops.
    AuthFailed,
    /// 429: not applied; wait this long (if the server said) before any request.
    Throttled(Option<Duration>),
    /// Not applied, safe to try again: connect error, 408.
    Retryable(String),
    /// May or may not have been applied: timeout, reset, 5xx.
    Ambiguous(String),
}

pub fn classify(attempt: &Attempt) -> Class {
    match attempt {
        Attempt::Response { status, retry_after, .. } => match status {
            200..=299 => Class::Done,
            401 | 403 => Class::AuthFailed,
            408 => Class::Retryable("408 request timeout".into()),
            429 => Class::Throttled(retry_after.as_deref().and_then(|v| parse_retry_after(v, SystemTime::now()))),
            500..=599 => Class::Ambiguous(format!("server error {status}")),
            _ => Class::Rejected,
        },
        Attempt::ConnectFailed(e) => Class::Retryable(format!("connect failed: {e}")),
        Attempt::TimedOut => Class::Ambiguous("timed out waiting for the response".into()),
        Attempt::Broken(e) => Class::Ambiguous(format!("connection broke mid-exchange: {e}")),
    }
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

/// A connect error that retrying cannot mend (a certificate, a name that
/// does not resolve): the job stops at once instead of retrying row by row.
pub fn lasting_connect_error(e: &str) -> bool {
    e.contains("certificate") || e.contains("dns error") || e.contains("failed to lookup address")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> Attempt {
        Attempt::Response { status, retry_after: None, body: String::new(), truncated: false }
    }

    #[test]
    fn classes() {
        let cases = [
            (response(200), "Done"),
            (response(204), "Done"),
            (response(400), "Rejected"),
            (response(404), "Rejected"),
            (response(422), "Rejected"),
            (response(301), "Rejected"),
            (response(401), "AuthFailed"),
            (response(403), "AuthFailed"),
            (response(408), "Retryable"),
            (response(429), "Throttled"),
            (response(500), "Ambiguous"),
            (response(503), "Ambiguous"),
            (Attempt::ConnectFailed("refused".into()), "Retryable"),
            (Attempt::TimedOut, "Ambiguous"),
            (Attempt::Broken("reset".into()), "Ambiguous"),
        ];
        for (attempt, want) in cases {
            let got = format!("{:?}", classify(&attempt));
            assert!(got.starts_with(want), "{attempt:?}: {got}");
        }
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
        let attempt =
            Attempt::Response { status: 429, retry_after: Some("2".into()), body: String::new(), truncated: false };
        assert_eq!(classify(&attempt), Class::Throttled(Some(Duration::from_secs(2))));
    }

    proptest::proptest! {
        /// Fuzz: any status, Retry-After and body classify without panic,
        /// and a 429's pause is a duration that exists.
        #[test]
        fn any_response_classifies(status in 0u16..1000, retry_after in proptest::option::of("\\PC{0,40}|[0-9]{1,30}"), body in "\\PC{0,60}") {
            let attempt = Attempt::Response { status, retry_after: retry_after.clone(), body, truncated: false };
            let _ = classify(&attempt);
            if let Some(value) = retry_after {
                let _ = parse_retry_after(&value, SystemTime::now());
            }
        }
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
    }
}
