//! Sending one row: the retry mechanism around `classify`. Every request
//! passes the gate (stop signal, server pause, rate limit); retries back off
//! with full jitter and draw on the job-wide budget; a row that changes
//! state each time it is sent is never resent after an ambiguous outcome,
//! unless reading the call back (`--reconcile`) shows it was not applied.

use super::backoff::{Backoff, RetryBudget, draw};
use super::classify::{Attempt, Class, classify};
use super::client::{ApiClient, Endpoint};
use super::gate::{Gate, Stop};
use crate::input::update::CallUpdate;
use crate::outputs::journal::Journal;
use crate::outputs::outcome::StopReason;
use crate::outputs::outcome::{RowOutcome, Status};
use crate::reconcile::{Snapshot, Verdict, diff, verify};

/// A row's outcome with its results row, built once for the journal and
/// `results.csv` both.
pub struct Finished {
    pub outcome: RowOutcome,
    pub fields: Vec<String>,
}

impl Finished {
    pub fn new(outcome: RowOutcome) -> Finished {
        Finished { fields: crate::outputs::results::fields(&outcome), outcome }
    }
}

/// A valid row on its way to the API.
#[derive(Debug, Clone)]
pub struct ValidRow {
    pub line: u64,
    pub update: CallUpdate,
    /// An earlier, interrupted run may have sent this row (`--resume`).
    pub in_doubt: bool,
    /// What that earlier run read before sending it (`--reconcile`).
    pub before: Option<Snapshot>,
}

/// Everything the in-flight rows share.
pub struct Sender {
    /// Where each row's intent is made durable before it is sent.
    pub journal: Option<Journal>,
    pub client: ApiClient,
    pub endpoint: Endpoint,
    pub gate: Gate,
    pub stop: Stop,
    pub budget: RetryBudget,
    /// Requests in flight at once (`--concurrency`).
    pub permits: tokio::sync::Semaphore,
    pub backoff: Backoff,
    pub max_retries: u32,
    /// Read each call before writing it, send only what differs, and settle
    /// ambiguous adds by reading the call back.
    pub reconcile: bool,
}

/// How long after passing the rate limiter a request may still go out.
const STALE_ADMISSION: std::time::Duration = std::time::Duration::from_millis(25);

/// The longest server error text kept in `results.csv`.
const MAX_ERROR_TEXT: usize = 300;

/// How a request ended, after its retries.
enum Step {
    /// A 2xx, with its body.
    Done(String),
    /// Final for this row: the status and why.
    Final(Status, String),
    /// May have been applied and must not be repeated blindly.
    Ambiguous(String),
    /// The job stopped before the request could be (re)sent.
    Stopped,
}

/// What is being requested.
enum Request<'a> {
    /// A GET of the call: safe to repeat.
    Read(&'a reqwest::Url),
    /// The update, `safe` when it may be sent twice; `before` is what
    /// `--reconcile` read, kept in the journal's intent.
    Write { url: &'a reqwest::Url, body: &'a [u8], safe: bool, before: Option<&'a str> },
}

impl Sender {
    pub async fn send_row(&self, row: ValidRow) -> RowOutcome {
        let mut out = RowOutcome::new(row.line, row.update.call, Status::NotSent);
        out.update = Some(row.update.clone());
        if !row.update.names.is_empty() {
            // The pipeline resolves names before rows get here; never send a guess.
            return finish(out, Status::Rejected, "a name was not resolved to an id".into());
        }
        let unsafe_fields = row.update.non_idempotent_fields();
        let mut update = row.update.clone();
        let mut jitter = row.line ^ 0x0074_6472_6563_6f6e;

        let unverifiable = row.in_doubt && !unsafe_fields.is_empty() && (!self.reconcile || row.before.is_none());
        if unverifiable {
            // Reading the call now cannot tell an applied add from one never
            // sent without what the earlier run read before sending it.
            let why = if self.reconcile {
                "the interrupted run did not read the call before (it ran without --reconcile)"
            } else {
                "not read back without --reconcile"
            };
            return finish(out, Status::Unknown, in_doubt_reason(&unsafe_fields, why));
        }
        if self.reconcile {
            let before = match &row.before {
                Some(before) if row.in_doubt => before.clone(),
                _ => match self.read(&mut out, &mut jitter).await {
                    Ok(s) => s,
                    Err(end) => return self.ended(out, end),
                },
            };
            if row.in_doubt && !unsafe_fields.is_empty() {
                // An earlier run may have sent this: read the call to see.
                let sent = diff(&row.update, &before);
                let now = match self.read(&mut out, &mut jitter).await {
                    Ok(s) => s,
                    Err(end) => return self.ended(out, end),
                };
                match verify(&sent, &before, &now) {
                    Verdict::Applied => {
                        out.before = Some(before);
                        out.after = Some(now);
                        out.sent = Some(sent);
                        return finish(out, Status::Ok, "verified: an earlier run applied it (read back)".into());
                    }
                    Verdict::NotApplied => {}
                    Verdict::Unclear(details) => {
                        out.before = Some(before);
                        out.after = Some(now);
                        return finish(out, Status::Unknown, in_doubt_reason(&unsafe_fields, &details));
                    }
                }
            }
            update = diff(&row.update, &before);
            out.before = Some(before);
            if update.is_empty() {
                out.after = out.before.clone();
                return finish(out, Status::Unchanged, String::new());
            }
        }

        let url = self.endpoint.url(&update.call);
        let body = update.body_bytes();
        let before_json = out.before.as_ref().map(snapshot_json);
        out.sent = Some(update.clone());
        let mut resent_after_read_back = false;
        loop {
            let safe = unsafe_fields.is_empty();
            let request = Request::Write { url: &url, body: &body, safe, before: before_json.as_deref() };
            match self.request(&mut out, &mut jitter, request).await {
                Step::Done(body) => {
                    out.after = Snapshot::parse(&body);
                    return finish(out, Status::Ok, String::new());
                }
                Step::Final(status, error) => return finish(out, status, error),
                Step::Stopped => return self.stopped(out),
                Step::Ambiguous(reason) => {
                    let Some(before) = out.before.clone() else {
                        return finish(out, Status::Unknown, unknown_reason(&reason, &unsafe_fields));
                    };
                    let now = match self.read(&mut out, &mut jitter).await {
                        Ok(s) => s,
                        Err(_) => return finish(out, Status::Unknown, unknown_reason(&reason, &unsafe_fields)),
                    };
                    match verify(&update, &before, &now) {
                        Verdict::Applied => {
                            out.after = Some(now);
                            return finish(
                                out,
                                Status::Ok,
                                format!("verified by reading the call back after: {reason}"),
                            );
                        }
                        Verdict::NotApplied if !resent_after_read_back => {
                            // Read back unchanged: not applied. Send it again, once.
                            resent_after_read_back = true;
                        }
                        Verdict::NotApplied => {
                            out.after = Some(now);
                            let error = format!("{reason}; read back unchanged twice: not applied, safe to run again");
                            return finish(out, Status::Failed, error);
                        }
                        Verdict::Unclear(details) => {
                            out.after = Some(now);
                            return finish(out, Status::Unknown, format!("{reason}; read back: {details}"));
                        }
                    }
                }
            }
        }
    }

    /// GETs the call, with retries. `Err(Some(..))` is the row's final
    /// status and why; `Err(None)`, the job stopped.
    async fn read(&self, out: &mut RowOutcome, jitter: &mut u64) -> Result<Snapshot, Option<(Status, String)>> {
        let url = self.endpoint.read_url(&out.call);
        let failed = |status, why: String| Err(Some((status, format!("reading the call: {why}"))));
        match self.request(out, jitter, Request::Read(&url)).await {
            Step::Done(body) => match Snapshot::parse(&body) {
                Some(s) => Ok(s),
                None => failed(Status::Failed, "no call in the response".into()),
            },
            Step::Final(status, error) => failed(status, error),
            Step::Ambiguous(reason) => failed(Status::Failed, reason),
            Step::Stopped => Err(None),
        }
    }

    /// GETs any JSON document of the API (a list page), under the same
    /// gate and retries as the rows.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let mut scratch = RowOutcome::new(0, crate::input::values::CallRef::Id(0), Status::NotSent);
        let mut jitter = 0x6c69_7374;
        match self.request(&mut scratch, &mut jitter, Request::Read(&parsed)).await {
            Step::Done(body) => serde_json::from_str(&body).map_err(|e| format!("{url}: not JSON ({e})")),
            Step::Final(_, error) | Step::Ambiguous(error) => Err(format!("{url}: {error}")),
            Step::Stopped => Err(format!("{url}: the job stopped")),
        }
    }

    /// The outcome of a row whose read ended it (see `read`).
    fn ended(&self, out: RowOutcome, end: Option<(Status, String)>) -> RowOutcome {
        match end {
            Some((status, error)) => finish(out, status, error),
            None => self.stopped(out),
        }
    }

    /// One request, retried while that is safe.
    async fn request(&self, out: &mut RowOutcome, jitter: &mut u64, request: Request<'_>) -> Step {
        let mut tries = 0u32;
        loop {
            tokio::select! {
                biased;
                _ = self.stop.stopped() => return Step::Stopped,
                _ = self.gate.admit() => {}
            }
            // Stopped while waiting for the gate: do not send.
            if self.stop.is_stopped() {
                return Step::Stopped;
            }
            let admitted = std::time::Instant::now();
            // The intent is durable before the first send, and written only
            // once the gate lets the row through: rows waiting on the rate
            // limit are not in doubt after a crash.
            if let (Request::Write { before, .. }, Some(journal), false) =
                (&request, &self.journal, out.intent_journaled)
            {
                if let Err(e) = journal.intent(out.line, *before).await {
                    self.stop.trigger(StopReason::Aborted(format!("cannot write the journal: {e}")));
                    return Step::Final(Status::NotSent, format!("cannot write the journal: {e}"));
                }
                out.intent_journaled = true;
            }
            if out.attempts == 0 {
                self.budget.first_attempt();
            }
            // Send slots are taken after the journal intent's sync, so the
            // slots stay busy with requests while the journal syncs.
            let permit = tokio::select! {
                biased;
                _ = self.stop.stopped() => return Step::Stopped,
                permit = self.permits.acquire() => permit.expect("the send semaphore is never closed"),
            };
            // A 429 may have paused everyone while this row waited for a slot.
            // And a row the limiter let through long ago (the machine stalled
            // while its intent synced or it waited for a slot) goes through
            // the limiter again: sent now, together with the others held up,
            // they would burst past the rate.
            if self.gate.is_paused() || (self.gate.is_limited() && admitted.elapsed() > STALE_ADMISSION) {
                drop(permit);
                continue;
            }
            tries += 1;
            out.attempts += 1;
            out.writes += u32::from(matches!(request, Request::Write { .. }));
            let (attempt, latency) = match &request {
                Request::Read(url) => self.client.get(url).await,
                Request::Write { url, body, .. } => self.client.send(url, body.to_vec()).await,
            };
            drop(permit);
            out.latency = Some(latency);
            out.http_status = match &attempt {
                Attempt::Response { status, .. } => Some(*status),
                _ => None,
            };
            let retry_reason = match classify(&attempt) {
                Class::Done => {
                    let Attempt::Response { body, .. } = attempt else { unreachable!("Done comes from a response") };
                    return Step::Done(body);
                }
                Class::Rejected => return Step::Final(Status::Rejected, response_text(&attempt)),
                Class::AuthFailed => {
                    let status = out.http_status.unwrap_or_default();
                    self.stop.trigger(StopReason::Aborted(format!(
                        "the API answered {status}: check the API keys and that they may update calls"
                    )));
                    return Step::Final(Status::Rejected, response_text(&attempt));
                }
                Class::Throttled(wait) => {
                    // Everyone waits, not just this row; the backoff below
                    // covers a 429 that named no time.
                    if let Some(wait) = wait {
                        self.gate.pause(wait);
                    }
                    "throttled (429)".to_string()
                }
                Class::Retryable(reason) => reason,
                Class::Ambiguous(reason) => match request {
                    Request::Write { safe: false, .. } => return Step::Ambiguous(reason),
                    _ => reason,
                },
            };
            if tries > self.max_retries {
                return Step::Final(Status::Failed, format!("{retry_reason}; gave up after {tries} attempts"));
            }
            if !self.budget.try_spend() {
                self.stop.trigger(StopReason::Aborted(
                    "the job-wide retry budget is spent: the API keeps failing, so the job stopped".into(),
                ));
                return Step::Final(Status::Failed, format!("{retry_reason}; retry budget spent"));
            }
            let delay = self.backoff.delay(tries, draw(jitter));
            out.error = retry_reason;
            tokio::select! {
                biased;
                _ = self.stop.stopped() => return Step::Stopped,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Records a row's outcome in the journal. Nothing is reported `ok` that
    /// is not journaled `ok`: if the record cannot be written, the job stops
    /// and an `ok` row is reported `unknown`.
    pub async fn journal_outcome(&self, mut out: RowOutcome) -> Finished {
        let fields = crate::outputs::results::fields(&out);
        let Some(journal) = &self.journal else { return Finished { outcome: out, fields } };
        if !out.intent_journaled && out.status == Status::NotSent {
            // Never sent and no intent recorded: the journal needs nothing.
            return Finished { outcome: out, fields };
        }
        if let Err(e) = journal.outcome(&fields).await {
            self.stop.trigger(StopReason::Aborted(format!("cannot write the journal: {e}")));
            if out.status == Status::Ok {
                out.status = Status::Unknown;
                out.error = format!("applied, but the journal could not record it ({e})");
                return Finished::new(out);
            }
        }
        Finished { outcome: out, fields }
    }

    /// The job stopped before this row's next request.
    fn stopped(&self, out: RowOutcome) -> RowOutcome {
        let why = match self.stop.reason() {
            Some(StopReason::Aborted(reason)) => format!("job aborted: {reason}"),
            _ => "job interrupted".to_string(),
        };
        if out.writes == 0 {
            finish(out, Status::NotSent, why)
        } else {
            // Every earlier attempt of this row was classified as not applied
            // or (for a row safe to resend) possibly applied: safe to run again.
            let error = if out.error.is_empty() { why } else { format!("{}; {why}", out.error) };
            finish(out, Status::Failed, error)
        }
    }
}

fn unknown_reason(reason: &str, unsafe_fields: &[&str]) -> String {
    format!(
        "{reason}; the update may have been applied and carries {}, so it was not resent: \
         check this call before sending it again (--reconcile reads it back)",
        unsafe_fields.join(", ")
    )
}

fn in_doubt_reason(unsafe_fields: &[&str], details: &str) -> String {
    format!(
        "an earlier run stopped after this row may have been sent; it carries {}, so it was not resent ({details}): \
         check this call before sending it again",
        unsafe_fields.join(", ")
    )
}

/// The before-snapshot as the journal keeps it.
pub fn snapshot_json(s: &Snapshot) -> String {
    let opt = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string());
    serde_json::json!({
        "revenue": opt(s.revenue),
        "payout": opt(s.payout),
        "buyer_converted": s.buyer_converted,
        "offer_converted": s.offer_converted,
        "call_disposition_id": s.call_disposition_id,
        "agent_call_disposition_notes": s.agent_call_disposition_notes,
        "trackdrive_buyer_id": s.trackdrive_buyer_id,
        "trackdrive_traffic_source_id": s.trackdrive_traffic_source_id,
        "contact_field_type": s.contact_field_type,
        "post_call_tokens": s.post_call_tokens,
    })
    .to_string()
}

fn finish(mut out: RowOutcome, status: Status, error: String) -> RowOutcome {
    out.status = status;
    out.error = error;
    out
}

/// `422: {"errors":…}`, shortened, for the error column.
fn response_text(attempt: &Attempt) -> String {
    match attempt {
        Attempt::Response { status, body, .. } => {
            let compact =
                serde_json::from_str::<serde_json::Value>(body).map(|v| v.to_string()).unwrap_or_else(|_| body.clone());
            let mut text = format!("{status}: {}", compact.trim());
            if text.len() > MAX_ERROR_TEXT {
                let cut = (0..=MAX_ERROR_TEXT).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                text.truncate(cut);
                text.push('…');
            }
            text
        }
        other => format!("{other:?}"),
    }
}
