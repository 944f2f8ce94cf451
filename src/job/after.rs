//! After the last row, in order: what the report and TrackDrive disagree on
//! (judged on the window read before the first row), what the run checked
//! so nothing is applied twice, a report rewritten while it was read, the
//! rate `--rate auto` found, the control totals (the window read again),
//! the journal and the ledger closed, the results put back in the input's
//! order, the page of the night, and the summary.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;

use super::before::Before;
use super::discrepancies::{self, ReportRows};
use super::interrupts::resume_command;
use super::{Mode, Settings, Target, sandbox};
use crate::exit::Fatal;
use crate::outcome::Status;
use crate::records::ledger::Located;
use crate::records::rate_memory::{RateMemory, Remembered};
use crate::reports::never_twice::NeverTwice;
use crate::reports::summary::{Control, RunSummary};
use crate::reports::summary_json::SummaryOut;
use crate::resolve::zone_hint::{self, Miss, Misses};
use crate::send::row::Uploader;
use crate::sim::Sim;
use crate::trackdrive::api::Api;
use crate::trackdrive::gate::StopReason;
use crate::trackdrive::window;

/// What the run learnt on its way that the steps after it need.
pub(super) struct Ending {
    /// The window read, if any, and whether the run resumed another.
    pub range: Option<(i64, i64)>,
    pub resumed: bool,
    /// The rows as the report holds them, for the discrepancies.
    pub report_rows: Option<ReportRows>,
    /// What was read before the first row (its window's calls are the
    /// uploader's).
    pub before: Before,
    /// The account's ledger, and the rate memory with what it held.
    pub located: Option<Located>,
    pub memory: Option<RateMemory>,
    pub remembered: Option<Remembered>,
    /// The input file's size, time and inode when the run began.
    pub stamp: Option<(u64, Option<std::time::SystemTime>, u64)>,
    pub journal_path: PathBuf,
    /// Rows found by caller that found no call, and the match window.
    pub misses: Option<(Misses, i64)>,
}

/// Everything after the last row, the summary filled as it goes.
pub(super) async fn finish(
    opts: &Settings,
    api: &Api,
    uploader: Uploader<'_>,
    ending: Ending,
    summary: &mut RunSummary,
) {
    summary.discrepancies_only = opts.mode() == Mode::DiscrepanciesOnly;
    if summary.stop.is_none() {
        let calls = match (uploader.window(), ending.range) {
            _ if ending.resumed => discrepancies::Calls::Resumed,
            (Some(window), Some(range)) => discrepancies::Calls::Read(window, range),
            (None, Some(_)) => discrepancies::Calls::Failed,
            (_, None) => discrepancies::Calls::NoWindow,
        };
        summary.discrepancies = discrepancies::judge(opts, api, calls, ending.report_rows).await;
    }
    summary.never_twice = NeverTwice {
        ids_read: ending.before.ids.reads,
        log_checks: uploader.checked.load(Ordering::Relaxed),
        log_refused: uploader.refused_by_log.load(Ordering::Relaxed),
        ledger: ending.located.map(|l| (PathBuf::from(l.at.to_string()), l.account.to_string(), l.provenance)),
    };
    summary.window_pages = ending.before.window_pages;
    summary.read_notes = ending.before.notes;
    if let Some((misses, tolerance)) = ending.misses {
        zone_hint(opts, api, misses.take(), tolerance, summary).await;
    }
    note_input_changed(opts, ending.stamp, summary);
    keep_rate(api, ending.memory.as_ref(), ending.remembered, summary);
    if let Some(control) = ending.before.control {
        control_totals(opts, api, control, summary).await;
    }
    close_records(uploader, &ending.journal_path, summary);
}

/// Rows that found no call, when most sit about one whole or half hour
/// from a call of their caller: the report's zone, said once. Calls the
/// window did not hold are looked for once in a window wider by the
/// largest zone offsets.
async fn zone_hint(opts: &Settings, api: &Api, mut misses: Vec<Miss>, tolerance: i64, summary: &mut RunSummary) {
    const WIDER: i64 = 14 * 3600 * 1000;
    if misses.len() < 3 || summary.stop.is_some() {
        return;
    }
    let zone = &opts.input().time_zone;
    let unknown = misses.iter().filter(|m| m.gap.is_none()).count();
    if zone_hint::hint(&misses, zone, tolerance).is_none() && unknown * 2 >= misses.len() {
        let from = misses.iter().map(|m| m.at).min().unwrap_or(0) - WIDER;
        let to = misses.iter().map(|m| m.at).max().unwrap_or(0) + WIDER;
        match window::fetch_window(api, from, to, opts.reading().page_size, true).await {
            Ok(wider) => {
                summary.window_pages += wider.pages;
                let matcher = wider.matcher(tolerance);
                for m in misses.iter_mut().filter(|m| m.gap.is_none()) {
                    m.gap = matcher.nearest_call(&m.caller, m.at).map(|(t, _)| t - m.at);
                }
            }
            Err(e) => summary.read_notes.push(format!("cannot read a wider window for a time-zone hint ({e})")),
        }
    }
    summary.zone_hint = zone_hint::hint(&misses, zone, tolerance).map(|h| h.words());
}

/// The rows came from the copy taken at the start (what the journal is
/// bound to): a file changed since is said, nothing of its new version sent.
fn note_input_changed(
    opts: &Settings,
    stamp: Option<(u64, Option<std::time::SystemTime>, u64)>,
    summary: &mut RunSummary,
) {
    if stamp.is_some() && crate::input::source::stamp(&opts.input().name) != stamp {
        summary.input_changed = Some(format!(
            "{} changed while the run read it: every row sent is from the file as it was when the run began \
             (its copy; the journal and results describe that version). Run the new version as a new file: the \
             ledger refuses any add this run applied",
            opts.input().name.display()
        ));
    }
}

/// `--rate auto`: where it started, and what it found, kept for the next run.
fn keep_rate(api: &Api, memory: Option<&RateMemory>, remembered: Option<Remembered>, summary: &mut RunSummary) {
    summary.rate_start = api.gate.auto_start();
    summary.rate_remembered = remembered.map(|r| r.at.to_string());
    if let (Some(memory), Some(known)) = (memory, api.gate.auto_known())
        && let Err(e) = memory.keep(known, jiff::Timestamp::now())
    {
        crate::console::warn(&format!("warning: cannot keep the rate limit found in {}: {e}", memory.path().display()));
    }
}

/// The window read again, in pages: what TrackDrive holds now, to check
/// against what the rows moved. Informative: a failure is said, not fatal.
async fn control_totals(opts: &Settings, api: &Api, control: super::before::ControlStart, summary: &mut RunSummary) {
    if summary.stop.is_some() {
        return;
    }
    let ((from, to, columns), (before, before_by_buyer)) = control;
    match window::fetch_window(api, from, to, opts.reading().page_size, columns).await {
        Ok(now) => {
            summary.window_pages += now.pages;
            let (after, after_by_buyer) = crate::compare::control::window_totals(&now);
            summary.control = Some(Control { before, after, before_by_buyer, after_by_buyer });
        }
        Err(e) => summary.read_notes.push(format!("no control totals: cannot read the window again ({e})")),
    }
}

/// The ledger's and the journal's last records: one that cannot be written
/// stops the run (its rows are in the results; a resume finds them).
fn close_records(uploader: Uploader<'_>, journal_path: &Path, summary: &mut RunSummary) {
    let (journal, ledger) = uploader.into_records();
    if let Some(ledger) = ledger
        && let Err(e) = ledger.finish()
    {
        summary.stop.get_or_insert(StopReason::Aborted(e));
    }
    if let Some(journal) = journal
        && let Err(e) = journal.finish(summary.stop.is_none())
    {
        summary
            .stop
            .get_or_insert(StopReason::Aborted(format!("cannot write the journal {}: {e}", journal_path.display())));
    }
}

/// The run's end in the ledger (`tdrecon history --runs`): rows by status,
/// money, the exit code. Informative: a failure is warned of (the rows'
/// updates are recorded already).
pub(super) fn record_run(
    at: &crate::records::ledger::LedgerAt,
    account: &str,
    run: &str,
    summary: &RunSummary,
    exit: crate::exit::Exit,
) {
    use crate::outcome::Status;
    let statuses =
        Status::ALL.iter().map(|s| (s.as_str().to_string(), summary.count(*s))).filter(|(_, n)| *n > 0).collect();
    let (sent, (revenue_moved, payout_moved)) = (&summary.sent_totals, summary.totals.moved());
    let outcome = crate::records::ledger::Outcome {
        exit: exit as i32,
        statuses,
        invalid: summary.validation.rejected,
        revenue_added: sent.revenue_added.to_string(),
        payout_added: sent.payout_added.to_string(),
        revenue_set: sent.revenue_set.to_string(),
        payout_set: sent.payout_set.to_string(),
        revenue_moved: revenue_moved.to_string(),
        payout_moved: payout_moved.to_string(),
    };
    if let Err(e) = crate::records::ledger::finish_run(at, account, run, &outcome) {
        crate::console::warn(&format!("warning: {e}"));
    }
}

/// What the run says when it ends: the summary (with the command that
/// retries what may be sent again), then word to `--notify`'s receivers,
/// even when the summary could not be written.
pub(super) fn tell(
    opts: &Settings,
    summary: &mut RunSummary,
    sim: Option<&Sim>,
    exit: crate::exit::Exit,
) -> Result<(), Fatal> {
    retry(opts, summary);
    let reported = report(opts, summary, sim);
    notify(opts, summary, exit);
    reported
}

/// The command that sends exactly the rows that may be sent again, for a
/// run that finished (a stopped one is told to `--resume` everything).
fn retry(opts: &Settings, summary: &mut RunSummary) {
    let sends = matches!(opts.mode(), Mode::Run | Mode::Resume | Mode::Restart);
    let again = summary.count(Status::Failed) + summary.count(Status::NotSent);
    if sends && summary.stop.is_none() && again > 0 && matches!(opts.destination().target, Target::Url(_)) {
        summary.retry = Some(super::interrupts::retry_command());
    }
}

/// `--notify`: the summary and its line, to every receiver (within
/// `notify::BUDGET`), with the exit code the process gives.
fn notify(opts: &Settings, summary: &RunSummary, exit: crate::exit::Exit) {
    if opts.outputs().notify.is_empty() {
        return;
    }
    let account = match &opts.destination().target {
        Target::Url(url) => reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)),
        Target::Sandbox => Some("sandbox".to_string()),
    };
    let account = account.unwrap_or_default();
    let input = &opts.input().name;
    let name = input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
    let command = if opts.mode().plans() { "plan" } else { "run" };
    let line = crate::reports::notify::line(command, &name, &account, summary, exit as i32);
    let mut value = summary.to_json();
    value["exit_code"] = serde_json::json!(exit as i32);
    value["command"] = serde_json::json!(command);
    crate::reports::notify::send(&opts.outputs().notify, &crate::reports::notify::body(&value, &line));
}

/// Rows finished out of order; results.csv (or the plan) reads in the
/// input's. A failure leaves it readable in the order rows finished. A plan
/// that finished is then sealed (`signed_plan`), for `run --plan`.
pub(super) fn order_results(opts: &Settings, summary: &mut RunSummary) {
    let results = &opts.outputs().results;
    if opts.mode() != Mode::DiscrepanciesOnly
        && let Err(e) = crate::reports::in_order::sort_by_line(results)
    {
        crate::console::warn(&format!("warning: cannot put {} in the input's order: {e}", results.display()));
        return;
    }
    if let Some(plan) = &opts.reading().signed_plan {
        summary.plan_seal = Some((plan.path.clone(), plan.seal.clone()));
    }
    let sealable = opts.mode() == Mode::Plan && summary.stop.is_none() && results.as_os_str() != "-";
    let Some(input_sha256) = summary.input_sha256.clone().filter(|_| sealable) else { return };
    let account = opts.destination().account();
    let input = opts.input().name.display().to_string();
    match crate::reports::signed_plan::seal(results, &input, &input_sha256, &account) {
        Ok(seal) => summary.plan_seal = Some((results.clone(), seal)),
        Err(e) => crate::console::warn(&format!("warning: the plan is not sealed ({e}): run --plan cannot apply it")),
    }
}

/// `--report`: the page of the night, written whole (said in the summary).
pub(super) fn write_page(opts: &Settings, summary: &mut RunSummary) {
    let Some(path) = &opts.outputs().report else { return };
    let started = std::time::Instant::now();
    let page = crate::reports::page::render(summary, if opts.mode().plans() { "plan" } else { "run" });
    match crate::files::write_atomically(path, page.as_bytes()) {
        Ok(()) => {
            summary.page = Some((path.clone(), page.len() as u64, started.elapsed()));
            summary.read_notes.push(format!(
                "the page of the night is {} ({} KiB)",
                path.display(),
                page.len().div_ceil(1024)
            ));
        }
        Err(e) => {
            let why = format!("cannot write the page {}: {e}", path.display());
            crate::console::warn(&format!("warning: {why}"));
            summary.read_notes.push(why);
        }
    }
}

/// The summary (and `--summary-json`), the sandbox's state, and how to resume.
fn report(opts: &Settings, summary: &RunSummary, sim: Option<&Sim>) -> Result<(), Fatal> {
    let out = SummaryOut { json: opts.outputs().summary_json.clone(), ..SummaryOut::default() };
    out.write(&summary.to_json())
        .with_context(|| {
            format!(
                "cannot write the summary JSON {}",
                opts.outputs().summary_json.as_deref().unwrap_or(Path::new("")).display()
            )
        })
        .map_err(Fatal::aborted)?;
    out.text(&summary.render());
    let changes = summary.count(Status::WouldChange) > 0;
    if let Some((path, seal)) = summary.plan_seal.as_ref().filter(|_| opts.mode() == Mode::Plan && changes) {
        out.text(&format!(
            "plan sealed: {} (SHA-256 {}…, {}); to send exactly these changes once it is signed off:\n  \
             tdrecon run {} --plan {} (with this plan's target and profile)\n",
            crate::reports::signed_plan::seal_path(path).display(),
            &seal.plan_sha256[..12],
            seal.made_at,
            opts.input().name.display(),
            path.display()
        ));
    }
    if let Some(retry) = &summary.retry {
        let n = summary.count(Status::Failed) + summary.count(Status::NotSent);
        out.text(&format!(
            "retry: {} failed or were not sent (safe to send again); this sends them and nothing else:\n  {retry}\n",
            crate::text::count(n, "row", "rows")
        ));
    }
    if let Some(sim) = sim {
        out.text(&sandbox::describe(sim));
    }
    if summary.stop.is_some() && opts.mode() != Mode::DryRun && !matches!(opts.destination().target, Target::Sandbox) {
        crate::console::warn(&format!(
            "stopped; to continue where it left off (nothing is sent twice): {}",
            resume_command()
        ));
    }
    Ok(())
}
