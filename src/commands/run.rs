//! `tdrecon run FILE`: the job. Wires the pipeline:
//!
//! ```text
//! reader thread: records → validator ─┬─▶ errors.csv
//!                                     └─▶ channel ─▶ buffer_unordered(send_row) ─▶ consumer ─▶ results.csv
//! ```
//!
//! The reader runs on its own thread (csv parsing is blocking work) and owns
//! `errors.csv`. Rows cross a bounded channel in batches (one hand-over, not
//! one thread wake-up, per 64 rows), so memory stays flat however large the
//! file. One consumer owns the results file, the counts and the
//! progress bar, and does nothing slow: the requests in flight never wait on it.

use std::fs::File;
use std::io::BufWriter;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use futures::StreamExt;

use crate::commands::sandbox;
use crate::exit::{Exit, Fatal};
use crate::input::InputOptions;
use crate::outputs::errors::ErrorReport;
use crate::outputs::journal::{self, Binding, Journal, Replay};
use crate::outputs::outcome::StopReason;
use crate::outputs::outcome::{RowOutcome, Status};
use crate::outputs::progress::Progress;
use crate::outputs::results::ResultsWriter;
use crate::outputs::summary::RunSummary;
use crate::outputs::tally::Tally;
use crate::outputs::{create, create_error_report};
use crate::reconcile::{ROLLBACK_HEADER, Snapshot, rollback_cells};
use crate::upload::backoff::{Backoff, RetryBudget};
use crate::upload::client::{ApiClient, Endpoint, Method};
use crate::upload::credentials::Credentials;
use crate::upload::gate::{Gate, Stop};
use crate::upload::lookup;
use crate::upload::row::{Finished, Sender, ValidRow};

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Target {
    /// A checked base URL (`https://…`, or `http://` to loopback).
    Url(String),
    /// A simulator started in process.
    Sandbox,
}

/// Where the API keys come from (never from a flag's value).
#[derive(Debug, Clone)]
pub enum KeySource {
    Environment,
    File(PathBuf),
}

/// When to give up on a run that keeps failing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// More than this many rows rejected, failed or unknown.
    Count(u64),
    /// More than this percentage of finished rows, once 20 have finished.
    Percent(f64),
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let t = text.trim();
        let bad = || format!("--max-failures {t:?}: expected a count (50) or a percentage (5%)");
        match t.strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(Threshold::Percent(p)),
                _ => Err(bad()),
            },
            None => t.parse().map(Threshold::Count).map_err(|_| bad()),
        }
    }

    /// Rows that must finish before a percentage is judged.
    const MIN_SAMPLE: u64 = 20;

    pub fn passed(&self, failures: u64, finished: u64) -> bool {
        match *self {
            Threshold::Count(n) => failures > n,
            Threshold::Percent(p) => finished >= Self::MIN_SAMPLE && failures as f64 * 100.0 > p * finished as f64,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub input: InputOptions,
    pub results: Option<PathBuf>,
    pub errors: Option<PathBuf>,
    pub target: Target,
    pub keys: KeySource,
    /// Requests per second and burst; `None` turns the limiter off.
    pub rate: Option<(NonZeroU32, NonZeroU32)>,
    pub concurrency: NonZeroUsize,
    pub timeout: Duration,
    pub max_retries: u32,
    pub method: Method,
    pub serializer: Option<String>,
    pub max_failures: Option<Threshold>,
    pub max_pause: Duration,
    pub backoff: Backoff,
    pub dry_run: bool,
    pub summary_json: Option<PathBuf>,
    pub quiet: bool,
    /// Continue the run recorded in the journal.
    pub resume: bool,
    /// Discard an existing journal for this file and send everything again.
    pub restart: bool,
    /// Sync the journal to disk (off only for measuring what syncing costs).
    pub journal_sync: bool,
    /// Read each call first, send only what differs, settle ambiguous adds.
    pub reconcile: bool,
    /// Write a file that undoes every applied change (needs `reconcile`).
    pub rollback: Option<PathBuf>,
}

impl RunOptions {
    /// The options that change what is sent: a journal is bound to them, so
    /// a resume cannot send different bodies or to a different place.
    fn fingerprint(&self) -> String {
        let target = match &self.target {
            Target::Url(url) => url.as_str(),
            Target::Sandbox => "sandbox",
        };
        format!(
            "{target}|{:?}|{:?}|{}|{:?}|{:?}",
            self.method, self.serializer, self.input.delimiter, self.input.headers.maps, self.input.headers.ignore
        )
    }
}

/// The journal this run writes, and what an earlier run recorded in it.
struct JournalPlan {
    journal: Option<Journal>,
    replay: Option<Replay>,
    path: PathBuf,
}

/// Decides between a fresh journal, a resumed one, or refusing to start.
fn prepare_journal(opts: &RunOptions, results_path: &Path) -> Result<JournalPlan, Fatal> {
    let path = journal::path_for(results_path);
    // Nothing is sent by a dry run, and a sandbox starts from nothing each
    // time: neither has anything to resume.
    if opts.dry_run || matches!(opts.target, Target::Sandbox) {
        if opts.resume {
            return Err(Fatal::usage(anyhow!("--resume does not apply to --dry-run or --sandbox")));
        }
        return Ok(JournalPlan { journal: None, replay: None, path });
    }
    let binding = Binding::new(&opts.input.path, &opts.fingerprint())
        .with_context(|| format!("cannot read {}", opts.input.path.display()))
        .map_err(Fatal::usage)?;
    let shown = path.display();
    let existing = match path.exists() {
        true => Some(journal::replay(&path).map_err(Fatal::usage)?),
        false => None,
    };
    let replay = match existing {
        None if opts.resume => return Err(Fatal::usage(anyhow!("nothing to resume: there is no journal at {shown}"))),
        None => None,
        Some(replay) if replay.binding.as_ref() != Some(&binding) => {
            if opts.resume {
                return Err(Fatal::usage(anyhow!(
                    "cannot resume: the journal {shown} was written for a different input file or different \
                     sending options (--base-url/--subdomain, --method, --serializer, --map, --ignore-column, \
                     --delimiter); resume with the same file and options, or start again without --resume"
                )));
            }
            None
        }
        Some(_) if opts.restart => None,
        // An earlier run that stopped before any row could have been applied
        // (its keys were refused, the name lists could not be read): nothing
        // to resume, so start again rather than ask for --resume.
        Some(replay) if !opts.resume && replay.nothing_applied() => None,
        Some(replay) if opts.resume => Some(replay),
        Some(replay) if replay.ended => {
            return Err(Fatal::usage(anyhow!(
                "this file was already sent (journal {shown}): sending it again would apply add_revenue, \
                 add_payout, webhooks and transcriptions a second time. Use --resume to retry only the rows \
                 that failed or were not sent, or --restart to send every row again"
            )));
        }
        Some(_) => {
            return Err(Fatal::usage(anyhow!(
                "an earlier run of this file stopped part-way (journal {shown}): add --resume to continue it \
                 (nothing is sent twice), or --restart to discard it and send every row again"
            )));
        }
    };
    let journal = match &replay {
        Some(_) => Journal::append(&path, opts.journal_sync),
        None => Journal::create(&path, &binding, opts.journal_sync),
    }
    .with_context(|| format!("cannot write the journal {shown}"))
    .map_err(Fatal::usage)?;
    Ok(JournalPlan { journal: Some(journal), replay, path })
}

/// Rows cross from the reader thread to the senders in batches of this
/// many: handing over one row at a time woke the reader thread (a futex
/// call each side) for every row the senders took.
const BATCH_ROWS: usize = 64;
/// Batches buffered between the reader thread and the senders (1,024 rows).
const CHANNEL_BATCHES: usize = 16;
/// How often the consumer flushes results to the OS.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

pub fn run(opts: RunOptions) -> Result<Exit, Fatal> {
    // Everything that can be wrong with the set-up is found before a request.
    let (reader, mut validator) = opts.input.open()?;
    if validator.schema().uses_names() && opts.dry_run && !matches!(opts.target, Target::Sandbox) {
        return Err(Fatal::usage(anyhow!(
            "the file names dispositions, buyers or traffic sources: turning names into ids reads the API's \
             lists, which a dry run does not contact; use the id columns, or rehearse with --sandbox"
        )));
    }
    for warning in validator.schema().reassignment_warnings() {
        eprintln!("tdrecon: note: {warning}");
    }
    let credentials = match (&opts.target, opts.dry_run) {
        (Target::Sandbox, _) | (_, true) => Credentials::new("sandbox", "sandbox"),
        (Target::Url(_), false) => match &opts.keys {
            KeySource::File(path) => Credentials::from_file(path).map_err(Fatal::usage)?,
            KeySource::Environment => match Credentials::from_env() {
                Some(c) => c.map_err(Fatal::usage)?,
                None => return Err(Fatal::usage(crate::upload::credentials::CredentialsError::Missing)),
            },
        },
    };
    let results_path = opts.results.clone().unwrap_or_else(|| opts.input.sibling("results"));
    let errors_path = opts.errors.clone().unwrap_or_else(|| opts.input.sibling("errors"));
    if opts.rollback.is_some() && !opts.reconcile {
        return Err(Fatal::usage(anyhow!(
            "--rollback needs --reconcile: it is built from the values read before each write"
        )));
    }
    let plan = prepare_journal(&opts, &results_path)?;
    let rollback = match &opts.rollback {
        Some(path) => Some(open_rollback(path, plan.replay.is_some())?),
        None => None,
    };
    let errors = create_error_report(&errors_path, &validator.schema().headers)?;
    let mut results = ResultsWriter::new(create(&results_path)?)
        .with_context(|| format!("cannot write {}", results_path.display()))
        .map_err(Fatal::usage)?;
    // A resumed run's results start with every row an earlier run finished.
    let mut earlier = RunSummary::default();
    if plan.replay.is_some() {
        journal::copy_done(&plan.path, |fields| {
            earlier.record_fields(fields);
            results.write_fields(fields).map_err(std::io::Error::other)
        })
        .with_context(|| {
            format!("cannot copy finished rows from {} to {}", plan.path.display(), results_path.display())
        })
        .map_err(Fatal::usage)?;
    }

    // One thread drives every request: the work per request is small, and
    // handing tasks between worker threads cost more than it saved (futex
    // wake-ups dominated a profile). Parsing and journal syncs have threads
    // of their own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Fatal::usage)?;
    runtime.block_on(async move {
        let sim = match opts.target {
            Target::Sandbox => Some(sandbox::start(&opts.input).await?),
            Target::Url(_) => None,
        };
        let base = match (&opts.target, &sim) {
            (Target::Url(url), _) => url.clone(),
            (Target::Sandbox, Some(sim)) => sim.base_url(),
            (Target::Sandbox, None) => unreachable!("the sandbox was started above"),
        };
        let endpoint = Endpoint::new(base, opts.method, opts.serializer.clone(), opts.timeout)
            .map_err(|e| Fatal::usage(anyhow!(e)))?;
        let client = ApiClient::new(&endpoint, &credentials, opts.concurrency.get())
            .map_err(|e| Fatal::usage(anyhow!("cannot build the HTTP client: {e}")))?;
        let sender = Arc::new(Sender {
            journal: plan.journal,
            client,
            endpoint,
            gate: Gate::new(opts.rate, opts.max_pause),
            stop: Stop::default(),
            budget: RetryBudget::new(50, 20),
            reconcile: opts.reconcile,
            permits: tokio::sync::Semaphore::new(opts.concurrency.get()),
            backoff: opts.backoff,
            max_retries: opts.max_retries,
        });
        if validator.schema().uses_names() {
            let directory = lookup::fetch_directory(&sender).await.map_err(|e| {
                let error = anyhow!("cannot read the lists that turn names into ids: {e}");
                if sender.stop.is_stopped() { Fatal::aborted(error) } else { Fatal::usage(error) }
            })?;
            validator.set_directory(directory);
        }
        let interrupts = tokio::spawn(watch_for_interrupts(Arc::clone(&sender)));
        let outputs = Outputs { errors, results, rollback, results_path, errors_path };
        let mut summary = pipeline(&opts, reader, validator, outputs, &sender, plan.replay).await?;
        interrupts.abort();
        // Wait for the watcher to be gone, so it no longer holds the sender.
        let _ = interrupts.await;
        summary.merge_earlier(earlier);
        let sender = Arc::into_inner(sender).expect("every task holding the sender has finished");
        if let Some(journal) = sender.journal
            && let Err(e) = journal.finish(summary.stop.is_none())
        {
            summary
                .stop
                .get_or_insert(StopReason::Aborted(format!("cannot write the journal {}: {e}", plan.path.display())));
        }
        if let Some(path) = &opts.summary_json {
            let json = serde_json::to_vec_pretty(&summary.to_json()).expect("the summary is plain JSON");
            std::fs::write(path, json)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Fatal::aborted)?;
        }
        print!("{}", summary.render());
        if let Some(sim) = &sim {
            print!("{}", sandbox::describe(sim));
        }
        if summary.stop.is_some() && !opts.dry_run && !matches!(opts.target, Target::Sandbox) {
            eprintln!("tdrecon: stopped; to continue where it left off (nothing is sent twice): {}", resume_command());
        }
        Ok(summary.exit())
    })
}

/// The files a run writes, open and ready.
struct Outputs {
    errors: ErrorReport<BufWriter<File>>,
    results: ResultsWriter<BufWriter<File>>,
    rollback: Option<csv::Writer<BufWriter<File>>>,
    results_path: PathBuf,
    errors_path: PathBuf,
}

/// Opens the rollback file; a resumed run adds to the one it started.
fn open_rollback(path: &Path, resuming: bool) -> Result<csv::Writer<BufWriter<File>>, Fatal> {
    let append = resuming && std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(Fatal::usage)?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    if !append {
        w.write_record(ROLLBACK_HEADER)
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Fatal::usage)?;
    }
    Ok(w)
}

async fn pipeline(
    opts: &RunOptions,
    mut reader: crate::input::reader::CsvReader,
    mut validator: crate::input::validate::Validator,
    outputs: Outputs,
    sender: &Arc<Sender>,
    replay: Option<Replay>,
) -> Result<RunSummary, Fatal> {
    let Outputs { mut errors, mut results, mut rollback, results_path, errors_path } = outputs;
    let started = Instant::now();
    let invalid_rows = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<ValidRow>>(CHANNEL_BATCHES);

    // The reader thread: parse, validate, report invalid rows, pass on valid ones.
    let input_path = opts.input.path.clone();
    let invalid = Arc::clone(&invalid_rows);
    let reader_stop = Arc::clone(sender);
    let reader_errors_path = errors_path.clone();
    let reader_thread = std::thread::spawn(move || -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let fail = |e: anyhow::Error| {
            reader_stop.stop.trigger(StopReason::Aborted(format!("{e:#}")));
            e
        };
        let mut read_all = || -> anyhow::Result<()> {
            while let Some(record) =
                reader.next_record().with_context(|| format!("cannot read {}", input_path.display())).map_err(fail)?
            {
                tally.rows += 1;
                match validator.check(&record) {
                    Ok(update) => {
                        tally.valid += 1;
                        let (done, in_doubt) = match &replay {
                            Some(r) => (r.done.contains(record.line), r.in_doubt.contains(record.line)),
                            None => (false, false),
                        };
                        // Finished by an earlier run: already in results.
                        if done {
                            continue;
                        }
                        let before = replay
                            .as_ref()
                            .and_then(|r| r.before.get(&record.line))
                            .and_then(|json| Snapshot::parse(json));
                        batch.push(ValidRow { line: record.line, update, in_doubt, before });
                        if batch.len() == BATCH_ROWS {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                            if tx.blocking_send(full).is_err() {
                                break;
                            }
                        }
                    }
                    Err(rejection) => {
                        tally.reject(rejection.kind, &rejection.column);
                        invalid.fetch_add(1, Ordering::Relaxed);
                        errors
                            .write(record.line, &rejection, record.raw)
                            .with_context(|| format!("cannot write {}", reader_errors_path.display()))
                            .map_err(&fail)?;
                    }
                }
            }
            Ok(())
        };
        let read = read_all();
        // The rows read so far go on even when reading stopped early, so each
        // is accounted for (as `not_sent` once the job stops). The senders
        // may be gone (the job stopped first): then there is no one to tell.
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        read?;
        errors
            .into_inner()
            .and_then(|mut w| std::io::Write::flush(&mut w))
            .with_context(|| format!("cannot write {}", reader_errors_path.display()))
            .map_err(fail)?;
        Ok(tally)
    });

    let rows =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|batch| (futures::stream::iter(batch), rx)) },
        )
        .flatten();
    let dry_run = opts.dry_run;
    let outcomes = rows
        .map(|row| {
            let sender = Arc::clone(sender);
            async move {
                if dry_run {
                    let mut out = RowOutcome::new(row.line, row.update.call, Status::NotSent);
                    out.request_body = Some(String::from_utf8_lossy(&row.update.body_bytes()).into_owned());
                    out.update = Some(row.update);
                    Finished::new(out)
                } else {
                    let outcome = sender.send_row(row).await;
                    sender.journal_outcome(outcome).await
                }
            }
        })
        .buffer_unordered(opts.concurrency.get() + journal_headroom(opts.concurrency));
    let mut outcomes = std::pin::pin!(outcomes);

    let mut summary = RunSummary {
        input: opts.input.path.clone(),
        results: results_path.clone(),
        errors: errors_path,
        dry_run,
        ..RunSummary::default()
    };
    let mut progress = Progress::new(opts.quiet, &opts.input.path);
    let mut last_flush = Instant::now();
    let mut write_error: Option<anyhow::Error> = None;
    while let Some(Finished { outcome, fields }) = outcomes.next().await {
        summary.record_fields(&fields);
        if write_error.is_none()
            && let Err(e) = results.write_fields(&fields)
        {
            sender.stop.trigger(StopReason::Aborted(format!("cannot write {}: {e}", results_path.display())));
            write_error = Some(e.into());
        }
        if let (Some(w), Status::Ok, Some(before), Some(sent)) =
            (rollback.as_mut(), outcome.status, &outcome.before, &outcome.sent)
            && let Some(cells) = rollback_cells(sent, before)
            && let Err(e) = w.write_record(&cells)
        {
            sender.stop.trigger(StopReason::Aborted(format!("cannot write the rollback file: {e}")));
        }
        if let Some(threshold) = opts.max_failures
            && threshold.passed(summary.failures(), summary.sent_or_settled())
        {
            sender.stop.trigger(StopReason::Aborted(format!(
                "{} rows rejected, failed or unknown: past --max-failures",
                summary.failures()
            )));
        }
        progress.update(summary.sent_or_settled() + invalid_rows.load(Ordering::Relaxed), || summary.counts_line());
        if last_flush.elapsed() >= FLUSH_EVERY {
            if let Err(e) = results.flush() {
                sender.stop.trigger(StopReason::Aborted(format!("cannot write {}: {e}", results_path.display())));
            }
            last_flush = Instant::now();
        }
    }
    progress.finish();
    if let Some(w) = rollback
        && let Err(e) = w.into_inner().map_err(|e| e.into_error()).and_then(|mut w| std::io::Write::flush(&mut w))
    {
        sender.stop.trigger(StopReason::Aborted(format!("cannot write the rollback file: {e}")));
    }
    if let Err(e) = results.into_inner().and_then(|mut w| std::io::Write::flush(&mut w)) {
        sender.stop.trigger(StopReason::Aborted(format!("cannot write {}: {e}", results_path.display())));
    }
    summary.validation = match reader_thread.join() {
        Ok(Ok(tally)) => tally,
        Ok(Err(e)) => return Err(Fatal::aborted(e)),
        Err(_) => return Err(Fatal::aborted(anyhow!("the reader thread panicked"))),
    };
    summary.retries = sender.budget.retries();
    summary.elapsed = started.elapsed();
    summary.stop = sender.stop.reason();
    Ok(summary)
}

/// Rows allowed past the rate limiter beyond `--concurrency`: they wait
/// for their journal intents' sync while the send slots are busy, so the
/// journal's batched syncs (see `journal.rs`) do not leave slots idle. The
/// cost: after a hard crash, up to this many rows whose intent is on disk
/// were never sent, and a resume treats them as in doubt. Rows only wait
/// here when the limiter lets them through faster than slots free up (as
/// with --rate 0); at a production rate they pass straight through.
fn journal_headroom(concurrency: NonZeroUsize) -> usize {
    // Enough rows to cover a sync window at full speed (benches/journal.sh).
    concurrency.get() * 3
}

/// Ctrl-C or SIGTERM stops admitting rows and lets those in flight finish;
/// a second one exits at once (the journal still reads back: every record
/// is either whole or ignored).
async fn watch_for_interrupts(sender: Arc<Sender>) {
    crate::commands::sim::wait_for_signal().await;
    sender.stop.trigger(StopReason::Interrupted);
    eprintln!("tdrecon: stopping: no new rows; waiting for the requests in flight (Ctrl-C again to quit at once)");
    crate::commands::sim::wait_for_signal().await;
    eprintln!("tdrecon: quit at once; to continue: {}", resume_command());
    std::process::exit(Exit::Interrupted as i32);
}

/// This process's command line with `--resume`: safe to print, because no
/// secret is ever taken from an argument.
fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--restart").collect();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    let quoted = args.iter().map(|a| {
        if a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c)) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    });
    std::iter::once("tdrecon".to_string()).chain(quoted).collect::<Vec<_>>().join(" ")
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
