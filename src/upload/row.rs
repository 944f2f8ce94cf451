//! Sending one row: the retry mechanism around `classify`. Every attempt
//! passes the gate (stop signal, server pause, rate limit); retries back off
//! with full jitter and draw on the job-wide budget; a row that changes
//! state each time it is sent is never resent after an ambiguous outcome.

use super::backoff::{Backoff, RetryBudget, draw};
use super::classify::{Attempt, Class, classify};
use super::client::{ApiClient, Endpoint};
use super::gate::{Gate, Stop, StopReason};
use super::outcome::{RowOutcome, Status, amounts_from};
use crate::journal::Journal;
use crate::update::CallUpdate;

/// A valid row on its way to the API.
#[derive(Debug, Clone)]
pub struct ValidRow {
    pub line: u64,
    pub update: CallUpdate,
    /// An earlier, interrupted run may have sent this row (`--resume`).
    pub in_doubt: bool,
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
}

/// The longest server error text kept in `results.csv`.
const MAX_ERROR_TEXT: usize = 300;

impl Sender {
    pub async fn send_row(&self, row: ValidRow) -> RowOutcome {
        let mut out = RowOutcome::new(row.line, row.update.call, Status::NotSent);
        let url = self.endpoint.url(&row.update.call);
        let body = row.update.body_bytes();
        let unsafe_fields = row.update.non_idempotent_fields();
        if row.in_doubt && !unsafe_fields.is_empty() {
            return finish(
                out,
                Status::Unknown,
                format!(
                    "an earlier run stopped after this row may have been sent; it carries {}, so it was not resent: \
                     check this call before sending it again",
                    unsafe_fields.join(", ")
                ),
            );
        }
        let mut jitter_state = row.line ^ 0x0074_6472_6563_6f6e;
        loop {
            tokio::select! {
                biased;
                _ = self.stop.stopped() => return self.stopped(out),
                _ = self.gate.admit() => {}
            }
            // Stopped while waiting for the gate: do not send.
            if self.stop.is_stopped() {
                return self.stopped(out);
            }
            if out.attempts == 0 {
                if let Some(journal) = &self.journal {
                    if let Err(e) = journal.intent(row.line).await {
                        self.stop.trigger(StopReason::Aborted(format!("cannot write the journal: {e}")));
                        return finish(out, Status::NotSent, format!("cannot write the journal: {e}"));
                    }
                    out.intent_journaled = true;
                }
                self.budget.first_attempt();
            }
            // The intent's sync happens before a send slot is taken, so the
            // slots stay busy with requests while the journal syncs.
            let permit = tokio::select! {
                biased;
                _ = self.stop.stopped() => return self.stopped(out),
                permit = self.permits.acquire() => permit.expect("the send semaphore is never closed"),
            };
            out.attempts += 1;
            let (attempt, latency) = self.client.send(&url, body.clone()).await;
            drop(permit);
            out.latency = Some(latency);
            out.http_status = match &attempt {
                Attempt::Response { status, .. } => Some(*status),
                _ => None,
            };
            let class = classify(&attempt);
            let retry_reason = match class {
                Class::Done => {
                    let Attempt::Response { body, .. } = &attempt else { unreachable!("Done comes from a response") };
                    (out.revenue, out.payout) = amounts_from(body);
                    out.status = Status::Ok;
                    out.error.clear();
                    return out;
                }
                Class::Rejected => return finish(out, Status::Rejected, response_text(&attempt)),
                Class::AuthFailed => {
                    let status = out.http_status.unwrap_or_default();
                    self.stop.trigger(StopReason::Aborted(format!(
                        "the API answered {status}: check the API keys and that they may update calls"
                    )));
                    return finish(out, Status::Rejected, response_text(&attempt));
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
                Class::Ambiguous(reason) => {
                    if !unsafe_fields.is_empty() {
                        return finish(
                            out,
                            Status::Unknown,
                            format!(
                                "{reason}; the update may have been applied and carries {}, so it was not resent: \
                                 check this call before sending it again",
                                unsafe_fields.join(", ")
                            ),
                        );
                    }
                    reason
                }
            };
            if out.attempts > self.max_retries {
                let error = format!("{retry_reason}; gave up after {} attempts", out.attempts);
                return finish(out, Status::Failed, error);
            }
            if !self.budget.try_spend() {
                self.stop.trigger(StopReason::Aborted(
                    "the job-wide retry budget is spent: the API keeps failing, so the job stopped".into(),
                ));
                return finish(out, Status::Failed, format!("{retry_reason}; retry budget spent"));
            }
            let delay = self.backoff.delay(out.attempts, draw(&mut jitter_state));
            out.error = retry_reason;
            tokio::select! {
                biased;
                _ = self.stop.stopped() => return self.stopped(out),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Records a row's outcome in the journal. Nothing is reported `ok` that
    /// is not journaled `ok`: if the record cannot be written, the job stops
    /// and an `ok` row is reported `unknown`.
    pub async fn journal_outcome(&self, mut out: RowOutcome) -> RowOutcome {
        let Some(journal) = &self.journal else { return out };
        if !out.intent_journaled && out.status == Status::NotSent {
            // Never sent and no intent recorded: the journal needs nothing.
            return out;
        }
        if let Err(e) = journal.outcome(&out).await {
            self.stop.trigger(StopReason::Aborted(format!("cannot write the journal: {e}")));
            if out.status == Status::Ok {
                out.status = Status::Unknown;
                out.error = format!("applied, but the journal could not record it ({e})");
            }
        }
        out
    }

    /// The job stopped before this row's next attempt.
    fn stopped(&self, out: RowOutcome) -> RowOutcome {
        let why = match self.stop.reason() {
            Some(StopReason::Aborted(reason)) => format!("job aborted: {reason}"),
            _ => "job interrupted".to_string(),
        };
        if out.attempts == 0 {
            finish(out, Status::NotSent, why)
        } else {
            // Every earlier attempt of this row was classified as not applied
            // or (for a row safe to resend) possibly applied: safe to run again.
            let error = format!("{}; {why}", out.error);
            finish(out, Status::Failed, error)
        }
    }
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
