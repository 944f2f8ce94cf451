//! The words a row's outcome is given, and the small pieces every part of
//! sending one shares: how a row ends with a status, the notes of a row
//! settled or left in doubt, a body not understood.

use crate::input::fields::REFERENCE_PARAM;
use crate::outcome::{NOT_UNDERSTOOD, RowOutcome, Status};
use crate::trackdrive::client::MAX_RESPONSE_BYTES;

/// An `ok` row's note when the audit log showed it applied.
pub(super) fn applied_note(times: usize, what: &str) -> String {
    match times {
        1 => format!("verified in the call's audit log: {what}"),
        n => format!("verified in the call's audit log: {what}; it shows the update applied {n} times"),
    }
}

pub(super) fn unknown_reason(reason: &str, unsafe_fields: &[&str]) -> String {
    format!(
        "{reason}; the update may have been applied and carries {}, so it was not resent: \
         check this call before sending it again (--reconcile reads it back)",
        unsafe_fields.join(", ")
    )
}

pub(super) fn in_doubt_reason(unsafe_fields: &[&str], details: &str) -> String {
    format!(
        "an earlier run stopped after this row may have been sent; it carries {}, so it was not resent ({details}): \
         check this call before sending it again",
        unsafe_fields.join(", ")
    )
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn finish(mut out: RowOutcome, status: Status, error: String) -> RowOutcome {
    out.status = status;
    out.error = error;
    out
}

/// Why a 2xx body cannot be read as a call, if it cannot: the row is `ok`
/// (the status says applied) but its after-values are unknown.
pub(super) fn not_understood(body: &str, truncated: bool) -> Option<String> {
    if truncated {
        return Some(format!(
            "{NOT_UNDERSTOOD}: the body is over {MAX_RESPONSE_BYTES} bytes and was not read past that; after-values unknown"
        ));
    }
    if matches!(serde_json::from_str::<serde_json::Value>(body), Ok(serde_json::Value::Object(_))) {
        return None;
    }
    let start: String = body.trim_start().chars().take(40).collect();
    Some(format!("{NOT_UNDERSTOOD}: not the JSON object the API sends ({start:?}); after-values unknown"))
}

/// Whether a refusal names the reference parameter: the account does not
/// take parameters it does not know.
pub(super) fn refuses_reference(out: &RowOutcome, error: &str) -> bool {
    matches!(out.exchange.http_status, Some(400 | 422)) && error.contains(REFERENCE_PARAM)
}
