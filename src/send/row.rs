//! Sending one row: what it may already have done, what it sends, and what
//! an ambiguous answer means for it. Every request goes through the `Api`
//! (gate, retries); a write's intent is journaled before it is sent; a row
//! that changes state each time it is sent is never resent after an
//! ambiguous outcome, unless reading the call back or its audit log
//! (`--reconcile`) shows it was not applied.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};

use tokio::sync::OnceCell;

use super::words::{finish, in_doubt_reason, not_understood};
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::outcome::{RowOutcome, Status};
use crate::records::journal::Journal;
use crate::records::ledger::{Check, Ledger};
use crate::send::diff::{diff, project};
use crate::trackdrive::Snapshot;
use crate::trackdrive::api::{Api, NoHook, Request};
use crate::trackdrive::events::Events;
use crate::trackdrive::gate::StopReason;
use crate::trackdrive::reply::Reply;
use crate::trackdrive::window::Window;

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
    /// That earlier run's last attempt was answered or its connection
    /// closed: the server is not still working on it.
    pub finished: bool,
    /// The ledger says an earlier run applied this row's add, fire or
    /// transcription (`already_applied`), or may have (`unknown`): how it
    /// ends, and why. Never sent.
    pub applied_before: Option<Earlier>,
}

/// An earlier run's update that a row repeats, as the ledger showed it.
#[derive(Debug, Clone)]
pub struct Earlier {
    pub status: Status,
    pub why: String,
    /// Its reference, when its outcome is unknown: the call's audit log
    /// may show it applied.
    pub reference: Option<String>,
}

/// How a row ends without (another) write.
#[derive(Debug)]
pub(super) enum End {
    /// With this status and why.
    Row(Status, String),
    /// The job stopped first.
    Stopped,
}

/// What sends rows: the API, the journal, and how this run compares.
pub struct Uploader<'a> {
    pub(super) api: &'a Api,
    /// Where each row's intent is made durable before it is sent.
    pub(super) journal: Option<Journal>,
    /// With `--reconcile`, the calls of the rows' time window, read in pages
    /// before the first row: a row whose call is here needs no GET.
    window: Option<Window>,
    /// Read each call before writing it, send only what differs, and settle
    /// ambiguous adds by reading the call back.
    reconcile: bool,
    /// `plan`: read and compare, never write (rows that differ end
    /// `would_change`, with the values they would leave).
    plan: bool,
    /// The run's name: each write carries `<run>-<line>` as its reference,
    /// unless `references` is off (`--no-reference`).
    pub(super) run: String,
    pub(super) references: bool,
    /// The account's audit log was seen recording this run's references.
    pub(super) echoed: AtomicBool,
    /// A row this run (or the run it resumes) applied, with a reference:
    /// its call and line, to see whether the log records references.
    pub(super) applied: Mutex<Option<(CallRef, u64)>>,
    /// The first write that carries a reference goes alone: an account that
    /// refuses the parameter stops the job at its first answer.
    first_write: OnceCell<()>,
    /// What looking for a reference in the log of a row applied found, once
    /// looked: rows in doubt at the same moment wait for one look, not one
    /// each.
    pub(super) echo_looked: tokio::sync::Mutex<Option<bool>>,
    /// Where every update is recorded across runs, and refused when it
    /// repeats an earlier run's add, fire or transcription.
    pub(super) ledger: Option<Ledgered>,
    /// How long after its intent an update is taken to have landed and to
    /// be in the audit log (`--audit-lag`).
    pub(super) audit_lag: std::time::Duration,
    /// How far back the call's audit log is checked, before a row that acts
    /// is sent, for the same change by another run (`--repeat-window`);
    /// `None` with `--allow-repeat`.
    pub(super) log_check: Option<std::time::Duration>,
    /// Whether that check is made before a row that acts is sent (not when
    /// a shared ledger vouches for every run that reaches the account).
    pub(super) log_before_acting: bool,
    /// `run --plan`: the signed plan each row's call is held to.
    pub(super) signed: Option<std::sync::Arc<crate::reports::signed_plan::SignedPlan>>,
    /// UUIDs whose call's id could not be read: rows that act and name
    /// them are not sent (they could not be keyed by id).
    pub(super) unread_uuids: HashMap<u128, String>,
    /// Rows that act whose call's log was read before they were sent, and
    /// those refused because it showed the same change.
    pub checked: AtomicU64,
    pub refused_by_log: AtomicU64,
    /// Reads calls' events, and what it learnt of how the account pages them.
    pub(super) events: Events,
    /// The report's zone (`--time-zone`): times in reasons are shown in it.
    pub(super) zone: jiff::tz::TimeZone,
}

/// A run's ledger, and how it judges repeats.
pub struct Ledgered {
    pub ledger: Ledger,
    /// How repeats are judged; `None` with `--allow-repeat`.
    pub check: Option<Check>,
}

/// How an `Uploader` is set up.
pub struct Uploads {
    pub journal: Option<Journal>,
    pub window: Option<Window>,
    pub reconcile: bool,
    pub plan: bool,
    pub run: String,
    pub references: bool,
    /// What the run being resumed learned: the log records references, and
    /// a row it applied.
    pub echoed: bool,
    pub applied: Option<(CallRef, u64)>,
    pub ledger: Option<Ledgered>,
    pub audit_lag: std::time::Duration,
    /// `--repeat-window`, or `None` with `--allow-repeat`.
    pub log_check: Option<std::time::Duration>,
    /// `Settings::log_before_acting`.
    pub log_before_acting: bool,
    pub signed: Option<std::sync::Arc<crate::reports::signed_plan::SignedPlan>>,
    pub unread_uuids: HashMap<u128, String>,
    /// The report's zone, to show times in.
    pub zone: jiff::tz::TimeZone,
}

impl<'a> Uploader<'a> {
    pub fn new(api: &'a Api, set: Uploads) -> Self {
        Uploader {
            api,
            journal: set.journal,
            window: set.window,
            reconcile: set.reconcile,
            plan: set.plan,
            run: set.run,
            references: set.references,
            echoed: AtomicBool::new(set.echoed),
            applied: Mutex::new(set.applied),
            first_write: OnceCell::new(),
            echo_looked: tokio::sync::Mutex::new(None),
            ledger: set.ledger,
            audit_lag: set.audit_lag,
            log_check: set.log_check,
            log_before_acting: set.log_before_acting,
            signed: set.signed,
            unread_uuids: set.unread_uuids,
            checked: AtomicU64::new(0),
            refused_by_log: AtomicU64::new(0),
            events: Events::default(),
            zone: set.zone,
        }
    }

    /// The reference the update of `line` carries, if updates carry one.
    pub(super) fn reference(&self, line: u64) -> Option<String> {
        self.references.then(|| format!("{}-{line}", self.run))
    }

    /// The journal and the ledger, once every row is done (to close them).
    /// The window's calls as read before the first row (rows never change it).
    pub fn window(&self) -> Option<&Window> {
        self.window.as_ref()
    }

    pub fn into_records(self) -> (Option<Journal>, Option<Ledger>) {
        (self.journal, self.ledger.map(|l| l.ledger))
    }

    pub async fn send_row(&self, row: ValidRow) -> RowOutcome {
        let mut out = RowOutcome::new(row.line, row.update.call, Status::NotSent);
        out.update = Some(row.update.clone());
        out.intent_at = row.intent_at;
        if let Some(earlier) = row.applied_before {
            return self.earlier_run(out, earlier).await;
        }
        if !row.update.names.is_empty() || row.update.call == CallRef::PENDING {
            // The pipeline resolves names and finds calls before rows get
            // here; never send a guess.
            return finish(out, Status::Rejected, "a name or a call was not resolved to an id".into());
        }
        // A window read before the rows was an authenticated read already:
        // keys, certificate and name proved, no other read needed first.
        if self.window.is_none() && !self.api.preflight().await {
            return self.stopped(out);
        }
        let unsafe_fields = row.update.non_idempotent_fields();
        if row.in_doubt && !unsafe_fields.is_empty() {
            out.maybe_applied = Some("an earlier run stopped after this row may have been sent".into());
        }
        let mut jitter = row.line ^ 0x0074_6472_6563_6f6e;
        // A row that acts is checked against the call's audit log just
        // before it is written (one in doubt was settled from it instead).
        let check_log = !unsafe_fields.is_empty() && !row.in_doubt;
        let out = match self.prepare(&row, &unsafe_fields, &mut out, &mut jitter).await {
            Ok(update) => self.write(out, update, &unsafe_fields, check_log, &mut jitter).await,
            Err(End::Row(status, error)) => finish(out, status, error),
            Err(End::Stopped) => self.stopped(out),
        };
        out.sealed()
    }

    /// Before the first write: a row an interrupted run may have sent is
    /// checked, and with `--reconcile` the call is read and only what
    /// differs is sent (`Ok`: the fields to send).
    async fn prepare(
        &self,
        row: &ValidRow,
        unsafe_fields: &[&str],
        out: &mut RowOutcome,
        jitter: &mut u64,
    ) -> Result<CallUpdate, End> {
        let in_doubt_unsafe = row.in_doubt && !unsafe_fields.is_empty();
        if in_doubt_unsafe && !self.reconcile {
            let why = "not read back without --reconcile";
            return Err(End::Row(Status::Unknown, in_doubt_reason(unsafe_fields, why)));
        }
        if !self.reconcile {
            return Ok(row.update.clone());
        }
        let before = if in_doubt_unsafe {
            // An earlier run may have applied it: settle that first.
            self.settle_in_doubt(row, unsafe_fields, out, jitter).await?
        } else {
            let in_window = self.window.as_ref().and_then(|w| w.get(&row.update.call));
            match (&row.before, in_window) {
                (Some(before), _) if row.in_doubt => before.clone(),
                (_, Some(snapshot)) => snapshot.clone(),
                _ => self.read(out, jitter).await?,
            }
        };
        let update = diff(&row.update, &before);
        // A signed plan: the same call, holding what the plan read, to end
        // as the plan showed.
        if let Some(plan) = self.signed.as_ref().filter(|_| !in_doubt_unsafe) {
            let after = project(&update, &before);
            if let Err((status, why)) = plan.holds(row.line, &out.call.to_string(), &row.update, &before, &after) {
                out.before = Some(before);
                return Err(End::Row(status, why));
            }
        }
        if update.is_empty() {
            out.before = Some(before.clone());
            out.after = Some(before);
            return Err(End::Row(Status::Unchanged, String::new()));
        }
        if self.plan {
            out.after = Some(project(&update, &before));
            out.before = Some(before);
            out.sent = Some(update);
            return Err(End::Row(Status::WouldChange, String::new()));
        }
        out.before = Some(before);
        Ok(update)
    }

    /// Sends `update` (see `checked_write`); the first write that carries a
    /// reference goes alone, and the others wait for its answer: one that
    /// refuses the parameter stops the job before more rows go out.
    async fn write(
        &self,
        out: RowOutcome,
        update: CallUpdate,
        unsafe_fields: &[&str],
        check_log: bool,
        jitter: &mut u64,
    ) -> RowOutcome {
        if !self.references || self.first_write.initialized() {
            return self.checked_write(out, update, unsafe_fields, check_log, jitter).await;
        }
        let mut alone = None;
        let (first, first_update, mut first_jitter) = (out.clone(), update.clone(), *jitter);
        let _ = self
            .first_write
            .get_or_try_init(|| async {
                let written =
                    self.checked_write(first, first_update, unsafe_fields, check_log, &mut first_jitter).await;
                // Proven only by a write the API took (a row the log refused wrote nothing).
                let taken = written.exchange.writes > 0
                    && written.exchange.http_status.is_some_and(|s| (200..300).contains(&s));
                alone = Some(written);
                if taken { Ok(()) } else { Err(()) }
            })
            .await;
        match alone {
            Some(written) => written,
            None => self.checked_write(out, update, unsafe_fields, check_log, jitter).await,
        }
    }

    /// `write_row`, once the call's audit log shows no other run made the
    /// same change (`before_acting`), when `check_log`.
    async fn checked_write(
        &self,
        mut out: RowOutcome,
        update: CallUpdate,
        unsafe_fields: &[&str],
        check_log: bool,
        jitter: &mut u64,
    ) -> RowOutcome {
        if check_log {
            match self.before_acting(&update, &mut out, jitter).await {
                Ok(()) => {}
                Err(End::Row(status, error)) => return finish(out, status, error),
                Err(End::Stopped) => return self.stopped(out),
            }
        }
        self.write_row(out, update, unsafe_fields, jitter).await
    }

    /// GETs the call, with retries.
    pub(super) async fn read(&self, out: &mut RowOutcome, jitter: &mut u64) -> Result<Snapshot, End> {
        let url = self.api.endpoint.read_url(&out.call);
        let failed = |status, why: String| Err(End::Row(status, format!("reading the call: {why}")));
        match self.api.request(Request::Read(&url), &mut out.exchange, &mut NoHook, jitter).await {
            Reply::Done(body, truncated) => match Snapshot::parse(&body).filter(|_| !truncated) {
                Some(s) => Ok(s),
                None => {
                    failed(Status::Failed, not_understood(&body, truncated).unwrap_or("no call in the response".into()))
                }
            },
            // A read has no hook to hold it back.
            Reply::Refused(error) | Reply::Repeat(error, _) => failed(Status::Rejected, error),
            Reply::Failed(error) | Reply::Ambiguous(error) => failed(Status::Failed, error),
            Reply::Stopped => Err(End::Stopped),
        }
    }

    /// The job stopped before this row's next request. A row that may have
    /// been applied becomes `unknown` when sealed (`RowOutcome::sealed`);
    /// any other was not applied, or is safe to send again.
    pub(super) fn stopped(&self, out: RowOutcome) -> RowOutcome {
        let why = match self.api.stop.reason() {
            Some(StopReason::Aborted(reason)) => format!("job aborted: {reason}"),
            _ => "job interrupted".to_string(),
        };
        if out.exchange.writes == 0 {
            finish(out, Status::NotSent, why)
        } else {
            let retried = &out.exchange.retried_for;
            let error = if retried.is_empty() { why } else { format!("{retried}; {why}") };
            finish(out, Status::Failed, error)
        }
    }
}
