//! What happened to one row that reached the uploader: one line of
//! `results.csv`.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::trackdrive::Snapshot;
use crate::trackdrive::reply::Exchange;

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
    /// An earlier run (this machine's ledger, or TrackDrive's audit log for
    /// any machine) applied the same add, fire or transcription: nothing
    /// was sent, and nothing is left to fix.
    AlreadyApplied,
    /// `run --plan`: the call no longer holds the values the signed plan
    /// read: nothing was sent, and a person decides (plan again).
    ChangedSincePlan,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Ok,
        Status::Unchanged,
        Status::Rejected,
        Status::Failed,
        Status::Unknown,
        Status::NotSent,
        Status::WouldChange,
        Status::AlreadyApplied,
        Status::ChangedSincePlan,
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
            Status::AlreadyApplied => "already_applied",
            Status::ChangedSincePlan => "changed_since_plan",
        }
    }

    /// A row in this state is finished: a resume does not touch it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Ok
                | Status::Unchanged
                | Status::Rejected
                | Status::Unknown
                | Status::AlreadyApplied
                | Status::ChangedSincePlan
        )
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
    /// The row's requests: how many, the last one's status and latency.
    pub exchange: Exchange,
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
    /// Its intent is in the ledger (so its outcome must be too).
    pub intent_ledgered: bool,
    /// A write of this row that changes state each time it is sent (an add,
    /// a webhook refire, a transcription) may have been applied, and no
    /// evidence since shows it was not: why. The one fact every way a row
    /// can end reads (`RowOutcome::sealed`): such a row is never `failed` or
    /// `not_sent`, which would let a resume send it again.
    pub maybe_applied: Option<String>,
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
            exchange: Exchange::default(),
            error: String::new(),
            update: None,
            sent: None,
            before: None,
            after: None,
            request_body: None,
            intent_at: None,
            intent_journaled: false,
            intent_ledgered: false,
            maybe_applied: None,
        }
    }

    /// The row as it must be recorded: one that may have been applied
    /// (`maybe_applied`) and would otherwise end `failed` or `not_sent`
    /// (whatever stopped it: Ctrl-C, a spent retry budget, a failure
    /// threshold, refused keys, a record that cannot be written) is
    /// `unknown`, with why, until evidence settles it.
    pub fn sealed(mut self) -> RowOutcome {
        if let (Status::Failed | Status::NotSent, Some(why)) = (self.status, &self.maybe_applied) {
            let fields = self.update.as_ref().map(|u| u.non_idempotent_fields().join(", ")).unwrap_or_default();
            let stopped = if self.error.is_empty() { String::new() } else { format!("; then {}", self.error) };
            self.error = format!(
                "{why}{stopped}: the update may have been applied and carries {fields}, so it is not sent again \
                 until evidence settles it (--resume --reconcile reads the call and its audit log)"
            );
            self.status = Status::Unknown;
        }
        self
    }
}

impl RowOutcome {
    /// The outcome as the journal records it, one JSON object: everything a
    /// resume replays into results.csv and the summary. Its layout is the
    /// journal's (pinned by the journal's version), not results.csv's.
    pub fn to_record(&self) -> String {
        let update = |u: &CallUpdate| {
            let mut body = u.body();
            let extras = [
                ("#label", u.buyer_label.clone().map(Value::from)),
                ("#call_time", u.call_time.map(Value::from)),
                ("#caller", u.caller_number.clone().map(Value::from)),
            ];
            body.extend(extras.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))));
            Value::Object(body)
        };
        json!({
            "line": self.line,
            "call": self.call.to_string(),
            "status": self.status.as_str(),
            "http_status": self.exchange.http_status,
            "attempts": self.exchange.attempts,
            "writes": self.exchange.writes,
            "latency_ms": self.exchange.latency.map(|l| l.as_millis() as u64),
            "timed_out": self.exchange.timed_out,
            "error": self.error,
            "update": self.update.as_ref().map(update),
            "sent": self.sent.as_ref().map(update),
            "before": self.before.as_ref().map(Snapshot::to_json),
            "after": self.after.as_ref().map(Snapshot::to_json),
            "request_body": self.request_body,
            "intent_at": self.intent_at,
        })
        .to_string()
    }

    /// Reads back what `to_record` wrote; `None` for anything else.
    pub fn from_record(text: &str) -> Option<RowOutcome> {
        let Value::Object(r) = serde_json::from_str::<Value>(text).ok()? else { return None };
        let call = CallRef::parse(r.get("call")?.as_str()?).ok()?;
        let number = |k: &str| r.get(k).and_then(Value::as_u64);
        let update = |k: &str| -> Option<Option<CallUpdate>> {
            match r.get(k) {
                None | Some(Value::Null) => Some(None),
                Some(Value::Object(body)) => {
                    let mut body = body.clone();
                    let label = body.remove("#label").and_then(|v| v.as_str().map(String::from));
                    let call_time = body.remove("#call_time").and_then(|v| v.as_i64());
                    let caller = body.remove("#caller").and_then(|v| v.as_str().map(String::from));
                    let mut u = CallUpdate::from_body(call, &body)?;
                    (u.buyer_label, u.call_time, u.caller_number) = (label, call_time, caller);
                    Some(Some(u))
                }
                Some(_) => None,
            }
        };
        let snapshot = |k: &str| match r.get(k) {
            None | Some(Value::Null) => Some(None),
            Some(v) => Snapshot::parse(&v.to_string()).map(Some),
        };
        let mut out = RowOutcome::new(number("line")?, call, Status::parse(r.get("status")?.as_str()?)?);
        out.exchange = Exchange {
            attempts: u32::try_from(number("attempts")?).ok()?,
            writes: u32::try_from(number("writes")?).ok()?,
            latency: number("latency_ms").map(Duration::from_millis),
            http_status: number("http_status").and_then(|s| u16::try_from(s).ok()),
            retried_for: String::new(),
            timed_out: r.get("timed_out").and_then(Value::as_bool).unwrap_or(false),
        };
        out.error = r.get("error")?.as_str()?.to_string();
        out.update = update("update")?;
        out.sent = update("sent")?;
        out.before = snapshot("before")?;
        out.after = snapshot("after")?;
        out.request_body = r.get("request_body").and_then(Value::as_str).map(String::from);
        out.intent_at = number("intent_at");
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::fields::CallField;
    use crate::input::update::{Change, Tokens};

    #[test]
    fn an_outcome_reads_back_from_its_record() {
        let mut update =
            CallUpdate::new(CallRef::Id(7)).with(CallField::Revenue, Change::Add("-2.50".parse().unwrap()));
        update.tokens = Tokens::from_iter([("zip", "9")]);
        update.buyer_label = Some("Acme, \"Inc\"".into());
        update.call_time = Some(1_700_000_000_000);
        update.caller_number = Some("+17195550106".into());
        let mut out = RowOutcome::new(12, CallRef::Id(7), Status::Unknown);
        out.exchange = Exchange {
            attempts: 3,
            writes: 2,
            latency: Some(Duration::from_millis(41)),
            http_status: Some(503),
            retried_for: String::new(),
            timed_out: true,
        };
        out.error = "server error 503;\nmulti\tline".into();
        out.sent = Some(update.clone());
        out.update = Some(update);
        out.before = Snapshot::parse(r#"{"revenue":"10.00","payout":"1.00","post_call_tokens":{"zip":"1"}}"#);
        out.intent_at = Some(1_700_000_000_123);
        assert_eq!(RowOutcome::from_record(&out.to_record()), Some(out));
        let bare = RowOutcome::new(3, CallRef::Uuid(9), Status::NotSent);
        assert_eq!(RowOutcome::from_record(&bare.to_record()), Some(bare));
        assert_eq!(RowOutcome::from_record("{}"), None);
        assert_eq!(RowOutcome::from_record("not json"), None);
    }
}
