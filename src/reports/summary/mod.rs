//! The end-of-run summary: a table for people, JSON for schedulers
//! (`--summary-json`), and the exit code both imply.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

pub use crate::compare::control::{Amounts, Control};
use crate::exit::Exit;
use crate::outcome::NOT_UNDERSTOOD;
use crate::reports::tally::Tally;
use crate::text::{count, line};
use crate::trackdrive::gate::StopReason;
use rust_decimal::Decimal;

use crate::input::fields::CallField;
use crate::input::update::Change;
use crate::outcome::{RowOutcome, Status};
use crate::trackdrive::Snapshot;

/// The most `unknown` rows listed by name in the summary.
const UNKNOWN_LISTED: usize = 50;
/// The most rows that need a look kept for the page (`--report`): its tables
/// show this many and point to the CSVs for the rest.
pub const LOOKS_KEPT: usize = 1000;

/// A row that needs a look: invalid (errors.csv), or rejected, failed or
/// unknown (results.csv), with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    pub line: u64,
    /// The call, when the row reached the uploader.
    pub call: String,
    /// `invalid`, or the row's status.
    pub status: String,
    pub column: String,
    pub why: String,
}

#[derive(Debug, Default)]
pub struct RunSummary {
    pub input: PathBuf,
    /// A spreadsheet's sheet read.
    pub sheet: Option<String>,
    /// Rows found by caller missed their calls by one time-zone offset: said once.
    pub zone_hint: Option<String>,
    pub results: PathBuf,
    pub errors: PathBuf,
    pub dry_run: bool,
    pub validation: Tally,
    pub statuses: BTreeMap<Status, u64>,
    pub requests: u64,
    pub retries: u64,
    pub elapsed: Duration,
    pub stop: Option<StopReason>,
    /// `ok` rows whose 2xx body was not the call JSON the API sends.
    pub not_understood: u64,
    /// Rows that made at least one request (a read or an update).
    pub sent: u64,
    /// `rejected` rows tdrecon held back before any write was answered 4xx
    /// (a repeat, a change another run made, a name never turned into an
    /// id): never counted as the API's answer.
    pub held: u64,
    /// Rows this run finished, not `not_sent` (the rate is over these).
    pub processed: u64,
    /// Responses that were 429, and the pauses they set.
    pub throttled: u64,
    pub pauses: u64,
    /// Pages of the calls list read for the window (besides the rows' requests).
    pub window_pages: u64,
    /// `--reconcile` over a window: TrackDrive's revenue and payout totals for
    /// the window before and after the run, to check against what the rows moved.
    pub control: Option<Control>,
    /// Why there are no control totals, or what a read had to do otherwise
    /// (said in the summary, never a reason to stop).
    pub read_notes: Vec<String>,
    /// The input file changed while the run read its copy: what was sent is
    /// the copy's (the journal's), and the run says so with exit 1.
    pub input_changed: Option<String>,
    /// Fields rows changed whose calls, read before, carried them under
    /// neither name: sent without comparing, and not rolled back. By field.
    pub unread: BTreeMap<CallField, u64>,
    /// The rate in force at the end, and with `--rate auto` the highest reached.
    pub rate: Option<f64>,
    pub rate_reached: Option<f64>,
    /// With `--rate auto`, when an earlier run's limit was its start (RFC
    /// 3339), and the rate it started at.
    pub rate_remembered: Option<String>,
    pub rate_start: Option<f64>,
    /// When the run started and finished (RFC 3339), and the input's SHA-256.
    pub started_at: String,
    pub finished_at: String,
    pub input_sha256: Option<String>,
    /// `(line, call)` of rows left `unknown`: the ones to check by hand.
    pub unknown: Vec<(u64, String)>,
    /// `--reconcile`: amounts across the file before and after, in all and
    /// per buyer (`trackdrive_buyer_id`) where the buyer is known.
    pub totals: Totals,
    pub by_buyer: BTreeMap<String, Totals>,
    /// What rows applied without their call read first (a plain run) sent:
    /// in all, and by the report's Buyer label.
    pub sent_totals: Sent,
    pub sent_by_buyer: BTreeMap<String, Sent>,
    /// The first rows that need a look (`LOOKS_KEPT`), by line.
    pub looks: Vec<Look>,
    /// What the report and TrackDrive disagree on (`plan`, `run --reconcile`).
    pub discrepancies: Option<crate::compare::discrepancies::Said>,
    /// `plan --discrepancies-only`: no row was planned.
    pub discrepancies_only: bool,
    /// `--report`: the page written, its size in bytes, and the time its
    /// building and writing took.
    pub page: Option<(PathBuf, u64, Duration)>,
    /// What the run checked so as to apply nothing twice across runs.
    pub never_twice: crate::reports::never_twice::NeverTwice,
    /// The command that sends the rows that failed or were not sent, and
    /// nothing else, when there are any.
    pub retry: Option<String>,
    /// The plan's seal: the one this plan wrote, or the one a run applied.
    pub plan_seal: Option<(PathBuf, crate::reports::signed_plan::Seal)>,
}

/// The amounts rows applied sent, when their calls were not read (a run
/// without `--reconcile` cannot say what they moved, only what it sent).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sent {
    pub rows: u64,
    /// Revenue and payout set (the values sent, summed), and added.
    pub revenue_set: Decimal,
    pub payout_set: Decimal,
    pub revenue_added: Decimal,
    pub payout_added: Decimal,
}

impl Sent {
    /// What `o` sent, if it was applied without a read.
    fn of(o: &RowOutcome) -> Option<Sent> {
        if o.status != Status::Ok || o.before.is_some() {
            return None;
        }
        let sent = o.sent.as_ref()?;
        let mut t = Sent { rows: 1, ..Sent::default() };
        for (field, change) in sent.changes() {
            let (set, added) = match field {
                CallField::Revenue => (&mut t.revenue_set, &mut t.revenue_added),
                CallField::Payout => (&mut t.payout_set, &mut t.payout_added),
                _ => continue,
            };
            match change {
                Change::Add(d) => *added += d,
                Change::Set(crate::input::fields::Value::Money(d)) => *set += d,
                _ => {}
            }
        }
        Some(t)
    }

    fn add(&mut self, other: &Sent) {
        self.rows += other.rows;
        self.revenue_set += other.revenue_set;
        self.payout_set += other.payout_set;
        self.revenue_added += other.revenue_added;
        self.payout_added += other.payout_added;
    }

    fn render(&self) -> String {
        format!(
            "revenue set {:.2}, added {:+.2}; payout set {:.2}, added {:+.2}; over {}",
            self.revenue_set,
            self.revenue_added,
            self.payout_set,
            self.payout_added,
            count(self.rows, "call", "calls")
        )
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "calls": self.rows,
            "revenue_set": format!("{:.2}", self.revenue_set),
            "revenue_added": format!("{:.2}", self.revenue_added),
            "payout_set": format!("{:.2}", self.payout_set),
            "payout_added": format!("{:.2}", self.payout_added),
        })
    }
}

/// Revenue and payout summed over rows whose call was read.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Totals {
    pub rows: u64,
    pub revenue_before: Decimal,
    pub revenue_after: Decimal,
    pub payout_before: Decimal,
    pub payout_after: Decimal,
}

impl Totals {
    /// What the rows moved: revenue, then payout.
    pub fn moved(&self) -> (Decimal, Decimal) {
        (self.revenue_after - self.revenue_before, self.payout_after - self.payout_before)
    }

    fn add(&mut self, other: &Totals) {
        self.rows += other.rows;
        self.revenue_before += other.revenue_before;
        self.revenue_after += other.revenue_after;
        self.payout_before += other.payout_before;
        self.payout_after += other.payout_after;
    }

    fn render(&self) -> String {
        format!(
            "revenue {:.2} -> {:.2} ({:+.2}), payout {:.2} -> {:.2} ({:+.2}) over {}",
            self.revenue_before,
            self.revenue_after,
            self.revenue_after - self.revenue_before,
            self.payout_before,
            self.payout_after,
            self.payout_after - self.payout_before,
            count(self.rows, "call", "calls")
        )
    }

    fn to_json(self) -> serde_json::Value {
        json!({
            "calls": self.rows,
            "revenue_before": format!("{:.2}", self.revenue_before),
            "revenue_after": format!("{:.2}", self.revenue_after),
            "payout_before": format!("{:.2}", self.payout_before),
            "payout_after": format!("{:.2}", self.payout_after),
        })
    }

    /// The amounts of one row, when its call was read before.
    fn of(o: &RowOutcome) -> Option<Totals> {
        let before = o.before.as_ref()?;
        let (revenue_before, payout_before) = (before.revenue()?, before.payout()?);
        let after = o.after.as_ref();
        Some(Totals {
            rows: 1,
            revenue_before,
            // Not applied (or not known): the call still holds what it held.
            revenue_after: after.and_then(Snapshot::revenue).unwrap_or(revenue_before),
            payout_before,
            payout_after: after.and_then(Snapshot::payout).unwrap_or(payout_before),
        })
    }
}

impl RunSummary {
    /// Counts one row's outcome (of this run, or replayed from an earlier one).
    pub fn record(&mut self, o: &RowOutcome) {
        *self.statuses.entry(o.status).or_default() += 1;
        if o.status != Status::NotSent {
            self.processed += 1;
        }
        if o.exchange.attempts > 0 {
            self.sent += 1;
        }
        if o.status == Status::Rejected && !o.exchange.http_status.is_some_and(|s| (400..500).contains(&s)) {
            self.held += 1;
        }
        if o.error.starts_with(NOT_UNDERSTOOD) {
            self.not_understood += 1;
        }
        self.requests += u64::from(o.exchange.attempts);
        if o.status == Status::Unknown {
            self.unknown.push((o.line, o.call.to_string()));
        }
        if let (Some(update), Some(before)) = (&o.update, &o.before) {
            let touched =
                update.changes().map(|(f, _)| f).chain((!update.tokens.is_empty()).then_some(CallField::Tokens));
            for field in touched.filter(|f| !f.spec().read.is_empty() && !before.knows(*f)) {
                *self.unread.entry(field).or_default() += 1;
            }
        }
        if let Some(t) = Sent::of(o) {
            self.sent_totals.add(&t);
            if let Some(label) = o.update.as_ref().and_then(|u| u.buyer_label.clone()).filter(|l| !l.is_empty()) {
                self.sent_by_buyer.entry(label).or_default().add(&t);
            }
        }
        if let Some(t) = Totals::of(o) {
            self.totals.add(&t);
            // The report's own Buyer column names the buyer best; else its id.
            let label = o.update.as_ref().and_then(|u| u.buyer_label.clone());
            let id = |s: &Option<Snapshot>| s.as_ref().and_then(|s| s.text(CallField::BuyerId)).map(String::from);
            if let Some(buyer) = label.filter(|l| !l.is_empty()).or_else(|| id(&o.after)).or_else(|| id(&o.before)) {
                self.by_buyer.entry(buyer).or_default().add(&t);
            }
        }
    }

    /// Adds the rows an earlier run finished, so the summary covers the file.
    pub fn merge_earlier(&mut self, earlier: RunSummary) {
        for (status, n) in earlier.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.not_understood += earlier.not_understood;
        for (field, n) in earlier.unread {
            *self.unread.entry(field).or_default() += n;
        }
        // Rows an earlier run finished were sent then, not processed now.
        self.sent += earlier.sent;
        self.held += earlier.held;
        self.totals.add(&earlier.totals);
        self.sent_totals.add(&earlier.sent_totals);
        for (buyer, t) in earlier.sent_by_buyer {
            self.sent_by_buyer.entry(buyer).or_default().add(&t);
        }
        for (buyer, t) in earlier.by_buyer {
            self.by_buyer.entry(buyer).or_default().add(&t);
        }
        let mut unknown = earlier.unknown;
        unknown.append(&mut self.unknown);
        unknown.sort();
        self.unknown = unknown;
    }

    /// What reads had to do otherwise, and the fields calls did not show.
    fn notes(&self) -> Vec<String> {
        let mut notes = self.read_notes.clone();
        for (field, rows) in &self.unread {
            let names = field.spec().read.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" nor ");
            notes.push(format!(
                "{}: {} changed it, but the calls read carried neither {names}: sent without comparing, and not \
                 in a rollback file (`tdrecon doctor` shows the names an account uses)",
                field.param(),
                count(*rows, "row", "rows"),
            ));
        }
        notes
    }

    pub fn count(&self, status: Status) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Rows the API refused, that failed, or whose fate is unknown.
    pub fn failures(&self) -> u64 {
        self.count(Status::Rejected)
            + self.count(Status::Failed)
            + self.count(Status::Unknown)
            + self.count(Status::ChangedSincePlan)
    }

    pub fn sent_or_settled(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// The short status counts the progress bar shows.
    pub fn counts_line(&self) -> String {
        format!(
            "ok {}  refused {}  failed {}  unknown {}",
            self.count(Status::Ok),
            self.count(Status::Rejected),
            self.count(Status::Failed),
            self.count(Status::Unknown)
        )
    }

    pub fn exit(&self) -> Exit {
        match self.stop {
            Some(StopReason::Aborted(_)) => Exit::Aborted,
            Some(StopReason::Interrupted) => Exit::Interrupted,
            None if self.validation.rejected > 0 || self.failures() > 0 || self.input_changed.is_some() => {
                Exit::SomeRowsFailed
            }
            None => Exit::Ok,
        }
    }

    pub fn render(&self) -> String {
        let mut out = self.sheet.as_ref().map(|s| format!("read from the sheet {s:?}\n")).unwrap_or_default();
        out.push_str(&self.validation.render());
        if self.validation.rejected > 0 {
            out.push_str(&format!("  invalid rows are in {}\n", self.errors.display()));
        }
        if !self.discrepancies_only {
            self.render_statuses(&mut out);
        }
        self.render_requests(&mut out);
        if self.dry_run {
            out.push_str("dry run: nothing was sent; each row's request body is in results\n");
        }
        self.render_totals(&mut out);
        if let Some(said) = &self.discrepancies {
            out.push_str(&said.render());
        }
        if let Some(hint) = &self.zone_hint {
            out.push_str(&format!("TIME ZONE: {hint}\n"));
        }
        out.push_str(&self.never_twice.render());
        self.render_unknown(&mut out);
        if let Some(why) = &self.input_changed {
            out.push_str(&format!("INPUT CHANGED: {why}\n"));
        }
        match &self.stop {
            Some(StopReason::Aborted(reason)) => out.push_str(&format!("ABORTED: {reason}\n")),
            Some(StopReason::Interrupted) => out.push_str("INTERRUPTED\n"),
            None => {}
        }
        out
    }

    /// Where the results are, and how many rows ended each way.
    fn render_statuses(&self, out: &mut String) {
        out.push_str(&line("results", self.sent_or_settled(), &self.results.display().to_string()));
        let words = [
            (Status::Ok, "  ok", "applied"),
            (Status::Unchanged, "  unchanged", "already as the file says; nothing sent"),
            (
                Status::AlreadyApplied,
                "  already applied",
                "an earlier run applied the same change (see error); not sent",
            ),
            (Status::Rejected, "  refused", "the API answered 4xx (status rejected); not applied"),
            (Status::Failed, "  failed", "not applied; safe to send again"),
            (Status::Unknown, "  unknown", "may have been applied: see below"),
            (Status::NotSent, "  not sent", ""),
            (Status::WouldChange, "  would change", "plan: run would send these"),
            (
                Status::ChangedSincePlan,
                "  changed since the plan",
                "the call no longer holds what the signed plan read; not sent: plan again",
            ),
        ];
        let refused = match (self.count(Status::Rejected) - self.held.min(self.count(Status::Rejected)), self.held) {
            (_, 0) => words[3].2.to_string(),
            (0, _) => "held by tdrecon before sending (see each row's error); not applied".to_string(),
            (api, held) => format!("{api} answered 4xx by the API, {held} held by tdrecon before sending; not applied"),
        };
        for (status, label, note) in words {
            let n = self.count(status);
            // Only a plan has rows that would change; only a report sent
            // before has rows already applied.
            if matches!(status, Status::WouldChange | Status::AlreadyApplied | Status::ChangedSincePlan) && n == 0 {
                continue;
            }
            let note = if status == Status::Rejected { refused.as_str() } else { note };
            out.push_str(&line(label, n, if n > 0 { note } else { "" }));
        }
        if self.not_understood > 0 {
            out.push_str(&line(
                "  responses not understood",
                self.not_understood,
                "ok, after-values unknown: see error",
            ));
        }
    }

    /// What the rows cost in requests, pauses and time.
    fn render_requests(&self, out: &mut String) {
        let mut requests = vec![count(self.retries, "retry", "retries")];
        if self.window_pages > 0 {
            requests.push(format!("and {} of the window's calls", count(self.window_pages, "page", "pages")));
        }
        if self.throttled > 0 {
            requests.push(format!("{} answered 429", self.throttled));
            requests.push(count(self.pauses, "pause", "pauses"));
        }
        out.push_str(&line("requests", self.requests, &requests.join(", ")));
        if let (Some(reached), Some(rate)) = (self.rate_reached, self.rate) {
            let mut how = format!("highest reached {reached:.0}/s");
            if let (Some(start), Some(at)) = (self.rate_start, &self.rate_remembered) {
                let day = at.get(..10).unwrap_or(at);
                how.push_str(&format!(", started at {start:.0}/s (the limit found {day})"));
            }
            out.push_str(&line("  rate (auto)", format!("{rate:.0}/s"), &how));
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = match self.processed {
            0 => "no row processed".to_string(),
            n if secs > 0.0 => format!("{:.1} rows/s over {}", n as f64 / secs, count(n, "row", "rows")),
            _ => String::new(),
        };
        out.push_str(&line("elapsed", format!("{secs:.1} s"), &rate));
    }

    /// The control totals, and the amounts across the file (per buyer).
    fn render_totals(&self, out: &mut String) {
        if let Some(c) = &self.control {
            out.push_str(&c.render(self.totals.moved()));
        }
        for note in self.notes() {
            out.push_str(&format!("note: {note}\n"));
        }
        if self.sent_totals.rows > 0 {
            out.push_str(&format!("sent (calls not read first): {}\n", self.sent_totals.render()));
            for (buyer, t) in &self.sent_by_buyer {
                out.push_str(&format!("  buyer {}: {}\n", crate::text::visible(buyer), t.render()));
            }
        }
        if self.totals.rows > 0 {
            out.push_str(&format!("totals: {}\n", self.totals.render()));
            for (buyer, t) in &self.by_buyer {
                out.push_str(&format!("  buyer {}: {}\n", crate::text::visible(buyer), t.render()));
            }
        }
    }

    /// The rows to check by hand.
    fn render_unknown(&self, out: &mut String) {
        if !self.unknown.is_empty() {
            out.push_str(&format!(
                "UNKNOWN: {} may or may not have been applied and {} not resent; check these calls, or run again \
                 with --resume --reconcile to settle them from their audit logs:\n",
                count(self.unknown.len() as u64, "row", "rows"),
                if self.unknown.len() == 1 { "was" } else { "were" }
            ));
            for (line, call) in self.unknown.iter().take(UNKNOWN_LISTED) {
                out.push_str(&format!("  line {line}: call {call}\n"));
            }
            if self.unknown.len() > UNKNOWN_LISTED {
                out.push_str(&format!(
                    "  … and {} more (status unknown in results)\n",
                    self.unknown.len() - UNKNOWN_LISTED
                ));
            }
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let statuses: serde_json::Map<String, serde_json::Value> =
            Status::ALL.iter().map(|s| (s.as_str().to_string(), json!(self.count(*s)))).collect();
        let rejected_by_reason: Vec<serde_json::Value> = self
            .validation
            .by_reason
            .iter()
            .map(|((kind, column), n)| json!({"reason": kind.to_string(), "column": column, "rows": n}))
            .collect();
        let secs = self.elapsed.as_secs_f64();
        let page = self.page.as_ref().map(|(path, bytes, took)| {
            json!({"path": path.display().to_string(), "bytes": bytes, "ms": took.as_millis() as u64})
        });
        let mut json = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "input": self.input.display().to_string(),
            "input_sha256": self.input_sha256,
            "results": self.results.display().to_string(),
            "errors": self.errors.display().to_string(),
            "dry_run": self.dry_run,
            "rows_read": self.validation.rows,
            "valid": self.validation.valid,
            "invalid": self.validation.rejected,
            "invalid_by_reason": rejected_by_reason,
            "statuses": statuses,
            "requests": self.requests,
            "retries": self.retries,
            "rows_with_requests": self.sent,
            "rejected_before_sending": self.held,
            "window_pages": self.window_pages,
            "processed": self.processed,
            "rows_per_sec": (self.processed > 0 && secs > 0.0).then(|| (self.processed as f64 / secs * 10.0).round() / 10.0),
            "throttled": self.throttled,
            "pauses": self.pauses,
            "rate": self.rate.map(|r| (r * 10.0).round() / 10.0),
            "rate_reached": self.rate_reached.map(|r| (r * 10.0).round() / 10.0),
            "rate_start": self.rate_start.map(|r| (r * 10.0).round() / 10.0),
            "rate_remembered": self.rate_remembered,
            "responses_not_understood": self.not_understood,
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "unknown_rows": self.unknown.iter().map(|(line, call)| json!({"line": line, "id": call})).collect::<Vec<_>>(),
            "stopped": match &self.stop {
                Some(StopReason::Aborted(r)) => json!({"aborted": r}),
                Some(StopReason::Interrupted) => json!("interrupted"),
                None => serde_json::Value::Null,
            },
            "exit_code": self.exit() as i32,
            "totals": (self.totals.rows > 0).then(|| self.totals.to_json()),
            "sent_totals": (self.sent_totals.rows > 0).then(|| self.sent_totals.to_json()),
            "sent_by_buyer": self.sent_by_buyer.iter().map(|(b, t)| (b.clone(), t.to_json())).collect::<serde_json::Map<_, _>>(),
            "control_totals": self.control.as_ref().map(|c| c.to_json(self.totals.moved())),
            "read_notes": self.notes(),
            "input_changed": self.input_changed,
            "discrepancies": self.discrepancies.as_ref().map(|d| d.to_json()),
            "page": page,
            "never_twice": self.never_twice.to_json(),
            "totals_by_buyer": self.by_buyer.iter().map(|(b, t)| (b.clone(), t.to_json())).collect::<serde_json::Map<_, _>>(),
        });
        // A spreadsheet's sheet read (the macro's recursion limit is reached above).
        json["sheet"] = json!(self.sheet);
        json["time_zone_hint"] = json!(self.zone_hint);
        json["retry_command"] = json!(self.retry);
        json["plan"] = json!(self.plan_seal.as_ref().map(|(path, seal)| json!({"file": path, "seal": seal})));
        json
    }
}

#[cfg(test)]
mod tests;
