//! What happened to one row that reached the uploader: one line of
//! `results.csv`.

use std::fmt;
use std::time::Duration;

use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::reconcile::Snapshot;

/// A row's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Applied.
    Ok,
    /// `--reconcile`: the call already held every value; nothing was sent.
    Unchanged,
    /// The API refused it (4xx other than 408/429): not retried.
    Rejected,
    /// Retries exhausted on a retryable error: not applied, safe to run again.
    Failed,
    /// May or may not have been applied, and not safe to resend.
    Unknown,
    /// The job stopped before sending it (abort, Ctrl-C, dry run).
    NotSent,
    /// `plan`: the call differs from the row, and `run` would send it.
    WouldChange,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::Unchanged,
        Status::Rejected,
        Status::Failed,
        Status::Unknown,
        Status::NotSent,
        Status::WouldChange,
    ];

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unchanged => "unchanged",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::NotSent => "not_sent",
            Status::WouldChange => "would_change",
        }
    }

    /// A row in this state is finished: a resume does not touch it.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Ok | Status::Unchanged | Status::Rejected | Status::Unknown)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The start of the warning on an `ok` row whose 2xx body was not the
/// call JSON the API sends; the summary counts rows by it.
pub const NOT_UNDERSTOOD: &str = "warning: response not understood";

#[derive(Debug, Clone, PartialEq)]
pub struct RowOutcome {
    pub line: u64,
    pub call: CallRef,
    pub status: Status,
    pub http_status: Option<u16>,
    /// Requests sent for this row (reads included).
    pub attempts: u32,
    /// Of those, the updates (reads excluded).
    pub writes: u32,
    /// The last request's round trip.
    pub latency: Option<Duration>,
    pub error: String,
    /// The row as validated: which fields it touches.
    pub update: Option<CallUpdate>,
    /// What was sent (with `--reconcile`, only the fields that differed).
    pub sent: Option<CallUpdate>,
    /// The call before (`--reconcile`) and after the update.
    pub before: Option<Snapshot>,
    pub after: Option<Snapshot>,
    /// The JSON body, written only by `--dry-run`.
    pub request_body: Option<String>,
    /// Its intent is in the journal (so its outcome must be too).
    pub intent_journaled: bool,
    /// When its first write was about to go out (milliseconds since the
    /// Unix epoch; from the journal for a row an earlier run may have sent):
    /// an audit-log entry from before then is not this row's.
    pub intent_at: Option<u64>,
}

impl RowOutcome {
    pub fn new(line: u64, call: CallRef, status: Status) -> RowOutcome {
        RowOutcome {
            line,
            call,
            status,
            http_status: None,
            attempts: 0,
            writes: 0,
            latency: None,
            error: String::new(),
            update: None,
            sent: None,
            before: None,
            after: None,
            request_body: None,
            intent_at: None,
            intent_journaled: false,
        }
    }
}

/// Why the job stopped admitting rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Auth failure, retry budget, failure threshold, a write error: exit 3.
    Aborted(String),
    /// Ctrl-C or SIGTERM: exit 130.
    Interrupted,
}
