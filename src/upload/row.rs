//! Sending one row: the retry mechanism around `classify`. Every request
//! passes the gate (stop signal, server pause, rate limit); retries back off
//! with full jitter and draw on the job-wide budget; a row that changes
//! state each time it is sent is never resent after an ambiguous outcome,
//! unless reading the call back (`--reconcile`) shows it was not applied.

use super::auto_rate::Answer;
use super::backoff::{Backoff, RetryBudget, draw};
use super::classify::{Attempt, Class, classify, connect_words, lasting_connect_error, preflight_problem};
use super::client::{ApiClient, Endpoint, MAX_RESPONSE_BYTES};
use super::gate::{Gate, Stop};
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::outputs::journal::Journal;
use crate::outputs::outcome::StopReason;
use crate::outputs::outcome::{NOT_UNDERSTOOD, RowOutcome, Status};
use crate::reconcile::audit::{self, Evidence};
use crate::reconcile::{Snapshot, Verdict, diff, project, verify};

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
    /// When that earlier run first recorded its intent to send it.
    pub intent_at: Option<u64>,
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
    /// The first read, made once before the first update: `true` when the
    /// job may send (see `preflight`).
    pub preflight: tokio::sync::OnceCell<bool>,
    /// `plan`: read and compare, never write (rows that differ end
    /// `would_change`, with the values they would leave).
    pub plan: bool,
    /// With `--reconcile`, the calls of the rows' time window, read in pages
    /// before the first row (`window`): a row whose call is here needs no GET.
    pub window: std::sync::OnceLock<super::window::Window>,
}

/// How long after passing the rate limiter a request may still go out.
const STALE_ADMISSION: std::time::Duration = std::time::Duration::from_millis(25);

/// The longest server error text kept in `results.csv`.
const MAX_ERROR_TEXT: usize = 300;

/// How a request ended, after its retries.
enum Step {
    /// A 2xx, with its body (`true`: only its first `MAX_RESPONSE_BYTES`).
    Done(String, bool),
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

/// What to do with a row once what it may already have done is known.
enum Next {
    /// Send these fields (all the row's, or what `--reconcile` found differs).
    Send(Box<CallUpdate>),
    /// Settled without sending: the status and why.
    Done(Status, String),
    /// The job stopped first.
    Stopped,
}

impl From<Option<(Status, String)>> for Next {
    /// A read that ended the row (see `Sender::read`).
    fn from(end: Option<(Status, String)>) -> Next {
        match end {
            Some((status, error)) => Next::Done(status, error),
            None => Next::Stopped,
        }
    }
}

impl Sender {
    pub async fn send_row(&self, row: ValidRow) -> RowOutcome {
        let mut out = RowOutcome::new(row.line, row.update.call, Status::NotSent);
        out.update = Some(row.update.clone());
        out.intent_at = row.intent_at;
        if !row.update.names.is_empty() || row.update.call == CallRef::PENDING {
            // The pipeline resolves names and finds calls before rows get
            // here; never send a guess.
            return finish(out, Status::Rejected, "a name or a call was not resolved to an id".into());
        }
        if !self.preflight().await {
            return self.stopped(out);
        }
        let unsafe_fields = row.update.non_idempotent_fields();
        let mut jitter = row.line ^ 0x0074_6472_6563_6f6e;
        match self.prepare(&row, &unsafe_fields, &mut out, &mut jitter).await {
            Next::Send(update) => self.write(out, *update, &unsafe_fields, &mut jitter).await,
            Next::Done(status, error) => finish(out, status, error),
            Next::Stopped => self.stopped(out),
        }
    }

    /// One authenticated read before the first update, made once for the
    /// job: bad keys, a certificate that is not trusted, a name that does not
    /// resolve or a refused connection stop it before any row is sent, with
    /// the cause in words.
    async fn preflight(&self) -> bool {
        *self
            .preflight
            .get_or_init(|| async {
                tokio::select! {
                    biased;
                    _ = self.stop.stopped() => return false,
                    _ = self.gate.admit() => {}
                }
                let (attempt, _) = self.client.get(&self.endpoint.first_call_url()).await;
                match preflight_problem(&attempt, &self.endpoint.host()) {
                    None => true,
                    Some(why) => {
                        self.stop.trigger(StopReason::Aborted(why));
                        false
                    }
                }
            })
            .await
    }

    /// Before the first write: a row an interrupted run may have sent is
    /// checked, and with `--reconcile` the call is read and only what
    /// differs is sent.
    async fn prepare(&self, row: &ValidRow, unsafe_fields: &[&str], out: &mut RowOutcome, jitter: &mut u64) -> Next {
        let mut in_doubt_unsafe = row.in_doubt && !unsafe_fields.is_empty();
        let mut audit_note = String::new();
        if in_doubt_unsafe && self.reconcile && row.intent_at.is_some() {
            // The call's audit log says whether the earlier send was applied.
            match self.audit(out, &row.update, jitter).await {
                Ok(Evidence::Applied(n)) => {
                    return Next::Done(Status::Ok, applied_note(n, "an earlier run applied it"));
                }
                Ok(Evidence::NotApplied) => in_doubt_unsafe = false,
                Ok(Evidence::Unclear(why)) => audit_note = format!("; audit log: {why}"),
                Err(None) => return Next::Stopped,
                Err(Some((_, why))) => audit_note = format!("; {why}"),
            }
        }
        if in_doubt_unsafe && (!self.reconcile || row.before.is_none()) {
            // Reading the call now cannot tell an applied add from one never
            // sent without what the earlier run read before sending it.
            let why = if self.reconcile {
                "the interrupted run did not read the call before (it ran without --reconcile)"
            } else {
                "not read back without --reconcile"
            };
            return Next::Done(Status::Unknown, in_doubt_reason(unsafe_fields, &format!("{why}{audit_note}")));
        }
        if !self.reconcile {
            return Next::Send(Box::new(row.update.clone()));
        }
        let in_window = self.window.get().and_then(|w| w.get(&row.update.call));
        let before = match (&row.before, in_window) {
            (Some(before), _) if row.in_doubt => before.clone(),
            (_, Some(snapshot)) => snapshot.clone(),
            _ => match self.read(out, jitter).await {
                Ok(s) => s,
                Err(end) => return end.into(),
            },
        };
        if in_doubt_unsafe {
            // An earlier run may have sent this: read the call to see.
            let sent = diff(&row.update, &before);
            let now = match self.read(out, jitter).await {
                Ok(s) => s,
                Err(end) => return end.into(),
            };
            match verify(&sent, &before, &now) {
                Verdict::Applied => {
                    out.before = Some(before);
                    out.after = Some(now);
                    out.sent = Some(sent);
                    return Next::Done(Status::Ok, "verified: an earlier run applied it (read back)".into());
                }
                Verdict::NotApplied => {}
                Verdict::Unclear(details) => {
                    out.before = Some(before);
                    out.after = Some(now);
                    return Next::Done(Status::Unknown, in_doubt_reason(unsafe_fields, &details));
                }
            }
        }
        let update = diff(&row.update, &before);
        if update.is_empty() {
            out.before = Some(before.clone());
            out.after = Some(before);
            return Next::Done(Status::Unchanged, String::new());
        }
        if self.plan {
            out.after = Some(project(&update, &before));
            out.before = Some(before);
            out.sent = Some(update);
            return Next::Done(Status::WouldChange, String::new());
        }
        out.before = Some(before);
        Next::Send(Box::new(update))
    }

    /// Sends `update`, with retries; an ambiguous outcome of a row that must
    /// not be sent twice is settled by reading the call back, or left `unknown`.
    async fn write(
        &self,
        mut out: RowOutcome,
        update: CallUpdate,
        unsafe_fields: &[&str],
        jitter: &mut u64,
    ) -> RowOutcome {
        let url = self.endpoint.url(&update.call);
        let body = update.body_bytes();
        let before_json = out.before.as_ref().map(snapshot_json);
        out.sent = Some(update.clone());
        let mut resent_after_read_back = false;
        loop {
            let safe = unsafe_fields.is_empty();
            let request = Request::Write { url: &url, body: &body, safe, before: before_json.as_deref() };
            let reason = match self.request(&mut out, jitter, request).await {
                Step::Done(body, truncated) => {
                    // The server said it applied: `ok`, whatever the body holds.
                    out.after = if truncated { None } else { Snapshot::parse(&body) };
                    return finish(out, Status::Ok, not_understood(&body, truncated).unwrap_or_default());
                }
                Step::Final(status, error) => return finish(out, status, error),
                Step::Stopped => return self.stopped(out),
                Step::Ambiguous(reason) => reason,
            };
            match self.read_back(&mut out, &update, &reason, unsafe_fields, jitter).await {
                Verdict::NotApplied if !resent_after_read_back => {
                    // Read back unchanged: not applied. Send it again, once.
                    resent_after_read_back = true;
                    out.after = None;
                }
                Verdict::NotApplied => {
                    let error = format!("{reason}; read back unchanged twice: not applied, safe to run again");
                    return finish(out, Status::Failed, error);
                }
                Verdict::Applied => {
                    return finish(out, Status::Ok, format!("verified by reading the call back after: {reason}"));
                }
                Verdict::Unclear(error) if !self.reconcile || out.intent_at.is_none() => {
                    return finish(out, Status::Unknown, error);
                }
                // The values cannot tell (another writer, a webhook refire):
                // the audit log can.
                Verdict::Unclear(error) => match self.audit(&mut out, &update, jitter).await {
                    Ok(Evidence::Applied(n)) => {
                        return finish(out, Status::Ok, applied_note(n, &format!("applied after: {reason}")));
                    }
                    Ok(Evidence::NotApplied) if !resent_after_read_back => {
                        resent_after_read_back = true;
                        out.after = None;
                    }
                    Ok(Evidence::NotApplied) => {
                        let error = format!("{reason}; not in the audit log twice: not applied, safe to run again");
                        return finish(out, Status::Failed, error);
                    }
                    Err(None) => return self.stopped(out),
                    Ok(Evidence::Unclear(why)) | Err(Some((_, why))) => {
                        return finish(out, Status::Unknown, format!("{error}; audit log: {why}"));
                    }
                },
            }
        }
    }

    /// Reads the call's events and weighs its audit entries for `update`,
    /// sent by this row since its intent. `Err` as for `read`.
    async fn audit(
        &self,
        out: &mut RowOutcome,
        update: &CallUpdate,
        jitter: &mut u64,
    ) -> Result<Evidence, Option<(Status, String)>> {
        let url = self.endpoint.events_url(&out.call);
        let since_ms = out.intent_at.unwrap_or(0);
        let request =
            audit::Request { method: self.endpoint.method.as_str(), call: out.call.to_string(), update, since_ms };
        match self.request(out, jitter, Request::Read(&url)).await {
            Step::Done(_, true) => {
                Ok(Evidence::Unclear(format!("the events response is over {MAX_RESPONSE_BYTES} bytes")))
            }
            Step::Done(body, false) => Ok(audit::weigh(&body, &request)),
            Step::Final(_, error) | Step::Ambiguous(error) => {
                Err(Some((Status::Failed, format!("reading the call's events: {error}"))))
            }
            Step::Stopped => Err(None),
        }
    }

    /// After an ambiguous write: reads the call back (when what it held
    /// before is known) to see whether `update` was applied. `Unclear`
    /// carries the row's whole error text.
    async fn read_back(
        &self,
        out: &mut RowOutcome,
        update: &CallUpdate,
        reason: &str,
        unsafe_fields: &[&str],
        jitter: &mut u64,
    ) -> Verdict {
        let Some(before) = out.before.clone() else {
            return Verdict::Unclear(unknown_reason(reason, unsafe_fields));
        };
        let Ok(now) = self.read(out, jitter).await else {
            return Verdict::Unclear(unknown_reason(reason, unsafe_fields));
        };
        let verdict = match verify(update, &before, &now) {
            Verdict::Unclear(details) => Verdict::Unclear(format!("{reason}; read back: {details}")),
            other => other,
        };
        out.after = Some(now);
        verdict
    }

    /// GETs the call, with retries. `Err(Some(..))` is the row's final
    /// status and why; `Err(None)`, the job stopped.
    async fn read(&self, out: &mut RowOutcome, jitter: &mut u64) -> Result<Snapshot, Option<(Status, String)>> {
        let url = self.endpoint.read_url(&out.call);
        let failed = |status, why: String| Err(Some((status, format!("reading the call: {why}"))));
        match self.request(out, jitter, Request::Read(&url)).await {
            Step::Done(body, truncated) => match Snapshot::parse(&body).filter(|_| !truncated) {
                Some(s) => Ok(s),
                None => {
                    failed(Status::Failed, not_understood(&body, truncated).unwrap_or("no call in the response".into()))
                }
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
            Step::Done(_, true) => Err(format!("{url}: the response is over {MAX_RESPONSE_BYTES} bytes")),
            Step::Done(body, false) => serde_json::from_str(&body).map_err(|e| format!("{url}: not JSON ({e})")),
            Step::Final(_, error) | Step::Ambiguous(error) => Err(format!("{url}: {error}")),
            Step::Stopped => Err(format!("{url}: the job stopped")),
        }
    }

    /// One request, retried while that is safe.
    async fn request(&self, out: &mut RowOutcome, jitter: &mut u64, request: Request<'_>) -> Step {
        let mut tries = 0u32;
        loop {
            let permit = match self.admit(out, &request).await {
                Ok(Some(permit)) => permit,
                Ok(None) => continue,
                Err(step) => return step,
            };
            tries += 1;
            out.attempts += 1;
            out.writes += u32::from(matches!(request, Request::Write { .. }));
            let (attempt, latency) = match &request {
                Request::Read(url) => self.client.get(url).await,
                Request::Write { url, body, .. } => self.client.send(url, body.to_vec()).await,
            };
            drop(permit);
            self.gate.observe(answer_of(&attempt), latency);
            out.latency = Some(latency);
            out.http_status = match &attempt {
                Attempt::Response { status, .. } => Some(*status),
                _ => None,
            };
            let retry_reason = match self.judge(out, attempt, &request) {
                Ok(reason) => reason,
                Err(step) => return step,
            };
            if let Err(step) = self.back_off(out, tries, retry_reason, jitter).await {
                return step;
            }
        }
    }

    /// Waits for the gate and a send slot. `Ok(None)`: let through too long
    /// ago or paused meanwhile, go through the gate again. The intent of a
    /// write is made durable here, before its first send.
    async fn admit(
        &self,
        out: &mut RowOutcome,
        request: &Request<'_>,
    ) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, Step> {
        tokio::select! {
            biased;
            _ = self.stop.stopped() => return Err(Step::Stopped),
            _ = self.gate.admit() => {}
        }
        // Stopped while waiting for the gate: do not send.
        if self.stop.is_stopped() {
            return Err(Step::Stopped);
        }
        let admitted = std::time::Instant::now();
        // The intent is durable before the first send, and written only
        // once the gate lets the row through: rows waiting on the rate
        // limit are not in doubt after a crash.
        if matches!(request, Request::Write { .. }) && out.intent_at.is_none() {
            out.intent_at = Some(now_ms());
        }
        if let (Request::Write { before, .. }, Some(journal), false) = (request, &self.journal, out.intent_journaled) {
            let at = out.intent_at.unwrap_or_else(now_ms);
            if let Err(e) = journal.intent(out.line, at, *before).await {
                self.stop.trigger(StopReason::Aborted(format!("cannot write the journal: {e}")));
                return Err(Step::Final(Status::NotSent, format!("cannot write the journal: {e}")));
            }
            out.intent_journaled = true;
        }
        // Send slots are taken after the journal intent's sync, so the
        // slots stay busy with requests while the journal syncs.
        let permit = tokio::select! {
            biased;
            _ = self.stop.stopped() => return Err(Step::Stopped),
            permit = self.permits.acquire() => permit.expect("the send semaphore is never closed"),
        };
        // A 429 may have paused everyone while this row waited for a slot.
        // And a row the limiter let through long ago (the machine stalled
        // while its intent synced or it waited for a slot) goes through
        // the limiter again: sent now, together with the others held up,
        // they would burst past the rate.
        if self.gate.is_paused() || (self.gate.is_limited() && admitted.elapsed() > STALE_ADMISSION) {
            return Ok(None);
        }
        // Counted here, when the request really goes out: a row sent back
        // through the gate (paused by a 429) is not a new first attempt, and
        // each one would have grown the retry budget.
        if out.attempts == 0 {
            self.budget.first_attempt();
        }
        Ok(Some(permit))
    }

    /// What an attempt means for the row: `Err` ends the request with that
    /// step; `Ok` is the reason to retry.
    fn judge(&self, out: &RowOutcome, attempt: Attempt, request: &Request<'_>) -> Result<String, Step> {
        if let Attempt::ConnectFailed(e) = &attempt
            && lasting_connect_error(e)
        {
            let why = format!("cannot connect to {}: {}", self.endpoint.host(), connect_words(e));
            self.stop.trigger(StopReason::Aborted(why.clone()));
            return Err(Step::Final(Status::Failed, why));
        }
        match classify(&attempt) {
            Class::Done => {
                let Attempt::Response { body, truncated, .. } = attempt else {
                    unreachable!("Done comes from a response")
                };
                Err(Step::Done(body, truncated))
            }
            Class::Rejected => Err(Step::Final(Status::Rejected, response_text(&attempt))),
            Class::AuthFailed => {
                let status = out.http_status.unwrap_or_default();
                self.stop.trigger(StopReason::Aborted(format!(
                    "the API answered {status}: check the API keys and that they may update calls"
                )));
                Err(Step::Final(Status::Rejected, response_text(&attempt)))
            }
            Class::Throttled(wait) => {
                self.gate.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Everyone waits, not just this row; the backoff covers a
                // 429 that named no time.
                if let Some(wait) = wait {
                    self.gate.pause(wait);
                }
                Ok("throttled (429)".to_string())
            }
            Class::Retryable(reason) => Ok(reason),
            Class::Ambiguous(reason) => match request {
                Request::Write { safe: false, .. } => Err(Step::Ambiguous(reason)),
                _ => Ok(reason),
            },
        }
    }

    /// Before a retry: within `--max-retries` and the job-wide budget, waits
    /// the backoff; `Err` ends the request.
    async fn back_off(
        &self,
        out: &mut RowOutcome,
        tries: u32,
        retry_reason: String,
        jitter: &mut u64,
    ) -> Result<(), Step> {
        if tries > self.max_retries {
            return Err(Step::Final(Status::Failed, format!("{retry_reason}; gave up after {tries} attempts")));
        }
        if !self.budget.try_spend() {
            self.stop.trigger(StopReason::Aborted(
                "the job-wide retry budget is spent: the API keeps failing, so the job stopped".into(),
            ));
            return Err(Step::Final(Status::Failed, format!("{retry_reason}; retry budget spent")));
        }
        let delay = self.backoff.delay(tries, draw(jitter));
        out.error = retry_reason;
        tokio::select! {
            biased;
            _ = self.stop.stopped() => Err(Step::Stopped),
            _ = tokio::time::sleep(delay) => Ok(()),
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

/// Why a 2xx body cannot be read as a call, if it cannot: the row is `ok`
/// (the status says applied) but its after-values are unknown.
fn not_understood(body: &str, truncated: bool) -> Option<String> {
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

/// What an attempt tells `--rate auto` about the pace.
fn answer_of(attempt: &Attempt) -> Answer {
    match attempt {
        Attempt::Response { status: 429, .. } => Answer::Throttled,
        Attempt::Response { status: 500..=599, .. } => Answer::Failed,
        Attempt::Response { .. } => Answer::Accepted,
        Attempt::ConnectFailed(_) | Attempt::TimedOut | Attempt::Broken(_) => Answer::Failed,
    }
}

/// An `ok` row's note when the audit log showed it applied.
fn applied_note(times: usize, what: &str) -> String {
    match times {
        1 => format!("verified in the call's audit log: {what}"),
        n => format!("verified in the call's audit log: {what}; it shows the update applied {n} times"),
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

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
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
