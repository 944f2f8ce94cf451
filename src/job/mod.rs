//! `tdrecon run FILE`: the job. `run` checks the set-up (everything that
//! can be wrong is found before a request), opens the outputs and the
//! journal, starts the senders, and hands over to `pipeline`; `journal_plan`
//! decides between a fresh run, a resumed one and a refusal; `interrupts`
//! drains the job on a signal.

mod discrepancies;
mod interrupts;
mod journal_plan;
mod pipeline;
mod prescan;
mod repeats;
pub mod sandbox;
mod settings;

pub use settings::{Destination, KeySource, Mode, Outputs, Pacing, Reading, Safety, Settings, Target, Threshold};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, anyhow};

use crate::exit::{Exit, Fatal};
use crate::files::create;
use crate::input::reader::CsvReader;
use crate::input::validate::Validator;
use crate::outcome::Status;
use crate::records::journal;
use crate::records::rate_memory::{RateMemory, Remembered};
use crate::reports::errors::create_error_report;
use crate::reports::never_twice::NeverTwice;
use crate::reports::results::ResultsWriter;
use crate::reports::summary::{Amounts, Control, RunSummary};
use crate::reports::summary_json::{self, SummaryOut};
use crate::resolve::Resolver;
use crate::send::row::{Uploader, Uploads};
use crate::sim::Sim;
use crate::trackdrive::api::Api;
use crate::trackdrive::client::{ApiClient, Endpoint};
use crate::trackdrive::credentials::Credentials;
use crate::trackdrive::gate::StopReason;
use crate::trackdrive::gate::{self, Gate};
use crate::trackdrive::window;
use crate::trackdrive::{identity, lookup};
use interrupts::{resume_command, watch_for_interrupts};
use journal_plan::{JournalPlan, prepare_journal};
use pipeline::{Earlier, OpenFiles, pipeline};

pub fn run(opts: Settings) -> Result<Exit, Fatal> {
    let started_at = summary_json::now();
    let stamp = crate::input::source::stamp(&opts.input().name);
    let (reader, validator) = check_input(&opts)?;
    let credentials = load_credentials(&opts)?;
    let plan = prepare_journal(&opts)?;
    let repeats = repeats::open(&opts, &validator, &credentials, &plan.run, plan.input_sha256.as_deref())?;
    let prescan = prescan::prescan(&opts)?;
    let reads_window = opts.reading().reconcile || validator.schema().matches_callers();
    let range = if reads_window { window_range(&opts, prescan.times)? } else { None };
    let (outputs, earlier) = open_outputs(&opts, &validator, &plan)?;

    // One thread drives every request: the work per request is small, and
    // handing tasks between worker threads cost more than it saved (futex
    // wake-ups dominated a profile). Parsing and journal syncs have threads
    // of their own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Fatal::usage)?;
    let run = Run {
        reader,
        validator,
        credentials,
        plan,
        repeats,
        outputs,
        earlier,
        started_at,
        range,
        seeds: prescan.seeds,
        acting_uuids: prescan.acting_uuids,
        stamp,
    };
    runtime.block_on(job(opts, run))
}

/// Opens the input and checks what the file asks for against the options.
fn check_input(opts: &Settings) -> Result<(CsvReader, Validator), Fatal> {
    let (reader, validator) = opts.input().open()?;
    for warning in validator.schema().warnings() {
        crate::console::warn(&format!("warning: {warning}"));
    }
    if opts.mode().plans() && !opts.outputs().quiet {
        // What the plan reads the report as, before a request.
        crate::console::err(&validator.schema().describe());
    }
    if validator.schema().matches_callers() && opts.mode() == Mode::DryRun {
        return Err(Fatal::usage(anyhow!(
            "the file finds calls by caller_number and call_time: that reads the API's calls, which a dry run \
             does not contact; give the rows their call ids, or rehearse against a simulator"
        )));
    }
    if validator.schema().uses_names()
        && opts.mode() == Mode::DryRun
        && !matches!(opts.destination().target, Target::Sandbox)
    {
        return Err(Fatal::usage(anyhow!(
            "the file names dispositions, buyers or traffic sources: turning names into ids reads the API's \
             lists, which a dry run does not contact; use the id columns, or rehearse with --sandbox"
        )));
    }
    Ok((reader, validator))
}

/// The keys for a real target; placeholders where nothing real is sent.
fn load_credentials(opts: &Settings) -> Result<Credentials, Fatal> {
    if opts.mode() == Mode::DryRun || matches!(opts.destination().target, Target::Sandbox) {
        return Ok(Credentials::new("sandbox", "sandbox"));
    }
    let file = match &opts.destination().keys {
        KeySource::File(path) => Some(path.as_path()),
        KeySource::Environment => None,
    };
    Credentials::load(file).map_err(Fatal::usage)
}

/// Creates errors.csv, results.csv and the rollback file. A resumed run's
/// results start with every row an earlier run finished; their counts are
/// returned to be merged into the summary.
fn open_outputs(opts: &Settings, validator: &Validator, plan: &JournalPlan) -> Result<(OpenFiles, RunSummary), Fatal> {
    let (results_path, errors_path) = (opts.outputs().results.clone(), opts.outputs().errors.clone());
    let rollback = match &opts.outputs().rollback {
        Some(path) => Some(crate::reports::rollback::open_rollback(path, plan.replay.is_some())?),
        None => None,
    };
    let errors = create_error_report(&errors_path, &validator.schema().headers)?;
    let mut results = match opts.mode() == Mode::DiscrepanciesOnly {
        true => None,
        false => Some(
            ResultsWriter::new(create(&results_path)?)
                .with_context(|| format!("cannot write {}", results_path.display()))
                .map_err(Fatal::usage)?,
        ),
    };
    let mut earlier = RunSummary::default();
    let mut earlier_applied = None;
    if let Some(replay) = &plan.replay {
        journal::done_outcomes(&plan.path, replay, |outcome| {
            if outcome.status == Status::Ok && outcome.exchange.writes > 0 {
                earlier_applied.get_or_insert((outcome.call, outcome.line));
            }
            earlier.record(&outcome);
            match results.as_mut() {
                Some(results) => results.write(&outcome).map_err(std::io::Error::other),
                None => Ok(()),
            }
        })
        .with_context(|| {
            format!("cannot copy finished rows from {} to {}", plan.path.display(), results_path.display())
        })
        .map_err(Fatal::usage)?;
    }
    let already_done = earlier.sent_or_settled();
    Ok((OpenFiles { errors, results, rollback, results_path, errors_path, already_done, earlier_applied }, earlier))
}

/// Everything the async half of a run starts from.
struct Run {
    reader: CsvReader,
    validator: Validator,
    credentials: Credentials,
    plan: JournalPlan,
    repeats: repeats::Repeats,
    outputs: OpenFiles,
    earlier: RunSummary,
    started_at: String,
    /// The window to read in pages, if any.
    range: Option<(i64, i64)>,
    /// `--sandbox`: the calls its simulator starts with.
    seeds: Option<crate::sim::Store>,
    /// The UUIDs rows that act name their calls by (their ids are read).
    acting_uuids: Vec<u128>,
    /// The input file's size, time and inode when the run began.
    stamp: Option<(u64, Option<std::time::SystemTime>, u64)>,
}

/// The async half of a run: starts the senders (and the sandbox), resolves
/// names, runs the pipeline, then closes the journal and reports.
async fn job(opts: Settings, run: Run) -> Result<Exit, Fatal> {
    let Run {
        reader,
        validator,
        credentials,
        plan,
        repeats,
        outputs,
        earlier,
        started_at,
        range,
        seeds,
        acting_uuids,
        stamp,
    } = run;
    let sim = match seeds {
        Some(store) => Some(sandbox::start(store).await?),
        None => None,
    };
    // The locks live as long as this function: the whole run.
    let JournalPlan { journal, replay, path: journal_path, locks: _locks, input_sha256, run: name } = plan;
    let memory = rate_memory(&opts, &credentials);
    let remembered = memory.as_ref().and_then(recall);
    let api = start_api(&opts, sim.as_ref(), &credentials, remembered)?;
    let Before { control, window_pages, calls, notes, ids, resolver } =
        read_before(&opts, &api, &validator, range, replay.is_some(), &acting_uuids).await?;
    let uploads = Uploads {
        journal,
        window: calls,
        reconcile: opts.reading().reconcile,
        plan: opts.mode().plans(),
        run: name,
        references: opts.safety().references,
        echoed: replay.as_ref().is_some_and(|r| r.echoed),
        applied: outputs.earlier_applied,
        ledger: repeats.ledgered,
        audit_lag: opts.safety().audit_lag,
        log_check: opts.log_check(),
        unread_uuids: ids.unread.clone(),
    };
    let uploader = Uploader::new(&api, uploads);
    let located = repeats.located;
    let interrupts = tokio::spawn(watch_for_interrupts(api.stop.clone()));
    let resumed = replay.is_some();
    let (mut summary, report_rows) = pipeline(
        &opts,
        reader,
        (validator, resolver),
        outputs,
        &uploader,
        &api,
        Earlier { replay, ledger: repeats.early },
    )
    .await?;
    interrupts.abort();
    summary.discrepancies_only = opts.mode() == Mode::DiscrepanciesOnly;
    if summary.stop.is_none() {
        let calls = match (uploader.window(), range) {
            _ if resumed => discrepancies::Calls::Resumed,
            (Some(window), Some(range)) => discrepancies::Calls::Read(window, range),
            (None, Some(_)) => discrepancies::Calls::Failed,
            (_, None) => discrepancies::Calls::NoWindow,
        };
        summary.discrepancies = discrepancies::judge(&opts, &api, calls, report_rows).await;
    }
    summary.merge_earlier(earlier);
    summary.never_twice = NeverTwice {
        ids_read: ids.reads,
        log_checks: uploader.checked.load(std::sync::atomic::Ordering::Relaxed),
        log_refused: uploader.refused_by_log.load(std::sync::atomic::Ordering::Relaxed),
        ledger: located.map(|l| (l.path, l.account.to_string(), l.provenance)),
    };
    summary.window_pages = window_pages;
    summary.read_notes = notes;
    if stamp.is_some() && crate::input::source::stamp(&opts.input().name) != stamp {
        // The rows came from the copy taken at the start (what the journal
        // is bound to): nothing of the new version was sent.
        summary.input_changed = Some(format!(
            "{} changed while the run read it: every row sent is from the file as it was when the run began \
             (its copy; the journal and results describe that version). Run the new version as a new file: the \
             ledger refuses any add this run applied",
            opts.input().name.display()
        ));
    }
    summary.rate_start = api.gate.auto_start();
    summary.rate_remembered = remembered.map(|r| r.at.to_string());
    if let (Some(memory), Some(known)) = (&memory, api.gate.auto_known())
        && let Err(e) = memory.keep(known, jiff::Timestamp::now())
    {
        crate::console::warn(&format!("warning: cannot keep the rate limit found in {}: {e}", memory.path().display()));
    }
    if let Some(((from, to, columns), (before, before_by_buyer))) = control
        && summary.stop.is_none()
    {
        // Read again, in pages: what TrackDrive holds now, to check against
        // what the rows moved. Informative: a failure is said, not fatal.
        match window::fetch_window(&api, from, to, opts.reading().page_size, columns).await {
            Ok(now) => {
                summary.window_pages += now.pages;
                let (after, after_by_buyer) = crate::compare::control::window_totals(&now);
                summary.control = Some(Control { before, after, before_by_buyer, after_by_buyer });
            }
            Err(e) => summary.read_notes.push(format!("no control totals: cannot read the window again ({e})")),
        }
    }
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
    summary.started_at = started_at;
    summary.finished_at = summary_json::now();
    summary.input_sha256 = input_sha256.or_else(|| opts.input().survey.as_ref().map(|s| s.sha256.clone()));
    // Rows finished out of order; results.csv (or the plan) reads in the
    // input's. A failure leaves it readable in the order rows finished.
    if opts.mode() != Mode::DiscrepanciesOnly
        && let Err(e) = crate::reports::in_order::sort_by_line(&opts.outputs().results)
    {
        crate::console::warn(&format!(
            "warning: cannot put {} in the input's order: {e}",
            opts.outputs().results.display()
        ));
    }
    if let Some(path) = &opts.outputs().report {
        let started = std::time::Instant::now();
        let page = crate::reports::page::render(&summary, if opts.mode().plans() { "plan" } else { "run" });
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
    report(&opts, &summary, sim.as_ref())?;
    Ok(match summary.exit() {
        // A plan that finished is a plan: invalid rows and calls that differ are its news.
        Exit::SomeRowsFailed if opts.mode().plans() => Exit::Ok,
        exit => exit,
    })
}

/// What a run reads before its first row: the window's calls.
struct Before {
    /// The window read, and TrackDrive's totals for it then (for the
    /// control totals, read again after the run).
    control: Option<((i64, i64, bool), (Amounts, BTreeMap<String, Amounts>))>,
    window_pages: u64,
    /// With `--reconcile`, the window's calls, for the rows to compare with.
    calls: Option<window::Window>,
    /// What a read had to do otherwise, for the summary.
    notes: Vec<String>,
    /// The ids of the calls rows that act name by UUID, read where no
    /// window told them (`Ids::ids` moved to the resolver).
    ids: identity::Ids,
    /// What the reads told, for each row to be resolved by.
    resolver: Resolver,
}

/// Reads what the rows need before the first is sent: the name lists (the
/// validator resolves names with them) and the window's calls (the rows
/// compare with them, the validator finds rows by caller among them, and
/// their totals are the control totals' start). The window is only needed
/// to find rows by caller: otherwise a failed read is said and each row's
/// call is read on its own.
async fn read_before(
    opts: &Settings,
    api: &Api,
    validator: &Validator,
    range: Option<(i64, i64)>,
    resuming: bool,
    acting_uuids: &[u128],
) -> Result<Before, Fatal> {
    let read_err = |what: &str, e: String| {
        let error = anyhow!("cannot read {what}: {e}");
        if api.stop.is_stopped() { Fatal::aborted(error) } else { Fatal::usage(error) }
    };
    let mut before = Before {
        control: None,
        window_pages: 0,
        calls: None,
        notes: Vec::new(),
        ids: identity::Ids::default(),
        resolver: Resolver::default(),
    };
    if validator.schema().uses_names() {
        let directory =
            lookup::fetch_directory(api).await.map_err(|e| read_err("the lists that turn names into ids", e))?;
        before.resolver.directory = Some(directory);
    }
    let mut ids_of_uuids = HashMap::new();
    if let Some((from, to)) = range {
        match window::fetch_window(api, from, to, opts.reading().page_size, true).await {
            Ok(window) => {
                before.window_pages = window.pages;
                before.notes.extend(window.notes.iter().cloned());
                ids_of_uuids = window.ids_of_uuids();
                if validator.schema().matches_callers() {
                    before.resolver.matcher = Some(window.matcher(opts.reading().match_window.as_millis() as i64));
                }
                // A reconciled window is checked against TrackDrive's own
                // totals (not a plan's). On a resume the window's totals
                // already hold the earlier run's work.
                if opts.reading().reconcile && !opts.mode().plans() && !resuming {
                    before.control =
                        Some(((from, to, window.columns), crate::compare::control::window_totals(&window)));
                }
                before.calls = opts.reading().reconcile.then_some(window);
            }
            Err(e) if validator.schema().matches_callers() || api.stop.is_stopped() => {
                return Err(read_err("the calls of the window", e));
            }
            Err(e) => before
                .notes
                .push(format!("cannot read the calls of the window ({e}): each row's call was read on its own")),
        }
    }
    // A call is its id: rows that act and name their call by a UUID the
    // window did not show have it read, once a call.
    let unknown: Vec<u128> = acting_uuids.iter().filter(|u| !ids_of_uuids.contains_key(u)).copied().collect();
    if !unknown.is_empty() {
        before.ids = identity::read_ids(api, &unknown, opts.pacing().concurrency.get()).await;
        if api.stop.is_stopped() {
            return Err(read_err("the calls named by UUID", "the job stopped".into()));
        }
        ids_of_uuids.extend(before.ids.ids.drain());
    }
    before.resolver.ids_of_uuids = ids_of_uuids;
    Ok(before)
}

/// How far a report's call time may be from TrackDrive's `created_at`.
const CALL_TIME_SLACK_MS: i64 = 10 * 60 * 1000;

/// The window a run reads in pages (for `--reconcile`, or to find rows by
/// caller): `--since`/`--until`, else the file's call times (`file`, from
/// the prescan), widened by a few minutes for clocks that disagree. `None`
/// when neither says, or the run reads no window.
fn window_range(opts: &Settings, file: Option<(i64, i64)>) -> Result<Option<(i64, i64)>, Fatal> {
    let (file_from, file_to) = match file {
        Some((a, b)) => (Some(a - CALL_TIME_SLACK_MS), Some(b + CALL_TIME_SLACK_MS)),
        None => (None, None),
    };
    match (opts.reading().since.or(file_from), opts.reading().until.or(file_to)) {
        (Some(from), Some(to)) if from <= to => Ok(Some((from, to))),
        (Some(from), None) => Ok(Some((from, jiff::Timestamp::now().as_millisecond()))),
        (Some(_), Some(_)) if opts.reading().until.is_some() => Err(Fatal::usage(anyhow!("--since is after --until"))),
        (Some(_), Some(_)) => Err(Fatal::usage(anyhow!("--since is after the file's latest call_time"))),
        (None, _) => Ok(None),
    }
}

/// With `--rate auto` against a real target, where what it learns of the
/// account's limit is kept for the next run. Not for the sandbox (a new
/// server each time) or a dry run (nothing sent).
fn rate_memory(opts: &Settings, credentials: &Credentials) -> Option<RateMemory> {
    match (&opts.destination().target, opts.pacing().gate) {
        (Target::Url(url), gate::Pacing::Auto { .. }) if opts.mode() != Mode::DryRun => {
            RateMemory::for_account(url, &credentials.public)
        }
        _ => None,
    }
}

/// What an earlier run learned of the limit; a damaged memory is said and
/// ignored (this run's finding replaces it).
fn recall(memory: &RateMemory) -> Option<Remembered> {
    memory.recall(jiff::Timestamp::now()).unwrap_or_else(|e| {
        crate::console::warn(&format!("warning: {e}"));
        None
    })
}

/// The API client every request goes through, aimed at the target.
fn start_api(
    opts: &Settings,
    sim: Option<&Sim>,
    credentials: &Credentials,
    remembered: Option<Remembered>,
) -> Result<Api, Fatal> {
    let base = match (&opts.destination().target, sim) {
        (Target::Url(url), _) => url.clone(),
        (Target::Sandbox, Some(sim)) => sim.base_url(),
        (Target::Sandbox, None) => unreachable!("the sandbox is started before the sender"),
    };
    let endpoint =
        Endpoint::new(base, opts.destination().method, opts.destination().serializer.clone(), opts.pacing().timeout)
            .map_err(|e| Fatal::usage(anyhow!(e)))?;
    let client = ApiClient::new(&endpoint, credentials, opts.pacing().concurrency.get())
        .map_err(|e| Fatal::usage(anyhow!("cannot build the HTTP client: {e}")))?;
    let gate = Gate::starting_from(opts.pacing().gate, opts.pacing().max_pause, remembered.map(|r| r.known));
    let settings = opts.pacing().api_settings();
    Ok(Api::new(client, endpoint, gate, &settings))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(Threshold::parse("5").unwrap(), Threshold::Count(5));
        assert_eq!(Threshold::parse("2.5%").unwrap(), Threshold::Percent(2.5));
        assert!(Threshold::parse("x").is_err());
        assert!(Threshold::parse("150%").is_err());
        assert!(!Threshold::Count(5).passed(5, 100));
        assert!(Threshold::Count(5).passed(6, 100));
        assert!(!Threshold::Percent(10.0).passed(5, 10), "too few rows to judge");
        assert!(!Threshold::Percent(10.0).passed(2, 20));
        assert!(Threshold::Percent(10.0).passed(3, 20));
    }
}
