//! Setting up a run before its first request: the input and what it asks
//! for, the keys, the outputs (a resumed run's results start with what it
//! finished), the rate an earlier run learnt, and the API client.

use anyhow::{Context, anyhow};

use super::journal_plan::JournalPlan;
use super::pipeline::OpenFiles;
use super::{KeySource, Mode, Settings, Target};
use crate::exit::Fatal;
use crate::files::create;
use crate::input::reader::CsvReader;
use crate::input::validate::Validator;
use crate::outcome::{RowOutcome, Status};
use crate::records::journal;
use crate::records::rate_memory::{RateMemory, Remembered};
use crate::reports::errors::create_error_report;
use crate::reports::results::ResultsWriter;
use crate::reports::summary::RunSummary;
use crate::sim::Sim;
use crate::trackdrive::api::Api;
use crate::trackdrive::client::{ApiClient, Endpoint};
use crate::trackdrive::credentials::Credentials;
use crate::trackdrive::gate::{self, Gate};

/// Opens the input and checks what the file asks for against the options.
pub(super) fn check_input(opts: &Settings) -> Result<(CsvReader, Validator), Fatal> {
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
pub(super) fn load_credentials(opts: &Settings) -> Result<Credentials, Fatal> {
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
pub(super) fn open_outputs(
    opts: &Settings,
    validator: &Validator,
    plan: &JournalPlan,
    ledger: Option<&crate::records::ledger::Ledger>,
) -> Result<(OpenFiles, RunSummary), Fatal> {
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
            settle_in_ledger(ledger, &outcome);
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

/// A row the run being resumed finished: its outcome given to the ledger
/// again, in case the killed process's last outcomes never reached it (its
/// intent would stay `sent`, and another run would hold the row as one in
/// doubt). `ok` and `unknown` stay; a row not applied leaves this run's
/// record, if it has one.
fn settle_in_ledger(ledger: Option<&crate::records::ledger::Ledger>, outcome: &RowOutcome) {
    use crate::records::ledger::Recorded;
    let Some(ledger) = ledger else { return };
    let status = match outcome.status {
        Status::Ok => Some(Recorded::Ok),
        Status::Unknown => Some(Recorded::Unknown),
        _ => None,
    };
    ledger.outcome(outcome.line, status, None);
}

/// With `--rate auto` against a real target, where what it learns of the
/// account's limit is kept for the next run. Not for the sandbox (a new
/// server each time) or a dry run (nothing sent).
pub(super) fn rate_memory(opts: &Settings, credentials: &Credentials) -> Option<RateMemory> {
    match (&opts.destination().target, opts.pacing().gate) {
        (Target::Url(url), gate::Pacing::Auto { .. }) if opts.mode() != Mode::DryRun => {
            RateMemory::for_account(url, &credentials.public)
        }
        _ => None,
    }
}

/// What an earlier run learned of the limit; a damaged memory is said and
/// ignored (this run's finding replaces it).
pub(super) fn recall(memory: &RateMemory) -> Option<Remembered> {
    memory.recall(jiff::Timestamp::now()).unwrap_or_else(|e| {
        crate::console::warn(&format!("warning: {e}"));
        None
    })
}

/// The API client every request goes through, aimed at the target.
pub(super) fn start_api(
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
