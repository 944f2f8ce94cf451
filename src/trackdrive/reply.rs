//! How a request ended: the one vocabulary of a request's end, that
//! `retry::decide` says of one attempt and `Api::request` of a request with
//! its retries; and what the requests of one row have cost (`Exchange`).

use std::time::Duration;

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A 2xx, with its body (`true`: only its first `MAX_RESPONSE_BYTES`).
    Done(String, bool),
    /// The API refused it (a 4xx other than 408 and 429): final, not applied.
    Refused(String),
    /// Held back before it was sent: an earlier run applied the same
    /// change (`true`), or may have (the ledger's refusal). Final, not sent.
    Repeat(String, bool),
    /// Not applied, and not tried again: its retries or the job's budget
    /// spent, or a connect error that lasts.
    Failed(String),
    /// May have been applied, and must not be repeated blindly.
    Ambiguous(String),
    /// The job stopped (`gate::Stop`) before the request could be (re)sent.
    Stopped,
}

/// What the requests of one row (or one list page) have cost so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exchange {
    /// Requests sent (reads included).
    pub attempts: u32,
    /// Of those, the updates.
    pub writes: u32,
    /// The last request's round trip, and its HTTP status.
    pub latency: Option<Duration>,
    pub http_status: Option<u16>,
    /// Why the last attempt was retried (kept if the row ends unsent).
    pub retried_for: String,
    /// The last write had no answer in time: the server may still have been
    /// working on it (an answer or a closed connection says it was done).
    pub timed_out: bool,
}
