//! Settling a row that may or may not have been applied: reading its call's
//! audit log, every page of it, and weighing it (`send::evidence`) with
//! what else is known: whether this account's log records references (seen
//! once on a row this run applied, then kept in the journal), whether the
//! call's values are still those read before it was sent, how long since
//! its intent, and the server's clock (from its `Date` headers). Costs one
//! events read, and its pages, per row in doubt. And before a row that acts
//! is written, its call's log is read for the same change by another run
//! (`before_acting`): the record every machine shares. An account whose
//! events come whole (it ignores `page`) is read one request a call.

use std::sync::atomic::Ordering;

use super::row::{Earlier, End, Uploader, ValidRow};
use super::words::{applied_note, finish, in_doubt_reason, now_ms};
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::outcome::{RowOutcome, Status};
use crate::send::diff::{diff, verify};
use crate::send::evidence::Evidence;
use crate::send::evidence::{self as audit, Knowledge, Log};
use crate::trackdrive::Snapshot;
use crate::trackdrive::events::Unread;
use crate::trackdrive::reply::Exchange;

impl Uploader<'_> {
    /// A row an interrupted run may have sent, with an add or an action:
    /// `Ok` with the call as it is now when the evidence shows it was not
    /// applied (it is sent), else the row's end (`ok` when applied, `unknown`
    /// when the evidence cannot tell).
    pub(super) async fn settle_in_doubt(
        &self,
        row: &ValidRow,
        unsafe_fields: &[&str],
        out: &mut RowOutcome,
        jitter: &mut u64,
    ) -> Result<Snapshot, End> {
        // A call that cannot be read leaves the row in doubt: `unknown`, not
        // `failed` (which a resume would send again as if new).
        let now = match self.read(out, jitter).await {
            Ok(now) => now,
            Err(End::Row(_, why)) => return Err(End::Row(Status::Unknown, in_doubt_reason(unsafe_fields, &why))),
            Err(End::Stopped) => return Err(End::Stopped),
        };
        let values = row.before.as_ref().map(|before| verify(&diff(&row.update, before), before, &now));
        let unchanged = values.as_ref().map(|v| *v == Evidence::NotApplied);
        let evidence = match row.intent_at {
            Some(_) => self.audit(out, &row.update, unchanged, row.finished, jitter).await,
            None => Err(End::Row(Status::Unknown, "the interrupted run recorded no time for its intent".into())),
        };
        out.before = Some(row.before.clone().unwrap_or_else(|| now.clone()));
        out.after = Some(now.clone());
        let why = match evidence {
            Ok((Evidence::Applied(n), _)) => {
                out.sent = Some(row.update.clone());
                return Err(End::Row(Status::Ok, applied_note(n, "an earlier run applied it")));
            }
            Ok((Evidence::NotApplied, log)) => {
                out.maybe_applied = None;
                // Not applied, but another run made the same change since.
                if let Some(found) = self.foreign_change(&log, out.call, out.line, &row.update) {
                    let why = format!(
                        "an earlier run's attempt was not applied; {}",
                        found.reason(&out.call.to_string(), &self.zone)
                    );
                    return Err(End::Row(Status::AlreadyApplied, why));
                }
                return Ok(now);
            }
            Err(End::Stopped) => return Err(End::Stopped),
            Ok((Evidence::Unclear(why), _)) | Err(End::Row(_, why)) => why,
        };
        if values == Some(Evidence::Applied(1)) {
            out.sent = Some(row.update.clone());
            let note =
                format!("verified: an earlier run applied it (read back: moved by exactly this row; audit log: {why})");
            return Err(End::Row(Status::Ok, note));
        }
        let before = if row.before.is_none() { "; the interrupted run did not read the call before it" } else { "" };
        Err(End::Row(Status::Unknown, in_doubt_reason(unsafe_fields, &format!("audit log: {why}{before}"))))
    }

    /// Reads the call's events and weighs its audit entries for `update`,
    /// sent by this row since its intent; `values_unchanged` says whether
    /// the call still holds what was read before it was sent, `finished`
    /// whether every attempt was answered or had its connection closed.
    pub(super) async fn audit(
        &self,
        out: &mut RowOutcome,
        update: &CallUpdate,
        values_unchanged: Option<bool>,
        finished: bool,
        jitter: &mut u64,
    ) -> Result<(Evidence, Log), End> {
        let mut log = self.read_log(out.call, &mut out.exchange, jitter).await?;
        // A reference in the log, this run's or another's, shows the
        // account records the parameter: this row's would be there too.
        if log.shows_references() {
            self.echo_proven();
        }
        let reference = self.reference(out.line);
        let request = audit::Request {
            method: self.api.endpoint.method.as_str(),
            call: out.call.to_string(),
            update,
            reference: reference.as_deref(),
        };
        let intent = out.intent_at.unwrap_or(0);
        let lag_ms = u64::try_from(self.audit_lag.as_millis()).unwrap_or(u64::MAX);
        let knowledge = |echoed: bool| Knowledge {
            echoed,
            values_unchanged,
            since_intent_ms: now_ms().saturating_sub(intent),
            finished,
            intent_on_server_ms: self.api.server_skew_ms().map(|skew| i64::try_from(intent).unwrap_or(i64::MAX) + skew),
            lag_ms,
        };
        let mut known = knowledge(self.echoed.load(Ordering::Relaxed));
        let mut evidence = audit::weigh(&log, &request, &known);
        // Not seen recording references yet: look once, on a row applied.
        if matches!(evidence, Evidence::Unclear(_))
            && !known.echoed
            && reference.is_some()
            && self.check_echo(&mut out.exchange, jitter).await
        {
            known.echoed = true;
            evidence = audit::weigh(&log, &request, &known);
        }
        // Unclear only because a write may still land: wait until it cannot
        // (the lag since the intent), then look again, once.
        let later = Knowledge { since_intent_ms: lag_ms, ..known };
        if matches!(evidence, Evidence::Unclear(_)) && audit::weigh(&log, &request, &later) == Evidence::NotApplied {
            let wait = std::time::Duration::from_millis(lag_ms.saturating_sub(known.since_intent_ms));
            tokio::select! {
                biased;
                _ = self.api.stop.stopped() => return Err(End::Stopped),
                _ = tokio::time::sleep(wait) => {}
            }
            log = self.read_log(out.call, &mut out.exchange, jitter).await?;
            evidence = audit::weigh(&log, &request, &knowledge(known.echoed));
        }
        Ok((evidence, log))
    }

    /// Before a row that acts is sent: its call's id is known, and the
    /// call's audit log (every page) shows no update of another run, from
    /// any machine, that made the same change within `--repeat-window`.
    /// TrackDrive's log is the record every machine shares: the ledger is
    /// this machine's memory of it, never the only guard. A log showing the
    /// row's own reference (the run this resumes applied it) ends it `ok`;
    /// a log that cannot be read leaves it unsent (`failed`, safe to run
    /// again), never sent on a guess.
    pub(super) async fn before_acting(
        &self,
        update: &CallUpdate,
        out: &mut RowOutcome,
        jitter: &mut u64,
    ) -> Result<(), End> {
        if let CallRef::Uuid(uuid) = update.call
            && let Some(why) = self.unread_uuids.get(&uuid)
        {
            let why = format!("the id of call {} could not be read ({why}): not sent, safe to run again", update.call);
            return Err(End::Row(Status::Failed, why));
        }
        if self.log_check.is_none() || !self.log_before_acting {
            return Ok(());
        }
        self.checked.fetch_add(1, Ordering::Relaxed);
        let read = self.read_log(out.call, &mut out.exchange, jitter).await;
        // A call the API does not have cannot take the add: final, not a
        // failure to run again (a retry would meet the same 404).
        let missing = out.exchange.http_status == Some(404);
        let log = read.map_err(|end| match end {
            End::Row(_, why) if missing => End::Row(
                Status::Rejected,
                format!("{why}: not sent (the API has no such call, or no audit log for it)"),
            ),
            End::Row(_, why) => End::Row(
                Status::Failed,
                format!(
                    "{why}: not sent (a row that acts is checked against its call's audit log first); safe to run again"
                ),
            ),
            stopped => stopped,
        })?;
        if log.shows_references() {
            self.echo_proven();
        }
        if let Some(reference) = self.reference(out.line)
            && let n @ 1.. = log.count_reference(&reference)
        {
            out.sent = Some(update.clone());
            return Err(End::Row(Status::Ok, applied_note(n, "the run this resumes applied it")));
        }
        if let Some(found) = self.foreign_change(&log, out.call, out.line, update) {
            self.refused_by_log.fetch_add(1, Ordering::Relaxed);
            return Err(End::Row(Status::AlreadyApplied, found.reason(&out.call.to_string(), &self.zone)));
        }
        Ok(())
    }

    /// The same change as `update`'s, made to `call` by another run within
    /// `--repeat-window` (by the server's clock), if `log` shows one. With
    /// `--no-reference` any update counts (it may be someone else's);
    /// `None` with `--allow-repeat`.
    pub(super) fn foreign_change(
        &self,
        log: &Log,
        call: CallRef,
        line: u64,
        update: &CallUpdate,
    ) -> Option<audit::SameChange> {
        let window = i64::try_from(self.log_check?.as_millis()).unwrap_or(i64::MAX);
        let now_on_server = i64::try_from(now_ms()).unwrap_or(i64::MAX) + self.api.server_skew_ms().unwrap_or(0);
        let reference = self.reference(line);
        let request = audit::Request {
            method: self.api.endpoint.method.as_str(),
            call: call.to_string(),
            update,
            reference: reference.as_deref(),
        };
        audit::same_change(log, &request, now_on_server.saturating_sub(window), self.references)
    }

    /// Reads every page of `call`'s events (`trackdrive::events`) as a log.
    /// A row an earlier run applied, or may have: never sent. One whose
    /// earlier outcome is unknown is settled, when it can be, by that run's
    /// reference in the call's audit log (a run killed before its outcome
    /// reached the ledger leaves it `sent`): found, the change is on the
    /// call, `already_applied`; not found, it stays `unknown` for a person
    /// (absence is no proof while the log may lag).
    pub(super) async fn earlier_run(&self, mut out: RowOutcome, earlier: Earlier) -> RowOutcome {
        let (Some(reference), Status::Unknown) = (&earlier.reference, earlier.status) else {
            return finish(out, earlier.status, earlier.why);
        };
        if self.log_check.is_none() {
            return finish(out, earlier.status, earlier.why);
        }
        let mut jitter = out.line ^ 0x0074_6472_6563_6f6e;
        match self.read_log(out.call, &mut out.exchange, &mut jitter).await {
            Ok(log) if log.count_reference(reference) > 0 => {
                let why = format!(
                    "{}; the call's audit log shows that run's update ({reference}): applied, not sent again",
                    earlier.why
                );
                finish(out, Status::AlreadyApplied, why)
            }
            Err(End::Stopped) => self.stopped(out),
            _ => finish(out, earlier.status, earlier.why),
        }
    }

    async fn read_log(&self, call: CallRef, exchange: &mut Exchange, jitter: &mut u64) -> Result<Log, End> {
        match self.events.read(self.api, call, exchange, jitter).await {
            Ok(pages) => Log::read(&pages.docs, pages.complete).map_err(events_failed),
            Err(Unread::Stopped) => Err(End::Stopped),
            Err(Unread::Failed(why)) => Err(events_failed(why)),
        }
    }

    /// Whether this account's log records references: looked at once, in
    /// the log of a row this run applied (a `Date`-independent proof);
    /// remembered, and kept in the journal for a resume.
    async fn check_echo(&self, exchange: &mut Exchange, jitter: &mut u64) -> bool {
        let mut looked = self.echo_looked.lock().await;
        if let Some(found) = *looked {
            return found;
        }
        let example = *self.applied.lock().unwrap_or_else(|p| p.into_inner());
        let Some((call, line)) = example else { return false };
        let Some(reference) = self.reference(line) else { return false };
        match self.read_log(call, exchange, jitter).await {
            Ok(log) => {
                // A log read whole or in part answers for the run: the
                // reference of a row applied is there or is not.
                let found = log.count_reference(&reference) > 0;
                if found {
                    self.echo_proven();
                }
                *looked = Some(found);
                found
            }
            // Not read (a failure, the job stopping): another row may look.
            Err(_) => false,
        }
    }

    /// The account's log records this run's references: remembered.
    fn echo_proven(&self) {
        if !self.echoed.swap(true, Ordering::Relaxed)
            && let Some(journal) = &self.journal
        {
            // Kept for a resume; a journal that cannot take it fails its
            // next record anyway, and the job stops then.
            let _ = journal.echoed();
        }
    }
}

fn events_failed(why: String) -> End {
    End::Row(Status::Failed, format!("reading the call's events: {why}"))
}
