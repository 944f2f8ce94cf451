//! Writing one row: its intent made durable before each request passes
//! (`records`), the request with its retries, and an ambiguous answer
//! settled for a row that must not be sent twice: read back (with
//! `--reconcile`), then its call's audit log; sent once more only on
//! evidence that it was not applied, else `unknown`.

use super::evidence::Evidence;
use super::records::Intent;
use super::row::{End, Ledgered, Uploader};
use super::words::{applied_note, finish, not_understood, refuses_reference, unknown_reason};
use crate::input::fields::REFERENCE_PARAM;
use crate::input::update::CallUpdate;
use crate::outcome::{RowOutcome, Status};
use crate::send::diff::{contradictions, verify};
use crate::trackdrive::api::Request;
use crate::trackdrive::gate::StopReason;
use crate::trackdrive::reply::Reply;
use crate::trackdrive::snapshot::{Answer, read_answer};

/// What settling an ambiguous answer leaves to do.
enum Settled {
    /// The row ends so, with why.
    End(Status, String),
    /// The job stopped first.
    Stopped,
    /// Shown not applied: send it once more.
    Resend,
}

impl Uploader<'_> {
    /// Sends `update`, with retries; an ambiguous outcome of a row that must
    /// not be sent twice is settled by reading the call back and its audit
    /// log, or left `unknown`.
    pub(super) async fn write_row(
        &self,
        mut out: RowOutcome,
        update: CallUpdate,
        unsafe_fields: &[&str],
        jitter: &mut u64,
    ) -> RowOutcome {
        let url = self.api.endpoint.url(&update.call);
        let reference = self.reference(out.line);
        let body = update.body_bytes_with(reference.as_deref());
        let before_json = out.before.as_ref().map(|s| s.to_json().to_string());
        out.sent = Some(update.clone());
        // Set once the audit log showed an attempt not applied and the row
        // was sent again: why, for the row's note.
        let mut resent_after: Option<String> = None;
        let actions = match &self.ledger {
            Some(Ledgered { check: Some(_), .. }) if !unsafe_fields.is_empty() => update.actions(),
            _ => Vec::new(),
        };
        loop {
            let request = Request::Write { url: &url, body: &body, safe: unsafe_fields.is_empty() };
            let mut intent = Intent {
                zone: &self.zone,
                journal: self.journal.as_ref(),
                // A row safe to resend needs no intent there: its outcome is
                // recorded (what the ledger guards acts each time it is sent).
                ledger: self
                    .ledger
                    .as_ref()
                    .filter(|_| !unsafe_fields.is_empty())
                    .map(|l| (l, self.ledger_update(out.line, &update, 0))),
                actions: actions.clone(),
                line: out.line,
                before: before_json.as_deref(),
                at: &mut out.intent_at,
                journaled: &mut out.intent_journaled,
                ledgered: &mut out.intent_ledgered,
            };
            let reason = match self.api.request(request, &mut out.exchange, &mut intent, jitter).await {
                Reply::Done(body, truncated) => {
                    let mut out = self.done(out, &update, &body, truncated, unsafe_fields);
                    if let (Some(why), Status::Ok, true) = (&resent_after, out.status, out.error.is_empty()) {
                        out.error =
                            format!("sent again: the call's audit log showed the first attempt ({why}) not applied");
                    }
                    return out;
                }
                Reply::Refused(error) if refuses_reference(&out, &error) => {
                    let why = format!(
                        "the API refused the parameter {REFERENCE_PARAM} ({error}): run again with --no-reference \
                         to send updates without it (an update in doubt then has less to be settled by)"
                    );
                    self.api.stop.trigger(StopReason::Aborted(why.clone()));
                    return finish(out, Status::Failed, format!("{why}; not applied, safe to run again"));
                }
                Reply::Refused(error) => return finish(out, Status::Rejected, error),
                // Held back by another run's record: nothing of this row was
                // recorded or sent, so the ledger gets no outcome of it.
                Reply::Repeat(why, applied) => {
                    out.intent_at = None;
                    return finish(out, if applied { Status::AlreadyApplied } else { Status::Unknown }, why);
                }
                Reply::Failed(error) => return finish(out, Status::Failed, error),
                Reply::Stopped => return self.stopped(out),
                Reply::Ambiguous(reason) => reason,
            };
            match self.settle_ambiguous(&mut out, &update, &reason, unsafe_fields, resent_after.is_some(), jitter).await
            {
                Settled::End(status, error) => return finish(out, status, error),
                Settled::Stopped => return self.stopped(out),
                Settled::Resend => {
                    resent_after = Some(reason);
                    out.maybe_applied = None;
                    out.after = None;
                }
            }
        }
    }

    /// An ambiguous answer (`reason`) to `update`: from now until evidence
    /// shows otherwise, whatever ends the row (the job stopping included)
    /// leaves it `unknown`. The call's values, where what it held before is
    /// known (`--reconcile`), then its audit log, decide; only evidence
    /// that it was not applied sends it again, once (`resent`: it was).
    async fn settle_ambiguous(
        &self,
        out: &mut RowOutcome,
        update: &CallUpdate,
        reason: &str,
        unsafe_fields: &[&str],
        resent: bool,
        jitter: &mut u64,
    ) -> Settled {
        out.maybe_applied = Some(reason.to_string());
        // An attempt that was answered or had its connection closed is
        // over on the server's side; one that timed out may not be.
        let answered = !out.exchange.timed_out;
        let values = self.read_back(out, update, reason, jitter).await;
        if let Some(Evidence::Applied(_)) = values {
            return Settled::End(Status::Ok, format!("verified by reading the call back after: {reason}"));
        }
        if out.intent_at.is_none() {
            return Settled::End(Status::Unknown, unknown_reason(reason, unsafe_fields));
        }
        let unchanged = values.as_ref().map(|v| matches!(v, Evidence::NotApplied));
        match self.audit(out, update, unchanged, answered, jitter).await {
            Ok((Evidence::Applied(n), _)) => {
                Settled::End(Status::Ok, applied_note(n, &format!("applied after: {reason}")))
            }
            // Not applied, but another run has made the same change
            // meanwhile: this one is not sent again.
            Ok((Evidence::NotApplied, log))
                if let Some(found) = self.foreign_change(&log, out.call, out.line, update) =>
            {
                out.maybe_applied = None;
                Settled::End(
                    Status::AlreadyApplied,
                    format!("{reason}; not applied; {}", found.reason(&out.call.to_string(), &self.zone)),
                )
            }
            Ok((Evidence::NotApplied, _)) if !resent => Settled::Resend,
            Ok((Evidence::NotApplied, _)) => {
                out.maybe_applied = None;
                Settled::End(Status::Failed, format!("{reason}; not applied twice (audit log): safe to run again"))
            }
            Err(End::Stopped) => Settled::Stopped,
            Ok((Evidence::Unclear(why), _)) | Err(End::Row(_, why)) => {
                let values = match (&values, unchanged) {
                    (None, _) => "",
                    (Some(Evidence::Unclear(details)), _) => &format!("; read back: {details}"),
                    (_, Some(true)) => "; read back unchanged",
                    _ => "; read back moved otherwise",
                };
                Settled::End(
                    Status::Unknown,
                    unknown_reason(&format!("{reason}{values}; audit log: {why}"), unsafe_fields),
                )
            }
        }
    }

    /// A 2xx: `ok`, unless its body says the update did not take (a non-2xx
    /// `status` or an `errors` in it: `rejected`, with why) or the call it
    /// returns contradicts a value that was set (not applied as sent:
    /// `failed` when the row is safe to send again, `unknown` when it also
    /// adds or fires something, which may have been applied).
    fn done(
        &self,
        mut out: RowOutcome,
        update: &CallUpdate,
        body: &str,
        truncated: bool,
        unsafe_fields: &[&str],
    ) -> RowOutcome {
        let status = out.exchange.http_status.unwrap_or(200);
        let answer = if truncated { Answer::default() } else { read_answer(body) };
        if let Some(why) = answer.refusal() {
            return finish(out, Status::Rejected, format!("{status}, but the body says it did not take: {why}"));
        }
        out.after = answer.call;
        let contradicted = out.after.as_ref().map(|after| contradictions(update, after)).unwrap_or_default();
        if !contradicted.is_empty() {
            let what = contradicted.join("; ");
            return if unsafe_fields.is_empty() {
                finish(out, Status::Failed, format!("{status}, but not applied as sent ({what}); safe to run again"))
            } else {
                let error = format!(
                    "{status}, but not applied as sent ({what}); {}",
                    unknown_reason("the call does not show what was set", unsafe_fields)
                );
                finish(out, Status::Unknown, error)
            };
        }
        if self.references {
            let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
            applied.get_or_insert((out.call, out.line));
        }
        finish(out, Status::Ok, not_understood(body, truncated).unwrap_or_default())
    }

    /// After an ambiguous write: reads the call back, when what it held
    /// before is known, to see whether `update` was applied (`None`: nothing
    /// to compare with, or the call could not be read).
    async fn read_back(
        &self,
        out: &mut RowOutcome,
        update: &CallUpdate,
        reason: &str,
        jitter: &mut u64,
    ) -> Option<Evidence> {
        let before = out.before.clone()?;
        let now = self.read(out, jitter).await.ok()?;
        let evidence = match verify(update, &before, &now) {
            Evidence::Unclear(details) => Evidence::Unclear(format!("{reason}; {details}")),
            other => other,
        };
        out.after = Some(now);
        Some(evidence)
    }
}
