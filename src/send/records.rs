//! What a row leaves in the records: its intent, made durable the first
//! time its write passes the gate (in the ledger, which may refuse it as a
//! repeat, then in the journal), and its outcome after. Nothing is reported
//! `ok` that is not journaled `ok`.

use super::row::{Ledgered, Uploader};
use super::words::now_ms;
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::outcome::{RowOutcome, Status};
use crate::records::journal::Journal;
use crate::records::ledger::{self, Recorded, Refused};
use crate::trackdrive::api::{BeforeWrite, Hold};
use crate::trackdrive::gate::StopReason;

/// A write's intent, made durable the first time it passes the gate: in
/// the ledger (which may refuse it as a repeat), then in the journal.
pub(super) struct Intent<'a> {
    /// The report's zone, to show the earlier run's time in.
    pub zone: &'a jiff::tz::TimeZone,
    pub journal: Option<&'a Journal>,
    pub ledger: Option<(&'a Ledgered, ledger::Update)>,
    /// The update's acting changes, for the ledger to judge.
    pub actions: Vec<(String, String)>,
    pub line: u64,
    /// What `--reconcile` read before, kept in the intent.
    pub before: Option<&'a str>,
    pub at: &'a mut Option<u64>,
    pub journaled: &'a mut bool,
    pub ledgered: &'a mut bool,
}

impl BeforeWrite for Intent<'_> {
    async fn before_write(&mut self) -> Result<(), Hold> {
        let at = *self.at.get_or_insert_with(now_ms);
        if let (Some((ledgered, entry)), false) = (&self.ledger, *self.ledgered) {
            let entry = ledger::Update { at, ..entry.clone() };
            let check = ledgered.check.clone().map(|c| (c, self.actions.clone()));
            match ledgered.ledger.intent(entry, check).await {
                Ok(()) => *self.ledgered = true,
                Err(Refused::Repeat(repeat)) => {
                    let applied = repeat.status() == Status::AlreadyApplied;
                    return Err(Hold::Repeat(repeat.reason(self.zone), applied));
                }
                Err(Refused::Broken(why)) => return Err(Hold::Stop(why)),
            }
        }
        if let (Some(journal), false) = (self.journal, *self.journaled) {
            journal
                .intent(self.line, at, self.before)
                .await
                .map_err(|e| Hold::Stop(format!("cannot write the journal: {e}")))?;
            *self.journaled = true;
        }
        Ok(())
    }
}

impl Uploader<'_> {
    /// `update` of `line` as the ledger records it.
    pub(super) fn ledger_update(&self, line: u64, update: &CallUpdate, at: u64) -> ledger::Update {
        ledger::Update {
            line,
            call: update.call.to_string(),
            uuid: update.named_uuid.map(|u| CallRef::Uuid(u).to_string()),
            referenced: self.references,
            changes: String::from_utf8_lossy(&update.body_bytes()).into_owned(),
            at,
        }
    }

    /// Records a row's outcome in the ledger and the journal. Nothing is
    /// reported `ok` that is not journaled `ok`: if the record cannot be
    /// written, the job stops and an `ok` row is reported `unknown`.
    pub fn journal_outcome(&self, out: RowOutcome) -> RowOutcome {
        self.ledger_outcome(&out);
        self.journal_only(out)
    }

    /// A row whose intent this run or the run it resumes recorded: `ok` and
    /// `unknown` stay in the ledger (each may have been applied); a row
    /// that was not applied leaves it.
    fn ledger_outcome(&self, out: &RowOutcome) {
        let (Some(ledgered), Some(at)) = (&self.ledger, out.intent_at) else { return };
        let Some(update) = out.sent.as_ref().or(out.update.as_ref()) else { return };
        let status = match out.status {
            Status::Ok => Some(Recorded::Ok),
            Status::Unknown => Some(Recorded::Unknown),
            // Not applied by the attempt whose intent this process recorded:
            // removed. An intent an earlier process recorded stays (a row it
            // may have applied, stopped here before being settled, must
            // still be refused to other runs); so does nothing recorded.
            _ if out.intent_ledgered => None,
            _ => return,
        };
        // The whole update, so an outcome whose intent the ledger lacks (a
        // run journaled before it, another state directory) is recorded too.
        ledgered.ledger.outcome(out.line, status, Some(self.ledger_update(out.line, update, at)));
    }

    fn journal_only(&self, mut out: RowOutcome) -> RowOutcome {
        let Some(journal) = &self.journal else { return out };
        if !out.intent_journaled && out.status == Status::NotSent {
            // Never sent and no intent recorded: the journal needs nothing.
            return out;
        }
        if let Err(e) = journal.outcome(&out) {
            self.api.stop.trigger(StopReason::Aborted(format!("cannot write the journal: {e}")));
            if out.status == Status::Ok {
                out.status = Status::Unknown;
                out.error = format!("applied, but the journal could not record it ({e})");
            }
        }
        out
    }
}
