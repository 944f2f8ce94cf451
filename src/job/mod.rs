//! `tdrecon run FILE` and `tdrecon plan FILE`: the job, configured by its
//! `settings` (a mode and its parts). In order: `setup` checks what can be
//! wrong before a request (the input, the keys, the outputs), `journal_plan`
//! decides between a fresh run, a resumed one and a refusal, `repeats` opens
//! the account's ledger, `prescan` reads the rows once when times, UUIDs or
//! a sandbox's calls are needed, `before` reads what the rows need (names,
//! the window, ids), `pipeline` reads, validates, resolves and sends every
//! row, `after` takes the steps after the last row (`discrepancies` judges
//! the report against the window), and `interrupts` drains the job on a
//! signal; `sandbox` is the simulator a rehearsal starts.

mod after;
mod before;
mod discrepancies;
mod interrupts;
mod journal_plan;
mod pipeline;
mod prescan;
mod repeats;
pub mod sandbox;
mod settings;
mod setup;

pub use settings::{Destination, KeySource, Mode, Outputs, Pacing, Reading, Safety, Settings, Target, Threshold};

use anyhow::Context;

use crate::exit::{Exit, Fatal};
use crate::input::reader::CsvReader;
use crate::input::validate::Validator;
use crate::reports::summary::RunSummary;
use crate::reports::summary_json;
use crate::send::row::{Uploader, Uploads};
use crate::trackdrive::credentials::Credentials;
use interrupts::watch_for_interrupts;
use journal_plan::{JournalPlan, prepare_journal};
use pipeline::{Earlier, OpenFiles, pipeline};

pub fn run(opts: Settings) -> Result<Exit, Fatal> {
    let started_at = summary_json::now();
    let stamp = crate::input::source::stamp(&opts.input().name);
    let (reader, validator) = setup::check_input(&opts)?;
    let credentials = setup::load_credentials(&opts)?;
    let plan = prepare_journal(&opts)?;
    let repeats = repeats::open(&opts, &validator, &credentials, &plan.run, plan.input_sha256.as_deref())?;
    let prescan = prescan::prescan(&opts)?;
    let reads_window = opts.reading().reconcile || validator.schema().matches_callers();
    let range = if reads_window { before::window_range(&opts, prescan.times)? } else { None };
    let (outputs, earlier) =
        setup::open_outputs(&opts, &validator, &plan, repeats.ledgered.as_ref().map(|l| &l.ledger))?;

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

/// The async half of a run: starts the senders (and the sandbox), reads
/// what the rows need, runs the pipeline, then the steps after it
/// (`after`) and the summary.
/// How the job ends: a plan that finished is a plan (invalid rows and calls
/// that differ are its news).
fn exit_of(opts: &Settings, summary: &crate::reports::summary::RunSummary) -> Exit {
    match summary.exit() {
        Exit::SomeRowsFailed if opts.mode().plans() => Exit::Ok,
        exit => exit,
    }
}

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
    let memory = setup::rate_memory(&opts, &credentials);
    let remembered = memory.as_ref().and_then(setup::recall);
    let api = setup::start_api(&opts, sim.as_ref(), &credentials, remembered)?;
    let mut before = before::read_before(&opts, &api, &validator, range, replay.is_some(), &acting_uuids).await?;
    // The run's end goes to the ledger its rows went to (a run that sends).
    let ledger_run = repeats.run_record(&name);
    let uploads = Uploads {
        journal,
        window: before.calls.take(),
        reconcile: opts.reading().reconcile,
        plan: opts.mode().plans(),
        run: name,
        references: opts.safety().references,
        echoed: replay.as_ref().is_some_and(|r| r.echoed),
        applied: outputs.earlier_applied,
        ledger: repeats.ledgered,
        audit_lag: opts.safety().audit_lag,
        log_check: opts.log_check(),
        log_before_acting: opts.log_before_acting(),
        signed: opts.reading().signed_plan.clone(),
        unread_uuids: before.ids.unread.clone(),
        zone: validator.schema().time_zone.clone(),
    };
    let uploader = Uploader::new(&api, uploads);
    let interrupts = tokio::spawn(watch_for_interrupts(api.stop.clone()));
    let resumed = replay.is_some();
    let resolver = std::mem::take(&mut before.resolver);
    let misses = resolver.matcher.as_ref().map(|m| (m.misses(), m.tolerance_ms()));
    let earlier_runs = Earlier { replay, ledger: repeats.early };
    let (mut summary, report_rows) =
        pipeline(&opts, reader, (validator, resolver), outputs, &uploader, &api, earlier_runs).await?;
    interrupts.abort();
    summary.merge_earlier(earlier);
    let ending = after::Ending {
        range,
        resumed,
        report_rows,
        before,
        located: repeats.located,
        memory,
        remembered,
        stamp,
        journal_path,
        misses,
    };
    after::finish(&opts, &api, uploader, ending, &mut summary).await;
    summary.started_at = started_at;
    summary.finished_at = summary_json::now();
    summary.input_sha256 = input_sha256.or_else(|| opts.input().survey.as_ref().map(|s| s.sha256.clone()));
    after::order_results(&opts, &mut summary);
    after::write_page(&opts, &mut summary);
    let exit = exit_of(&opts, &summary);
    if let Some((at, account, run)) = ledger_run {
        after::record_run(&at, &account, &run, &summary, exit);
    }
    after::tell(&opts, &mut summary, sim.as_ref(), exit)?;
    Ok(exit)
}
