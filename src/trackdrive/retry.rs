//! What one attempt means for its request, as data (vector's `RetryLogic`):
//! the request ends here (a `Reply`: done, refused, failed, ambiguous), or
//! is worth another try; and whether the whole job must stop or pause.
//! Pure: `Api::request` applies the effects (stops the job, pauses the
//! gate, counts 429s, backs off).
//!
//! The question that matters for money is whether the request may have been
//! applied. A connect error or a 408/429 means it was not; a timeout after
//! the request was written, a connection reset mid-exchange, or a 5xx means
//! it may have been, and a write that adds to revenue must not be resent then.

use std::time::{Duration, SystemTime};

use super::attempt::{Attempt, connect_words, lasting_connect_error, local_resource_error, parse_retry_after};
use super::auto_rate::Answer;
use super::reply::Reply;

/// The longest server error text kept for a row.
const MAX_ERROR_TEXT: usize = 300;

/// What was requested, as far as deciding needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A GET: safe to repeat.
    Read,
    /// An update; `safe` when sending it twice changes nothing more.
    Write { safe: bool },
}

/// What to do after one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The request ends with this reply. `stop`: the whole job stops too,
    /// for this reason (bad keys, a host that cannot be reached whatever is
    /// retried, this machine out of resources).
    End { reply: Reply, stop: Option<String> },
    /// Not applied, or safe to repeat: try again after the backoff. `pause`
    /// holds every request of the job first (a 429's `Retry-After`).
    Retry { reason: String, throttled: bool, pause: Option<Duration> },
}

/// Decides what `attempt`, made for a request of `kind` to `host`, means.
pub fn decide(attempt: Attempt, kind: RequestKind, host: &str, now: SystemTime) -> Decision {
    let end = |reply: Reply| Decision::End { reply, stop: None };
    let ambiguous = |reason: String| match kind {
        RequestKind::Write { safe: false } => end(Reply::Ambiguous(reason)),
        _ => Decision::Retry { reason, throttled: false, pause: None },
    };
    let retry = |reason: String| Decision::Retry { reason, throttled: false, pause: None };
    match attempt {
        Attempt::Response { status: 200..=299, body, truncated, .. } => end(Reply::Done(body, truncated)),
        Attempt::Response { status: status @ (401 | 403), ref body, .. } => Decision::End {
            reply: Reply::Refused(response_text(status, body)),
            stop: Some(format!("the API answered {status}: check the API keys and that they may update calls")),
        },
        Attempt::Response { status: 408, .. } => retry("408 request timeout".into()),
        Attempt::Response { status: 429, retry_after, .. } => Decision::Retry {
            reason: "throttled (429)".into(),
            throttled: true,
            pause: retry_after.as_deref().and_then(|v| parse_retry_after(v, now)),
        },
        Attempt::Response { status: status @ 500..=599, .. } => ambiguous(format!("server error {status}")),
        Attempt::Response { status, ref body, .. } => end(Reply::Refused(response_text(status, body))),
        Attempt::ConnectFailed(e) if local_resource_error(&e).is_some() => {
            let why = local_resource_error(&e).unwrap_or_default();
            Decision::End { reply: Reply::Failed(why.clone()), stop: Some(why) }
        }
        Attempt::ConnectFailed(e) if lasting_connect_error(&e) => {
            let why = format!("cannot connect to {host}: {}", connect_words(&e));
            Decision::End { reply: Reply::Failed(why.clone()), stop: Some(why) }
        }
        Attempt::ConnectFailed(e) => retry(format!("connect failed: {e}")),
        Attempt::TimedOut => ambiguous("timed out waiting for the response".into()),
        Attempt::Broken(e) => ambiguous(format!("connection broke mid-exchange: {e}")),
    }
}

/// What an attempt tells `--rate auto` about the pace.
pub fn answer_of(attempt: &Attempt) -> Answer {
    match attempt {
        Attempt::Response { status: 429, .. } => Answer::Throttled,
        Attempt::Response { status: 500..=599, .. } => Answer::Failed,
        Attempt::Response { .. } => Answer::Accepted,
        Attempt::ConnectFailed(_) | Attempt::TimedOut | Attempt::Broken(_) => Answer::Failed,
    }
}

/// `422: {"errors":…}`, shortened, for the error column.
pub fn response_text(status: u16, body: &str) -> String {
    let compact =
        serde_json::from_str::<serde_json::Value>(body).map(|v| v.to_string()).unwrap_or_else(|_| body.to_string());
    let mut text = format!("{status}: {}", compact.trim());
    if text.len() > MAX_ERROR_TEXT {
        let cut = (0..=MAX_ERROR_TEXT).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> Attempt {
        Attempt::Response { status, retry_after: None, body: "{\"errors\":{}}".into(), truncated: false, date: None }
    }

    /// The shape of a decision, to compare in a table.
    fn shape(d: &Decision) -> String {
        match d {
            Decision::End { reply: Reply::Done(..), .. } => "done".into(),
            Decision::End { reply, stop } => {
                let word = match reply {
                    Reply::Refused(_) => "final rejected",
                    Reply::Failed(_) => "final failed",
                    Reply::Ambiguous(_) => "ambiguous",
                    _ => "other",
                };
                format!("{word}{}", if stop.is_some() { " +stop" } else { "" })
            }
            Decision::Retry { throttled, pause, .. } => format!(
                "retry{}{}",
                if *throttled { " +429" } else { "" },
                pause.map(|p| format!(" +pause {}s", p.as_secs())).unwrap_or_default()
            ),
        }
    }

    #[test]
    fn decision_table() {
        let cert = "error sending request: invalid peer certificate: UnknownIssuer";
        let refused = "tcp connect error: Connection refused (os error 111)";
        let throttled = Attempt::Response {
            status: 429,
            retry_after: Some("2".into()),
            body: String::new(),
            truncated: false,
            date: None,
        };
        let (read, safe, unsafe_write) =
            (RequestKind::Read, RequestKind::Write { safe: true }, RequestKind::Write { safe: false });
        // Attempt, then what it means for a read, a safe write and a write
        // that must never be sent twice.
        let cases: Vec<(Attempt, [&str; 3])> = vec![
            (response(200), ["done"; 3]),
            (response(204), ["done"; 3]),
            (response(301), ["final rejected"; 3]),
            (response(400), ["final rejected"; 3]),
            (response(404), ["final rejected"; 3]),
            (response(422), ["final rejected"; 3]),
            (response(401), ["final rejected +stop"; 3]),
            (response(403), ["final rejected +stop"; 3]),
            (response(408), ["retry"; 3]),
            (throttled, ["retry +429 +pause 2s"; 3]),
            (response(429), ["retry +429"; 3]),
            (response(500), ["retry", "retry", "ambiguous"]),
            (response(503), ["retry", "retry", "ambiguous"]),
            (Attempt::TimedOut, ["retry", "retry", "ambiguous"]),
            (Attempt::Broken("reset".into()), ["retry", "retry", "ambiguous"]),
            (Attempt::ConnectFailed(refused.into()), ["retry"; 3]),
            (Attempt::ConnectFailed(cert.into()), ["final failed +stop"; 3]),
            (
                Attempt::ConnectFailed("tcp open error: Too many open files (os error 24)".into()),
                ["final failed +stop"; 3],
            ),
        ];
        for (attempt, want) in cases {
            for (kind, want) in [read, safe, unsafe_write].into_iter().zip(want) {
                let got = decide(attempt.clone(), kind, "acme.trackdrive.com", SystemTime::UNIX_EPOCH);
                assert_eq!(shape(&got), want, "{attempt:?} as {kind:?}: {got:?}");
            }
        }
    }

    #[test]
    fn reasons_in_words() {
        let now = SystemTime::UNIX_EPOCH;
        let d = decide(response(401), RequestKind::Read, "h", now);
        let Decision::End { reply: Reply::Refused(why), stop: Some(stop) } = d else { panic!("{d:?}") };
        assert_eq!(why, "401: {\"errors\":{}}");
        assert!(stop.contains("check the API keys"), "{stop}");
        let d =
            decide(Attempt::ConnectFailed("dns error: failed to lookup address".into()), RequestKind::Read, "h", now);
        assert!(
            matches!(&d, Decision::End { reply: Reply::Failed(why), .. } if why.starts_with("cannot connect to h: the name does not resolve"))
        );
        assert_eq!(
            decide(response(503), RequestKind::Write { safe: false }, "h", now),
            Decision::End { reply: Reply::Ambiguous("server error 503".into()), stop: None }
        );
        let long = "x".repeat(1000);
        let text = response_text(422, &long);
        assert!(text.chars().count() <= MAX_ERROR_TEXT + 1 && text.ends_with('…'), "{text}");
    }

    proptest::proptest! {
        /// Fuzz: any status, Retry-After and body decide without panic; a
        /// 2xx is done and nothing else is; a write that must not be sent
        /// twice is never retried after a 5xx; a pause is capped by no one
        /// here but is a duration that exists.
        #[test]
        fn any_response_decides(status in 0u16..1000, retry_after in proptest::option::of("\\PC{0,40}|[0-9]{1,30}"), body in "\\PC{0,60}") {
            let attempt = Attempt::Response { status, retry_after, body, truncated: false, date: None };
            let d = decide(attempt, RequestKind::Write { safe: false }, "h", SystemTime::now());
            proptest::prop_assert_eq!(matches!(d, Decision::End { reply: Reply::Done(..), .. }), (200..300).contains(&status));
            if (500..600).contains(&status) {
                proptest::prop_assert!(matches!(d, Decision::End { reply: Reply::Ambiguous(_), .. }), "{:?}", d);
            }
            if let Decision::Retry { throttled, .. } = d {
                proptest::prop_assert!(throttled == (status == 429));
                proptest::prop_assert!(status == 429 || status == 408);
            }
        }
    }
}
