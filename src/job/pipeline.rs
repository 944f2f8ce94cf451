//! The pipeline of one run, once everything is open:
//!
//! ```text
//! reader thread: records → validator ─┬─▶ errors.csv
//!                                     └─▶ channel ─▶ buffer_unordered(send_row) ─▶ collector ─▶ results.csv
//! ```
//!
//! The reader runs on its own thread (csv parsing is blocking work) and owns
//! `errors.csv`. Rows cross a bounded channel in batches (one hand-over, not
//! one thread wake-up, per 64 rows), so memory stays flat however large the
//! file. One collector owns the results file, the counts and the progress
//! bar, and does nothing slow: the requests in flight never wait on it.

use std::fs::File;
use std::io::BufWriter;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::discrepancies::ReportRows;
use super::{Mode, Settings, Threshold};
use crate::exit::Fatal;
use crate::input::reader::{CsvReader, Record};
use crate::input::rejection::Rejection;
use crate::input::update::CallUpdate;
use crate::input::validate::Validator;
use crate::input::values::CallRef;
use crate::outcome::{RowOutcome, Status};
use crate::records::journal::Replay;
use crate::records::ledger::{self, Check};
use crate::reports::errors::ErrorReport;
use crate::reports::progress::Progress;
use crate::reports::results::ResultsWriter;
use crate::reports::rollback::rollback_cells;
use crate::reports::summary::{LOOKS_KEPT, Look, RunSummary};
use crate::reports::tally::Tally;
use crate::resolve::Resolver;
use crate::send::row::{Earlier as EarlierRun, Uploader, ValidRow};
use crate::trackdrive::Snapshot;
use crate::trackdrive::api::Api;
use crate::trackdrive::gate::Stop;
use crate::trackdrive::gate::StopReason;

/// Rows cross from the reader thread to the senders in batches of this
/// many: handing over one row at a time woke the reader thread (a futex
/// call each side) for every row the senders took.
const BATCH_ROWS: usize = 64;
/// Batches buffered between the reader thread and the senders (1,024 rows).
const CHANNEL_BATCHES: usize = 16;
/// How often the collector flushes results to the OS.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// The files a run writes, open and ready.
pub(super) struct OpenFiles {
    pub errors: ErrorReport<BufWriter<File>>,
    /// `None` for `plan --discrepancies-only`: no plan file.
    pub results: Option<ResultsWriter<BufWriter<File>>>,
    pub rollback: Option<csv::Writer<BufWriter<File>>>,
    pub results_path: PathBuf,
    pub errors_path: PathBuf,
    /// Rows results.csv already holds from an earlier run (`--resume`).
    pub already_done: u64,
    /// A row the earlier run applied (its call and line), if any.
    pub earlier_applied: Option<(crate::input::values::CallRef, u64)>,
}

/// What earlier runs recorded, that the reader checks each row against.
pub(super) struct Earlier {
    /// This file's journal, resumed (`--resume`).
    pub replay: Option<Replay>,
    /// The account's ledger, to refuse a row another run applied.
    pub ledger: Option<(ledger::Reader, Check)>,
}

/// Reads, validates and sends every row; returns the run's summary.
pub(super) async fn pipeline(
    opts: &Settings,
    reader: CsvReader,
    (validator, resolver): (Validator, Resolver),
    outputs: OpenFiles,
    uploader: &Uploader<'_>,
    api: &Api,
    earlier: Earlier,
) -> Result<(RunSummary, Option<ReportRows>), Fatal> {
    let Earlier { replay, ledger } = earlier;
    let OpenFiles { errors, results, rollback, results_path, errors_path, already_done, .. } = outputs;
    let started = Instant::now();
    let invalid_rows = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<Vec<ValidRow>>(CHANNEL_BATCHES);
    let report_rows = opts.reading().reconcile.then(|| ReportRows::new(validator.schema().pays()));
    let reader_thread = ReaderThread {
        reader,
        validator,
        resolver,
        errors,
        errors_path: errors_path.clone(),
        input_path: opts.input().name.clone(),
        replay,
        ledger,
        invalid: Arc::clone(&invalid_rows),
        stop: api.stop.clone(),
        report_rows,
    }
    .spawn(tx);

    let summary = RunSummary {
        input: opts.input().name.clone(),
        sheet: opts.input().sheet.clone(),
        results: results_path.clone(),
        errors: errors_path,
        dry_run: opts.mode() == Mode::DryRun,
        ..RunSummary::default()
    };
    let mut collector = Collector {
        api,
        results,
        results_path,
        rollback,
        max_failures: opts.safety().max_failures,
        summary,
        progress: Progress::new(opts.outputs().quiet, opts.input().survey.as_ref().map(|s| s.records), already_done),
        already_done,
        last_flush: Instant::now(),
        write_failed: false,
    };
    let mut outcomes = std::pin::pin!(send_all(opts, uploader, rx));
    while let Some(outcome) = outcomes.next().await {
        collector.take(outcome, invalid_rows.load(Ordering::Relaxed));
    }
    let mut summary = collector.finish();
    let read = reader_thread.join().map_err(|_| Fatal::aborted(anyhow!("the reader thread panicked")))?;
    summary.validation = read.tally;
    summary.looks.extend(read.looks);
    summary.looks.sort_by_key(|l| l.line);
    summary.retries = api.budget.retries();
    summary.throttled = api.gate.throttled.load(Ordering::Relaxed);
    summary.pauses = api.gate.pauses.load(Ordering::Relaxed);
    summary.rate = api.gate.rate();
    summary.rate_reached = api.gate.auto_reached();
    summary.elapsed = started.elapsed();
    summary.stop = api.stop.reason();
    Ok((summary, read.report_rows))
}

/// The rows from the reader thread, sent `--concurrency` at a time (or,
/// for a dry run, turned into the bodies they would send), as they finish.
fn send_all<'a>(
    opts: &Settings,
    uploader: &'a Uploader<'a>,
    rx: mpsc::Receiver<Vec<ValidRow>>,
) -> impl Stream<Item = RowOutcome> + 'a {
    let rows =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|batch| (futures::stream::iter(batch), rx)) },
        )
        .flatten();
    let dry_run = opts.mode() == Mode::DryRun;
    // `plan --discrepancies-only`: the rows are read and judged, not planned.
    let only_read = opts.mode() == Mode::DiscrepanciesOnly;
    rows.filter(move |_| std::future::ready(!only_read))
        .map(move |row| async move {
            if dry_run {
                dry_run_outcome(row.line, row.update)
            } else {
                let outcome = uploader.send_row(row).await;
                uploader.journal_outcome(outcome)
            }
        })
        .buffer_unordered(opts.pacing().concurrency.get() + journal_headroom(opts.pacing().concurrency))
}

/// A dry run's row: `not_sent`, with the body it would send.
fn dry_run_outcome(line: u64, update: CallUpdate) -> RowOutcome {
    let mut out = RowOutcome::new(line, update.call, Status::NotSent);
    out.request_body = Some(String::from_utf8_lossy(&update.body_bytes()).into_owned());
    out.update = Some(update);
    out
}

/// Rows allowed past the rate limiter beyond `--concurrency`: they wait
/// for their journal intents' sync while the send slots are busy, so the
/// journal's batched syncs (see `outputs/journal.rs`) do not leave slots idle. The
/// cost: after a hard crash, up to this many rows whose intent is on disk
/// were never sent, and a resume treats them as in doubt. Rows only wait
/// here when the limiter lets them through faster than slots free up (as
/// with --rate 0); at a production rate they pass straight through.
fn journal_headroom(concurrency: NonZeroUsize) -> usize {
    // Enough rows to cover a sync window at full speed (benches/journal.sh).
    concurrency.get() * 3
}

/// The reader thread: parse, validate, report invalid rows, pass on valid ones.
struct ReaderThread {
    reader: CsvReader,
    validator: Validator,
    /// What the reads before the rows told: names, calls by caller, ids of UUIDs.
    resolver: Resolver,
    errors: ErrorReport<BufWriter<File>>,
    errors_path: PathBuf,
    input_path: PathBuf,
    /// What an earlier run of this file recorded (`--resume`).
    replay: Option<Replay>,
    /// The ledger, to refuse a row an earlier run applied before it is sent.
    ledger: Option<(ledger::Reader, Check)>,
    /// Rows rejected so far, for the progress bar.
    invalid: Arc<AtomicU64>,
    stop: Stop,
    /// With `--reconcile`: each valid row's call, label and amount, for the
    /// discrepancies.
    report_rows: Option<ReportRows>,
}

/// What the reader thread hands back.
struct Read {
    tally: Tally,
    /// The first rejected rows, for the page's rows that need a look.
    looks: Vec<Look>,
    report_rows: Option<ReportRows>,
}

impl ReaderThread {
    fn spawn(self, tx: mpsc::Sender<Vec<ValidRow>>) -> std::thread::JoinHandle<Read> {
        std::thread::spawn(move || self.run(tx))
    }

    /// Reads to the end, or until the input or errors.csv fails: then the
    /// job stops (the summary says why, and how to resume) with every row
    /// read so far accounted for.
    fn run(mut self, tx: mpsc::Sender<Vec<ValidRow>>) -> Read {
        let mut tally = Tally::default();
        let mut looks = Vec::new();
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let read = self.read_all(&mut tally, &mut looks, &mut batch, &tx);
        if let Err(e) = &read {
            self.stop.trigger(StopReason::Aborted(format!("{e:#}")));
        }
        // The rows read so far go on even when reading stopped early, so each
        // is accounted for (as `not_sent` once the job stops). The senders
        // may be gone (the job stopped first): then there is no one to tell.
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        if read.is_ok()
            && let Err(e) = self
                .errors
                .into_inner()
                .and_then(|mut w| std::io::Write::flush(&mut w))
                .with_context(|| format!("cannot write {}", self.errors_path.display()))
        {
            self.stop.trigger(StopReason::Aborted(format!("{e:#}")));
        }
        Read { tally, looks, report_rows: self.report_rows }
    }

    /// An invalid row in "Rows that need a look", with the call it names
    /// when it names one validly.
    fn invalid_look(validator: &Validator, record: &Record<'_>, rejection: &Rejection) -> Look {
        Look {
            line: record.line,
            call: validator.call_named(record.raw).map(|c| c.to_string()).unwrap_or_default(),
            status: "invalid".into(),
            column: rejection.column.clone(),
            why: rejection.reason.clone(),
        }
    }

    fn read_all(
        &mut self,
        tally: &mut Tally,
        looks: &mut Vec<Look>,
        batch: &mut Vec<ValidRow>,
        tx: &mpsc::Sender<Vec<ValidRow>>,
    ) -> anyhow::Result<()> {
        let ReaderThread {
            reader,
            validator,
            resolver,
            errors,
            errors_path,
            input_path,
            replay,
            ledger,
            invalid,
            report_rows,
            ..
        } = self;
        while let Some(record) = reader.next_record().map_err(|e| crate::input::reader::read_error(input_path, e))? {
            tally.rows += 1;
            // Checked on its own, joined by what the API said, then one call, one row.
            let checked = validator.read(&record).and_then(|mut update| {
                resolver.resolve(&mut update, validator.schema())?;
                validator.one_call(&record, &update).map(|()| update)
            });
            if let Some(rows) = report_rows.as_mut() {
                // Every row the report holds names its call, sent or not, valid or not.
                match &checked {
                    Ok(update) => rows.push(record.line, update),
                    Err(_) => rows.push_rejected(record.line, validator.call_named(record.raw)),
                }
            }
            // A row an earlier run applied is not a row to fix: it ends
            // `already_applied` in results.csv, without a request.
            let checked = match checked.map(|u| to_send(replay.as_ref(), record.line, u)) {
                Ok(Some(mut row)) => {
                    let earlier = repeat_of(ledger.as_ref(), &row.update, &validator.schema().time_zone);
                    row.applied_before = earlier.map_err(|e| anyhow!(e))?;
                    Ok(Some(row))
                }
                other => other,
            };
            match checked {
                Ok(row) => {
                    let Some(row) = row else {
                        // Finished by the run this one resumes.
                        tally.valid += 1;
                        continue;
                    };
                    tally.valid(&row.update);
                    batch.push(row);
                    if batch.len() == BATCH_ROWS {
                        let full = std::mem::replace(batch, Vec::with_capacity(BATCH_ROWS));
                        if tx.blocking_send(full).is_err() {
                            break;
                        }
                    }
                }
                Err(rejection) => {
                    tally.reject(rejection.kind, &rejection.column);
                    if looks.len() < LOOKS_KEPT {
                        looks.push(Self::invalid_look(validator, &record, &rejection));
                    }
                    invalid.fetch_add(1, Ordering::Relaxed);
                    errors
                        .write(record.line, &rejection, record.raw)
                        .with_context(|| format!("cannot write {}", errors_path.display()))?;
                }
            }
        }
        Ok(())
    }
}

/// Why the ledger holds back a row whose call an earlier run gave the same
/// add, fire or transcription (within the window), naming that run's file,
/// line and date. A row whose call is found later (by caller number) is
/// checked when its intent is recorded.
fn repeat_of(
    ledger: Option<&(ledger::Reader, Check)>,
    update: &CallUpdate,
    zone: &jiff::tz::TimeZone,
) -> Result<Option<EarlierRun>, String> {
    let Some((reader, check)) = ledger else { return Ok(None) };
    if update.call == CallRef::PENDING || update.is_idempotent() {
        return Ok(None);
    }
    let actions = update.actions();
    Ok(reader.repeat(&update.call.to_string(), &actions, check)?.map(|repeat| EarlierRun {
        status: repeat.status(),
        why: repeat.reason(zone),
        reference: repeat.earlier.reference.clone(),
    }))
}

/// A valid row as the senders get it, or `None` when an earlier run
/// finished it (its result is already in results.csv).
fn to_send(replay: Option<&Replay>, line: u64, update: CallUpdate) -> Option<ValidRow> {
    let Some(replay) = replay else {
        return Some(ValidRow {
            line,
            update,
            in_doubt: false,
            before: None,
            intent_at: None,
            finished: false,
            applied_before: None,
        });
    };
    if replay.done.contains(line) {
        return None;
    }
    let before = replay.before.get(&line).and_then(|json| Snapshot::parse(json));
    let in_doubt = replay.in_doubt.contains(line);
    let (intent_at, finished) = (replay.intent_at.get(&line).copied(), replay.finished.contains(line));
    Some(ValidRow { line, update, in_doubt, before, intent_at, finished, applied_before: None })
}

/// Owns everything the outcomes update: results.csv, the rollback file, the
/// counts and the progress bar. Quick by design (see the module's doc).
struct Collector<'a> {
    api: &'a Api,
    results: Option<ResultsWriter<BufWriter<File>>>,
    results_path: PathBuf,
    rollback: Option<csv::Writer<BufWriter<File>>>,
    max_failures: Option<Threshold>,
    summary: RunSummary,
    progress: Progress,
    /// Rows an earlier run finished: the bar counts them done.
    already_done: u64,
    last_flush: Instant,
    /// results.csv could not be written: the job is stopping, stop trying.
    write_failed: bool,
}

impl Collector<'_> {
    fn abort(&self, why: String) {
        self.api.stop.trigger(StopReason::Aborted(why));
    }

    /// One finished row; `invalid` is the rows rejected so far.
    fn take(&mut self, outcome: RowOutcome, invalid: u64) {
        self.summary.record(&outcome);
        if matches!(outcome.status, Status::Rejected | Status::Failed | Status::Unknown)
            && self.summary.looks.len() < LOOKS_KEPT
        {
            self.summary.looks.push(Look {
                line: outcome.line,
                call: outcome.call.to_string(),
                status: outcome.status.to_string(),
                column: String::new(),
                why: outcome.error.clone(),
            });
        }
        if !self.write_failed
            && let Some(results) = self.results.as_mut()
            && let Err(e) = results.write(&outcome)
        {
            self.abort(format!("cannot write {}: {e}", self.results_path.display()));
            self.write_failed = true;
        }
        if let (Some(w), Status::Ok, Some(before), Some(sent)) =
            (self.rollback.as_mut(), outcome.status, &outcome.before, &outcome.sent)
            && let Some(cells) = rollback_cells(sent, before)
            && let Err(e) = w.write_record(&cells)
        {
            self.abort(format!("cannot write the rollback file: {e}"));
        }
        if let Some(threshold) = self.max_failures
            && threshold.passed(self.summary.failures(), self.summary.sent_or_settled())
        {
            self.abort(format!("{} rows rejected, failed or unknown: past --max-failures", self.summary.failures()));
        }
        let (summary, gate) = (&self.summary, &self.api.gate);
        let done = self.already_done + summary.sent_or_settled() + invalid;
        self.progress.update(done, summary.sent_or_settled(), || {
            let retries = self.api.budget.retries();
            let throttled = gate.throttled.load(Ordering::Relaxed);
            let pauses = gate.pauses.load(Ordering::Relaxed);
            let rate = gate.rate().map(|r| format!("  at {r:.0}/s")).unwrap_or_default();
            format!("{}  retries {retries}  429s {throttled}  pauses {pauses}{rate}", summary.counts_line())
        });
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            if let Some(Err(e)) = self.results.as_mut().map(|r| r.flush()) {
                self.abort(format!("cannot write {}: {e}", self.results_path.display()));
            }
            self.last_flush = Instant::now();
        }
    }

    /// Flushes the outputs and hands back the counts.
    fn finish(mut self) -> RunSummary {
        self.progress.finish();
        if let Some(w) = self.rollback.take()
            && let Err(e) = w.into_inner().map_err(|e| e.into_error()).and_then(|mut w| std::io::Write::flush(&mut w))
        {
            self.abort(format!("cannot write the rollback file: {e}"));
        }
        let Collector { api, results, results_path, summary, .. } = self;
        if let Some(Err(e)) = results.map(|r| r.into_inner().and_then(|mut w| std::io::Write::flush(&mut w))) {
            api.stop.trigger(StopReason::Aborted(format!("cannot write {}: {e}", results_path.display())));
        }
        summary
    }
}
