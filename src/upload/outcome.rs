//! What happened to one row that reached the uploader: one line of
//! `results.csv`.

use std::fmt;
use std::time::Duration;

use crate::values::CallRef;

/// A row's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Applied.
    Ok,
    /// The API refused it (4xx other than 408/429): not retried.
    Rejected,
    /// Retries exhausted on a retryable error: not applied, safe to run again.
    Failed,
    /// May or may not have been applied, and not safe to resend.
    Unknown,
    /// The job stopped before sending it (abort, Ctrl-C, dry run).
    NotSent,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::Ok, Status::Rejected, Status::Failed, Status::Unknown, Status::NotSent];

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::NotSent => "not_sent",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowOutcome {
    pub line: u64,
    pub call: CallRef,
    pub status: Status,
    pub http_status: Option<u16>,
    pub attempts: u32,
    /// The last attempt's round trip.
    pub latency: Option<Duration>,
    pub error: String,
    /// The call's amounts after the update, when the response carried them.
    pub revenue: Option<String>,
    pub payout: Option<String>,
    /// The JSON body, written only by `--dry-run`.
    pub request_body: Option<String>,
    /// Its intent is in the journal (so its outcome must be too).
    pub intent_journaled: bool,
}

impl RowOutcome {
    pub fn new(line: u64, call: CallRef, status: Status) -> RowOutcome {
        RowOutcome {
            line,
            call,
            status,
            http_status: None,
            attempts: 0,
            latency: None,
            error: String::new(),
            revenue: None,
            payout: None,
            request_body: None,
            intent_journaled: false,
        }
    }
}

/// Reads the call's revenue and payout from a response body, in either
/// serializer's shape (`{"call": {...}}`) or flat.
pub fn amounts_from(body: &str) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else { return (None, None) };
    let call = value.get("call").unwrap_or(&value);
    let text = |key: &str| match call.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    (text("revenue"), text("payout"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_each_shape() {
        assert_eq!(
            amounts_from(r#"{"call":{"revenue":"12.50","payout":3}}"#),
            (Some("12.50".into()), Some("3".into()))
        );
        assert_eq!(amounts_from(r#"{"revenue":"1.00"}"#), (Some("1.00".into()), None));
        assert_eq!(amounts_from("not json"), (None, None));
        assert_eq!(amounts_from(r#"{"call":{"revenue":null}}"#), (None, None));
    }
}
