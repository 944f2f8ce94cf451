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

use crate::input::fields::REFERENCE_PARAM;
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::outcome::{NOT_UNDERSTOOD, RowOutcome, Status};
use crate::records::journal::Journal;
use crate::records::ledger::{self, Check, Ledger, Recorded, Refused};
use crate::send::diff::{contradictions, diff, project, verify};
use crate::send::evidence::Evidence;
use crate::trackdrive::Snapshot;
use crate::trackdrive::api::{Api, BeforeWrite, Hold, NoHook, Request};
use crate::trackdrive::client::MAX_RESPONSE_BYTES;
use crate::trackdrive::events::Events;
use crate::trackdrive::gate::StopReason;
use crate::trackdrive::reply::Reply;
use crate::trackdrive::snapshot::{Answer, read_answer};
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
    ledger: Option<Ledgered>,
    /// How long after its intent an update is taken to have landed and to
    /// be in the audit log (`--audit-lag`).
    pub(super) audit_lag: std::time::Duration,
    /// How far back the call's audit log is checked, before a row that acts
    /// is sent, for the same change by another run (`--repeat-window`);
    /// `None` with `--allow-repeat`.
    pub(super) log_check: Option<std::time::Duration>,
    /// UUIDs whose call's id could not be read: rows that act and name
    /// them are not sent (they could not be keyed by id).
    pub(super) unread_uuids: HashMap<u128, String>,
    /// Rows that act whose call's log was read before they were sent, and
    /// those refused because it showed the same change.
    pub checked: AtomicU64,
    pub refused_by_log: AtomicU64,
    /// Reads calls' events, and what it learnt of how the account pages them.
    pub(super) events: Events,
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
    pub unread_uuids: HashMap<u128, String>,
}

/// A write's intent, made durable the first time it passes the gate: in
/// the ledger (which may refuse it as a repeat), then in the journal.
struct Intent<'a> {
    journal: Option<&'a Journal>,
    ledger: Option<(&'a Ledgered, ledger::Update)>,
    /// The update's acting changes, for the ledger to judge.
    actions: Vec<(String, String)>,
    line: u64,
    /// What `--reconcile` read before, kept in the intent.
    before: Option<&'a str>,
    at: &'a mut Option<u64>,
    journaled: &'a mut bool,
    ledgered: &'a mut bool,
}

impl BeforeWrite for Intent<'_> {
    async fn before_write(&mut self) -> Result<(), Hold> {
        let at = *self.at.get_or_insert_with(now_ms);
        if let (Some((ledgered, entry)), false) = (&self.ledger, *self.ledgered) {
            let entry = ledger::Update { at, ..entry.clone() };
            let check = ledgered.check.clone().map(|c| (c, self.actions.clone()));
            match ledgered.ledger.intent(entry, check).await {
                Ok(()) => *self.ledgered = true,
                Err(Refused::Repeat(repeat)) => return Err(Hold::Refuse(repeat.reason())),
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
            unread_uuids: set.unread_uuids,
            checked: AtomicU64::new(0),
            refused_by_log: AtomicU64::new(0),
            events: Events::default(),
        }
    }

    /// `update` of `line` as the ledger records it.
    fn ledger_update(&self, line: u64, update: &CallUpdate, at: u64) -> ledger::Update {
        ledger::Update {
            line,
            call: update.call.to_string(),
            uuid: update.named_uuid.map(|u| CallRef::Uuid(u).to_string()),
            referenced: self.references,
            changes: String::from_utf8_lossy(&update.body_bytes()).into_owned(),
            at,
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

    /// Sends `update`, with retries; an ambiguous outcome of a row that must
    /// not be sent twice is settled by reading the call back and its audit
    /// log, or left `unknown`.
    async fn write_row(
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
                Reply::Failed(error) => return finish(out, Status::Failed, error),
                Reply::Stopped => return self.stopped(out),
                Reply::Ambiguous(reason) => reason,
            };
            // From here until evidence shows otherwise, whatever ends the
            // row (the job stopping included) leaves it `unknown`.
            out.maybe_applied = Some(reason.clone());
            // An attempt that was answered or had its connection closed is
            // over on the server's side; one that timed out may not be.
            let answered = !out.exchange.timed_out;
            // The call's values, where what it held before is known
            // (`--reconcile`): moved by exactly this update shows it applied.
            let values = self.read_back(&mut out, &update, &reason, jitter).await;
            if let Some(Evidence::Applied(_)) = values {
                return finish(out, Status::Ok, format!("verified by reading the call back after: {reason}"));
            }
            if out.intent_at.is_none() {
                return finish(out, Status::Unknown, unknown_reason(&reason, unsafe_fields));
            }
            // Unchanged values, values that cannot tell (another writer, a
            // webhook refire) or none read: the audit log decides, and only
            // evidence that it was not applied sends it again.
            let unchanged = values.as_ref().map(|v| matches!(v, Evidence::NotApplied));
            match self.audit(&mut out, &update, unchanged, answered, jitter).await {
                Ok((Evidence::Applied(n), _)) => {
                    return finish(out, Status::Ok, applied_note(n, &format!("applied after: {reason}")));
                }
                // Not applied, but another run has made the same change
                // meanwhile: this one is not sent again.
                Ok((Evidence::NotApplied, log))
                    if let Some(found) = self.foreign_change(&log, out.call, out.line, &update) =>
                {
                    out.maybe_applied = None;
                    let why = format!("{reason}; not applied; {}", found.reason(&out.call.to_string()));
                    return finish(out, Status::Rejected, why);
                }
                Ok((Evidence::NotApplied, _)) if resent_after.is_none() => {
                    resent_after = Some(reason);
                    out.maybe_applied = None;
                    out.after = None;
                }
                Ok((Evidence::NotApplied, _)) => {
                    out.maybe_applied = None;
                    let error = format!("{reason}; not applied twice (audit log): safe to run again");
                    return finish(out, Status::Failed, error);
                }
                Err(End::Stopped) => return self.stopped(out),
                Ok((Evidence::Unclear(why), _)) | Err(End::Row(_, why)) => {
                    let values = match (&values, unchanged) {
                        (None, _) => "",
                        (Some(Evidence::Unclear(details)), _) => &format!("; read back: {details}"),
                        (_, Some(true)) => "; read back unchanged",
                        _ => "; read back moved otherwise",
                    };
                    let error = unknown_reason(&format!("{reason}{values}; audit log: {why}"), unsafe_fields);
                    return finish(out, Status::Unknown, error);
                }
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
            Reply::Refused(error) => failed(Status::Rejected, error),
            Reply::Failed(error) | Reply::Ambiguous(error) => failed(Status::Failed, error),
            Reply::Stopped => Err(End::Stopped),
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

    /// The job stopped before this row's next request. A row that may have
    /// been applied becomes `unknown` when sealed (`RowOutcome::sealed`);
    /// any other was not applied, or is safe to send again.
    fn stopped(&self, out: RowOutcome) -> RowOutcome {
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

/// Whether a refusal names the reference parameter: the account does not
/// take parameters it does not know.
fn refuses_reference(out: &RowOutcome, error: &str) -> bool {
    matches!(out.exchange.http_status, Some(400 | 422)) && error.contains(REFERENCE_PARAM)
}

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
