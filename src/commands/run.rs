//! `tdrecon run FILE`: the job. Wires the pipeline:
//!
//! ```text
//! reader thread: records → validator ─┬─▶ errors.csv
//!                                     └─▶ channel ─▶ buffer_unordered(send_row) ─▶ consumer ─▶ results.csv
//! ```
//!
//! The reader runs on its own thread (csv parsing is blocking work) and owns
//! `errors.csv`. Rows cross a bounded channel, so memory stays flat however
//! large the file. One consumer owns the results file, the counts and the
//! progress bar, and does nothing slow: the requests in flight never wait on it.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use futures::StreamExt;

use crate::commands::sandbox;
use crate::commands::validate::Tally;
use crate::credentials::Credentials;
use crate::exit::{Exit, Fatal};
use crate::input::{InputOptions, create, create_error_report};
use crate::progress::Progress;
use crate::results::ResultsWriter;
use crate::summary::RunSummary;
use crate::upload::backoff::{Backoff, RetryBudget};
use crate::upload::client::{ApiClient, Endpoint, Method};
use crate::upload::gate::{Gate, Stop, StopReason};
use crate::upload::outcome::{RowOutcome, Status};
use crate::upload::row::{Sender, ValidRow};

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
}

/// Rows buffered between the reader thread and the senders.
const CHANNEL_ROWS: usize = 1024;
/// How often the consumer flushes results to the OS.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

pub fn run(opts: RunOptions) -> Result<Exit, Fatal> {
    // Everything that can be wrong with the set-up is found before a request.
    let (reader, validator) = opts.input.open()?;
    let credentials = match (&opts.target, opts.dry_run) {
        (Target::Sandbox, _) | (_, true) => Credentials::new("sandbox", "sandbox"),
        (Target::Url(_), false) => match &opts.keys {
            KeySource::File(path) => Credentials::from_file(path).map_err(Fatal::usage)?,
            KeySource::Environment => match Credentials::from_env() {
                Some(c) => c.map_err(Fatal::usage)?,
                None => return Err(Fatal::usage(crate::credentials::CredentialsError::Missing)),
            },
        },
    };
    let results_path = opts.results.clone().unwrap_or_else(|| opts.input.sibling("results"));
    let errors_path = opts.errors.clone().unwrap_or_else(|| opts.input.sibling("errors"));
    let errors = create_error_report(&errors_path, &validator.schema().headers)?;
    let results = ResultsWriter::new(create(&results_path)?)
        .with_context(|| format!("cannot write {}", results_path.display()))
        .map_err(Fatal::usage)?;

    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime").map_err(Fatal::usage)?;
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
        let endpoint =
            Endpoint { base, method: opts.method, serializer: opts.serializer.clone(), timeout: opts.timeout };
        let client = ApiClient::new(&endpoint, &credentials, opts.concurrency.get())
            .map_err(|e| Fatal::usage(anyhow!("cannot build the HTTP client: {e}")))?;
        let sender = Arc::new(Sender {
            client,
            endpoint,
            gate: Gate::new(opts.rate, opts.max_pause),
            stop: Stop::default(),
            budget: RetryBudget::new(50, 20),
            backoff: opts.backoff,
            max_retries: opts.max_retries,
        });
        let summary = pipeline(&opts, reader, validator, errors, results, &sender, results_path, errors_path).await?;
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
        Ok(summary.exit())
    })
}

#[allow(clippy::too_many_arguments)]
async fn pipeline(
    opts: &RunOptions,
    mut reader: crate::reader::CsvReader,
    mut validator: crate::validate::Validator,
    mut errors: crate::report::ErrorReport<std::io::BufWriter<std::fs::File>>,
    mut results: ResultsWriter<std::io::BufWriter<std::fs::File>>,
    sender: &Arc<Sender>,
    results_path: PathBuf,
    errors_path: PathBuf,
) -> Result<RunSummary, Fatal> {
    let started = Instant::now();
    let invalid_rows = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::channel::<ValidRow>(CHANNEL_ROWS);

    // The reader thread: parse, validate, report invalid rows, pass on valid ones.
    let input_path = opts.input.path.clone();
    let invalid = Arc::clone(&invalid_rows);
    let reader_stop = Arc::clone(sender);
    let reader_errors_path = errors_path.clone();
    let reader_thread = std::thread::spawn(move || -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let fail = |e: anyhow::Error| {
            reader_stop.stop.trigger(StopReason::Aborted(format!("{e:#}")));
            e
        };
        while let Some(record) =
            reader.next_record().with_context(|| format!("cannot read {}", input_path.display())).map_err(fail)?
        {
            tally.rows += 1;
            match validator.check(&record) {
                Ok(update) => {
                    tally.valid += 1;
                    if tx.blocking_send(ValidRow { line: record.line, update }).is_err() {
                        break;
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
        errors
            .into_inner()
            .and_then(|mut w| std::io::Write::flush(&mut w))
            .with_context(|| format!("cannot write {}", reader_errors_path.display()))
            .map_err(fail)?;
        Ok(tally)
    });

    let rows = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|row| (row, rx)) });
    let dry_run = opts.dry_run;
    let outcomes = rows
        .map(|row| {
            let sender = Arc::clone(sender);
            async move {
                if dry_run {
                    let mut out = RowOutcome::new(row.line, row.update.call, Status::NotSent);
                    out.request_body = Some(String::from_utf8_lossy(&row.update.body_bytes()).into_owned());
                    out
                } else {
                    sender.send_row(row).await
                }
            }
        })
        .buffer_unordered(opts.concurrency.get());
    let mut outcomes = std::pin::pin!(outcomes);

    let mut summary = RunSummary {
        input: opts.input.path.clone(),
        results: results_path.clone(),
        errors: errors_path,
        dry_run,
        ..RunSummary::default()
    };
    let progress = Progress::new(opts.quiet, &opts.input.path);
    let mut last_flush = Instant::now();
    let mut write_error: Option<anyhow::Error> = None;
    while let Some(outcome) = outcomes.next().await {
        summary.record(&outcome);
        if write_error.is_none()
            && let Err(e) = results.write(&outcome)
        {
            sender.stop.trigger(StopReason::Aborted(format!("cannot write {}: {e}", results_path.display())));
            write_error = Some(e.into());
        }
        if let Some(threshold) = opts.max_failures
            && threshold.passed(summary.failures(), summary.sent_or_settled())
        {
            sender.stop.trigger(StopReason::Aborted(format!(
                "{} rows rejected, failed or unknown: past --max-failures",
                summary.failures()
            )));
        }
        progress.update(summary.sent_or_settled() + invalid_rows.load(Ordering::Relaxed), &summary.counts_line());
        if last_flush.elapsed() >= FLUSH_EVERY {
            if let Err(e) = results.flush() {
                sender.stop.trigger(StopReason::Aborted(format!("cannot write {}: {e}", results_path.display())));
            }
            last_flush = Instant::now();
        }
    }
    progress.finish();
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
