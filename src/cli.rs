//! Command-line parsing. clap stays inside this module: it turns raw flags
//! into the validated option structs the commands take.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands::run::{KeySource, RunOptions, Target, Threshold};
use crate::commands::{self, template::UseCase};
use crate::exit::{Exit, Fatal};
use crate::input::InputOptions;
use crate::input::columns::HeaderOptions;
use crate::input::source::Source;
use crate::outputs::summary_json::{self, SummaryOut};
use crate::profile::Profile;
use crate::upload::backoff::Backoff;
use crate::upload::client::{Method, check_base_url, subdomain_url};
use crate::upload::gate::Pacing;
use std::num::NonZeroU32;

#[derive(Debug, Parser)]
#[command(name = "tdrecon", version, about = "Push buyer-report figures onto TrackDrive calls, safely and in bulk.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Ends `tdrecon run --help`: what the exit codes mean, and two examples.
const RUN_AFTER_HELP: &str = "\
Exit codes:
  0    every row ok
  1    finished; some rows invalid, refused, failed or unknown: read errors.csv and results.csv
  2    usage, configuration or input error, or another run of this file is live: nothing sent
  3    stopped part-way (bad keys, unreachable host, retry budget, --max-failures, full disk):
       fix the cause, then the same command with --resume
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP): the same command with --resume

Examples:
  tdrecon run tonight.csv --sandbox
      rehearse against a simulator started in process (no keys, nothing leaves the machine)
  TRACKDRIVE_PUBLIC_KEY=... TRACKDRIVE_PRIVATE_KEY=... tdrecon run tonight.csv --subdomain acme --reconcile --summary-json night.json
      send to acme.trackdrive.com, only what differs, with a JSON summary for the scheduler";

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a file without sending anything: write errors.csv, print a summary.
    Validate {
        #[command(flatten)]
        input: InputArgs,
        /// Where to write rejected rows [default: <input stem>.errors.csv].
        #[arg(long, value_name = "PATH")]
        errors: Option<PathBuf>,
        /// Also write the summary as JSON, for schedulers (`-`: to stdout, the text summary to stderr).
        #[arg(long, value_name = "PATH")]
        summary_json: Option<PathBuf>,
    },
    /// Send the file's updates to TrackDrive: rate-limited, concurrent, with safe retries.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(Box<RunArgs>),
    /// Read every row's call and write what `run` would change (before, after, change, totals),
    /// sending no update: <input stem>.plan.csv.
    Plan(Box<RunArgs>),
    /// Serve the TrackDrive calls API from memory, for rehearsals and tests.
    Sim(SimArgs),
    /// Print a header row and an example row to start a file from.
    Template {
        #[arg(value_enum, default_value_t = UseCaseArg::All)]
        use_case: UseCaseArg,
        /// Print a commented profile (for --config) instead.
        #[arg(long)]
        config: bool,
    },
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").args(["subdomain", "base_url", "sandbox"]))]
struct RunArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Your TrackDrive subdomain: requests go to https://NAME.trackdrive.com.
    #[arg(help_heading = "Target", long, value_name = "NAME")]
    subdomain: Option<String>,
    /// The API's base URL (https, or http to a loopback address such as a `tdrecon sim`).
    #[arg(help_heading = "Target", long, value_name = "URL")]
    base_url: Option<String>,
    /// Rehearse against a simulator started in process, seeded with the file's calls.
    #[arg(help_heading = "Target", long)]
    sandbox: bool,
    /// Read the API keys from this file (KEY=VALUE lines; must not be readable by group or others)
    /// instead of TRACKDRIVE_PUBLIC_KEY / TRACKDRIVE_PRIVATE_KEY.
    #[arg(help_heading = "Target", long, value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// HTTP method for updates [default: put].
    #[arg(help_heading = "Target", long, value_enum)]
    method: Option<MethodArg>,
    /// Response format passed to the API.
    #[arg(help_heading = "Target", long, value_parser = ["call", "call_grid"])]
    serializer: Option<String>,
    /// Requests per second, retries included (0 turns the limiter off: simulator only), or `auto`:
    /// find the account's limit (start safe, raise while healthy, cut on 429), up to --max-rate [default: 10].
    #[arg(help_heading = "Pacing", long, value_name = "N|auto", value_parser = rate_arg)]
    rate: Option<RateArg>,
    /// With --rate auto: the highest rate it may reach [default: 100].
    #[arg(help_heading = "Pacing", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_rate: Option<u32>,
    /// Requests allowed at once above the steady rate [default: rate/5, at least 1].
    #[arg(help_heading = "Pacing", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    burst: Option<u32>,
    /// Requests in flight at once [default: 8].
    #[arg(help_heading = "Pacing", long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: Option<u16>,
    /// Per-request timeout, covering the whole exchange (e.g. 30s, 500ms, 2m) [default: 30s].
    #[arg(help_heading = "Pacing", long, value_parser = timeout, value_name = "DURATION")]
    timeout: Option<std::time::Duration>,
    /// Retries per row after the first attempt.
    #[arg(help_heading = "Pacing", long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
    max_retries: u32,
    /// The longest a server's Retry-After may pause the job.
    #[arg(help_heading = "Pacing", long, default_value = "120s", value_parser = max_pause, value_name = "DURATION")]
    max_pause: std::time::Duration,
    /// Where to write one line per row sent [default: <input stem>.results.csv].
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    results: Option<PathBuf>,
    /// Where to write rejected rows [default: <input stem>.errors.csv].
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    errors: Option<PathBuf>,
    /// Send nothing: write the JSON body each row would send into results (status not_sent).
    #[arg(help_heading = "Outputs", long)]
    dry_run: bool,
    /// Also write the summary as JSON, for schedulers.
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
    /// No progress bar.
    #[arg(help_heading = "Outputs", long, short)]
    quiet: bool,
    /// Abort (exit 3) once more than N rows, or P% of finished rows, are rejected, failed or unknown.
    #[arg(help_heading = "Safety", long, value_name = "N|P%")]
    max_failures: Option<String>,
    /// Continue a run that stopped (Ctrl-C, crash, abort): skip finished rows, never resend
    /// a row that may have been applied and adds or fires something.
    #[arg(help_heading = "Safety", long, conflicts_with = "restart")]
    resume: bool,
    /// Discard this file's journal and send every row again.
    #[arg(help_heading = "Safety", long)]
    restart: bool,
    /// Read each call first (GET, under the same rate limit), send only the fields that differ
    /// (a row that already matches is `unchanged`), report before and after values, and settle
    /// an ambiguous add by reading the call back.
    #[arg(help_heading = "Safety", long)]
    reconcile: bool,
    /// With --reconcile: write a CSV in tdrecon's input format that undoes every applied change.
    #[arg(help_heading = "Safety", long, value_name = "PATH", requires = "reconcile")]
    rollback: Option<PathBuf>,
    /// With --reconcile: read the calls made from this time on in pages, instead of one GET a row
    /// [default: the file's earliest call_time, when it has that column].
    #[arg(help_heading = "Safety", long, value_name = "TIME")]
    since: Option<String>,
    /// With --reconcile: ... up to this time [default: the file's latest call_time, or now].
    #[arg(help_heading = "Safety", long, value_name = "TIME")]
    until: Option<String>,
    /// Find a row without a call id by the one call from its caller_number within this of its
    /// call_time.
    #[arg(help_heading = "Safety", long, default_value = "5m", value_parser = match_window, value_name = "DURATION")]
    match_window: std::time::Duration,
    /// Calls asked for per page of a window read (the server may send fewer).
    #[arg(help_heading = "Safety", long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// Do not sync the journal to disk (only for measuring what syncing costs).
    #[arg(long, hide = true)]
    no_journal_sync: bool,
    /// First retry's backoff ceiling, in milliseconds (doubles per retry).
    #[arg(long, default_value_t = 500, hide = true, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    backoff_base_ms: u64,
    /// Largest backoff, in milliseconds.
    #[arg(long, default_value_t = 30_000, hide = true, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    backoff_cap_ms: u64,
}

/// `--rate`: a number of requests a second, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RateArg {
    PerSecond(u32),
    Auto,
}

fn rate_arg(text: &str) -> Result<RateArg, String> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("auto") => Ok(RateArg::Auto),
        t => match t.parse::<u32>() {
            Ok(n) if n <= 10_000 => Ok(RateArg::PerSecond(n)),
            _ => Err(format!("{t:?}: expected a number of requests a second from 0 to 10000, or auto")),
        },
    }
}

/// `--timeout`: 1 ms to 1 hour.
fn timeout(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_millis(1), std::time::Duration::from_secs(3600))
}

/// `sim --rate-limit-window`: 100 ms to 1 hour.
fn limit_window(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_millis(100), std::time::Duration::from_secs(3600))
}

/// `--match-window`: 1 second to 24 hours.
fn match_window(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(1), std::time::Duration::from_secs(86_400))
}

/// `--max-pause`: 1 ms to 1 hour.
fn max_pause(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_millis(1), std::time::Duration::from_secs(3600))
}

/// `30s`, `500ms`, `2m`, or a bare number of seconds, from `min` to `max`.
fn duration(text: &str, min: std::time::Duration, max: std::time::Duration) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("{t:?}: expected a duration like 30s or 500ms"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("{t:?}: expected a duration like 30s or 500ms")),
    };
    let range = || format!("{t:?}: expected from {} ms to {} s", min.as_millis(), max.as_secs());
    // Checked before building a Duration, which panics on values past its range.
    if !secs.is_finite() || secs < min.as_secs_f64() || secs > max.as_secs_f64() {
        return Err(range());
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| range())
}

impl RunArgs {
    /// `plan`: a `--reconcile` run that writes nothing to TrackDrive.
    fn into_plan_options(self) -> Result<RunOptions, Fatal> {
        let usage = |e: &str| Fatal::usage(anyhow::anyhow!("{e} does not apply to plan: it sends nothing"));
        for (given, flag) in [
            (self.dry_run, "--dry-run"),
            (self.resume, "--resume"),
            (self.restart, "--restart"),
            (self.rollback.is_some(), "--rollback"),
        ] {
            if given {
                return Err(usage(flag));
            }
        }
        let mut opts = self.into_options()?;
        opts.plan = true;
        opts.reconcile = true;
        if opts.results.is_none() {
            opts.results = Some(opts.input.sibling("plan"));
        }
        Ok(opts)
    }

    fn into_options(self) -> Result<RunOptions, Fatal> {
        let usage = |e: String| Fatal::usage(anyhow::anyhow!(e));
        let profile = self.input.profile()?;
        // The profile's target, unless the command line names one.
        let (subdomain, base_url) = match (&self.subdomain, &self.base_url, self.sandbox) {
            (None, None, false) => (profile.subdomain.clone(), profile.base_url.clone()),
            _ => (self.subdomain.clone(), self.base_url.clone()),
        };
        let target = match (&subdomain, &base_url, self.sandbox) {
            (Some(name), None, false) => Target::Url(subdomain_url(name).map_err(usage)?),
            (None, Some(url), false) => Target::Url(check_base_url(url).map_err(usage)?),
            (None, None, true) => Target::Sandbox,
            // A dry run sends nothing, so it needs nowhere to send.
            (None, None, false) if self.dry_run => Target::Url("https://dry-run.invalid".into()),
            _ => return Err(usage("say where to send: --subdomain NAME, --base-url URL or --sandbox".into())),
        };
        let rate = match (self.rate, &profile.rate) {
            (Some(rate), _) => rate,
            (None, Some(rate)) => rate_arg(&rate.text()).map_err(|e| usage(format!("rate in the profile: {e}")))?,
            (None, None) => RateArg::PerSecond(10),
        };
        let max_rate = self.max_rate.or(profile.max_rate).unwrap_or(100);
        if !(1..=10_000).contains(&max_rate) {
            return Err(usage(format!("max_rate {max_rate}: expected from 1 to 10000")));
        }
        let concurrency = self.concurrency.or(profile.concurrency).unwrap_or(8);
        if !(1..=1024).contains(&concurrency) {
            return Err(usage(format!("concurrency {concurrency}: expected from 1 to 1024")));
        }
        let timeout = match (self.timeout, &profile.timeout) {
            (Some(t), _) => t,
            (None, Some(t)) => timeout(t).map_err(|e| usage(format!("timeout in the profile: {e}")))?,
            (None, None) => std::time::Duration::from_secs(30),
        };
        let method = match (self.method, &profile.method) {
            (Some(m), _) => m,
            (None, Some(m)) => <MethodArg as clap::ValueEnum>::from_str(m, true)
                .map_err(|_| usage(format!("method {m:?} in the profile: expected put, post or patch")))?,
            (None, None) => MethodArg::Put,
        };
        let max_failures_text = self.max_failures.clone().or(profile.max_failures.as_ref().map(|m| m.text()));
        let pacing = match rate {
            RateArg::Auto => Pacing::Auto { max: NonZeroU32::new(max_rate).expect("max_rate is at least 1") },
            RateArg::PerSecond(rate) => match NonZeroU32::new(rate) {
                None => Pacing::Off,
                Some(rate) => Pacing::Fixed {
                    rate,
                    burst: self
                        .burst
                        .and_then(NonZeroU32::new)
                        .unwrap_or(NonZeroU32::new((rate.get() / 5).max(1)).expect("at least 1")),
                },
            },
        };
        let max_failures = max_failures_text.as_deref().map(Threshold::parse).transpose().map_err(usage)?;
        let input = self.input.into_options(&profile)?;
        let when = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    crate::input::values::parse_call_time(t, &input.time_zone)
                        .map_err(|e| usage(format!("{flag} {t:?}: {e}")))
                })
                .transpose()
        };
        let (since, until) = (when("--since", &self.since)?, when("--until", &self.until)?);
        Ok(RunOptions {
            input,
            results: self.results,
            errors: self.errors,
            target,
            keys: self.credentials.map_or(KeySource::Environment, KeySource::File),
            pacing,
            concurrency: std::num::NonZeroUsize::new(usize::from(concurrency)).expect("concurrency is at least 1"),
            timeout,
            max_retries: self.max_retries,
            method: match method {
                MethodArg::Put => Method::Put,
                MethodArg::Post => Method::Post,
                MethodArg::Patch => Method::Patch,
            },
            serializer: self.serializer,
            max_failures,
            max_pause: self.max_pause,
            backoff: Backoff {
                base: std::time::Duration::from_millis(self.backoff_base_ms),
                cap: std::time::Duration::from_millis(self.backoff_cap_ms),
            },
            dry_run: self.dry_run,
            summary_json: self.summary_json,
            quiet: self.quiet,
            resume: self.resume,
            restart: self.restart,
            journal_sync: !self.no_journal_sync,
            reconcile: self.reconcile,
            rollback: self.rollback,
            since,
            until,
            page_size: self.page_size,
            match_window: self.match_window,
            plan: false,
        })
    }
}

#[derive(Debug, Args)]
struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: std::net::SocketAddr,
    /// How many calls to create.
    #[arg(long, default_value_t = 1000, conflicts_with = "calls_file", value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    calls: u64,
    /// The first call id; the rest count up from it.
    #[arg(long, default_value_t = 100_000_001)]
    first_id: u64,
    /// Seed the calls from a CSV with columns id,uuid,revenue,payout.
    #[arg(long, value_name = "CSV")]
    calls_file: Option<PathBuf>,
    /// Seed for fault injection: the same seed gives the same faults for the same request order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Requests per second before answering 429 with Retry-After.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate_limit: Option<u32>,
    /// Requests allowed in each window above the rate (with --rate-limit).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    rate_limit_burst: u32,
    /// The window the limit is counted over (with --rate-limit): 1s, or 60s for a per-minute limit.
    #[arg(long, default_value = "1s", value_parser = limit_window, value_name = "DURATION")]
    rate_limit_window: std::time::Duration,
    /// Send Retry-After as an HTTP date instead of seconds.
    #[arg(long)]
    retry_after_date: bool,
    /// Probability that an update gets a 5xx (500, 502 or 503) without being applied.
    #[arg(long = "fail-5xx", default_value_t = 0.0, value_parser = probability, value_name = "P")]
    fail_5xx: f64,
    /// Added latency per update, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=600_000))]
    latency_ms: u64,
    /// Up to this much more latency, drawn per request.
    #[arg(long, default_value_t = 0, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=600_000))]
    latency_jitter_ms: u64,
    /// Probability of dropping the connection without applying.
    #[arg(long, default_value_t = 0.0, value_parser = probability, value_name = "P")]
    reset_before_apply: f64,
    /// Probability of applying, then holding the response for --stall-ms.
    #[arg(long, default_value_t = 0.0, value_parser = probability, value_name = "P")]
    apply_then_stall: f64,
    /// How long a stalled response is held.
    #[arg(long, default_value_t = 120_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    stall_ms: u64,
    /// Probability of applying, then dropping the connection.
    #[arg(long, default_value_t = 0.0, value_parser = probability, value_name = "P")]
    apply_then_reset: f64,
    /// The first N update requests for each call get 503.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    fail_first: u64,
    /// On SIGINT/SIGTERM, write the final state JSON here before exiting.
    #[arg(long, value_name = "FILE")]
    dump_state: Option<PathBuf>,
    /// Once listening, write the base URL to this file (atomically: a script can wait for it to
    /// appear, then read it: `until [ -s sim.url ]; do sleep 0.1; done`).
    #[arg(long, value_name = "PATH")]
    url_file: Option<PathBuf>,
    /// The most calls a page of GET /api/v1/calls holds, whatever per_page asks.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_per_page: u32,
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a probability from 0 to 1".into()),
    }
}

impl SimArgs {
    fn into_options(self) -> commands::sim::SimOptions {
        use std::time::Duration;
        commands::sim::SimOptions {
            addr: self.addr,
            calls: self.calls,
            first_id: self.first_id,
            calls_file: self.calls_file,
            rate_limit: self.rate_limit.map(|per_second| crate::sim::RateLimit {
                per_second,
                burst: self.rate_limit_burst,
                window: self.rate_limit_window,
            }),
            retry_after_date: self.retry_after_date,
            faults: crate::sim::FaultConfig {
                seed: self.seed,
                fail_5xx: self.fail_5xx,
                latency: Duration::from_millis(self.latency_ms),
                latency_jitter: Duration::from_millis(self.latency_jitter_ms),
                reset_before_apply: self.reset_before_apply,
                apply_then_stall: self.apply_then_stall,
                apply_then_reset: self.apply_then_reset,
                stall: Duration::from_millis(self.stall_ms),
                fail_first: self.fail_first,
            },
            dump_state: self.dump_state,
            url_file: self.url_file,
            max_per_page: self.max_per_page as usize,
        }
    }
}

/// `--method`, as clap parses it (the library's `Method` knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MethodArg {
    Put,
    Post,
    Patch,
}

/// `template`'s argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum UseCaseArg {
    /// Nightly buyer report: revenue, payout, conversions.
    Revenue,
    /// Backfill of dispositions and agent notes.
    Disposition,
    /// Contact fields (post-call tokens).
    Tokens,
    /// Every column, one example row per use case.
    All,
}

/// How to read the input file (shared by `validate` and `run`).
#[derive(Debug, Args)]
struct InputArgs {
    /// The CSV file: call id or UUID plus the fields to update.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Field delimiter, one ASCII character (use '\t' for tabs) [default: tab for .tsv and .tab files, else ,].
    #[arg(help_heading = "Input", long, value_name = "CHAR")]
    delimiter: Option<String>,
    /// A spreadsheet's sheet to read [default: the first].
    #[arg(help_heading = "Input", long, value_name = "NAME")]
    sheet: Option<String>,
    /// The IANA time zone of call times written without an offset, like America/New_York [default: UTC].
    #[arg(help_heading = "Input", long, value_name = "ZONE")]
    time_zone: Option<String>,
    /// A saved profile (TOML) for a report that arrives in the same shape every night: mappings,
    /// ignored columns, target and pacing. Flags win over it. `tdrecon template --config` prints one.
    #[arg(help_heading = "Input", long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Treat a header as a known column: --map 'Buyer Revenue=revenue'. Repeatable.
    #[arg(help_heading = "Input", long = "map", value_name = "HEADER=COLUMN")]
    maps: Vec<String>,
    /// Skip a column of the file. Repeatable.
    #[arg(help_heading = "Input", long = "ignore-column", value_name = "HEADER")]
    ignore: Vec<String>,
}

impl InputArgs {
    /// The saved profile, if `--config` names one.
    fn profile(&self) -> Result<Profile, Fatal> {
        match &self.config {
            Some(path) => Profile::load(path).map_err(Fatal::usage),
            None => Ok(Profile::default()),
        }
    }

    /// The input's options: flags, then the profile, then what the file's
    /// name implies.
    fn into_options(self, profile: &Profile) -> Result<InputOptions, Fatal> {
        let usage = |e: String| Fatal::usage(anyhow::anyhow!(e));
        let sheet = self.sheet.as_deref().or(profile.sheet.as_deref());
        let source = Source::open(&self.file, sheet).map_err(Fatal::usage)?;
        let delimiter = match self.delimiter.as_deref().or(profile.delimiter.as_deref()) {
            None => source.delimiter,
            Some("\\t" | "\t" | "tab") => b'\t',
            Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            Some(d) => return Err(usage(format!("--delimiter {d:?}: expected one ASCII character"))),
        };
        // The profile's mappings first; a flag for the same header wins.
        let mut maps: Vec<(String, String)> = Vec::new();
        let given = profile.map.iter().map(|(from, to)| format!("{from}={to}")).chain(self.maps);
        for spec in given {
            let (from, to) = HeaderOptions::parse_map(&spec).map_err(usage)?;
            maps.retain(|(f, _)| f != &from);
            maps.push((from, to));
        }
        let time_zone = match self.time_zone.as_deref().or(profile.time_zone.as_deref()) {
            None => jiff::tz::TimeZone::UTC,
            Some(name) => jiff::tz::TimeZone::get(name)
                .map_err(|_| usage(format!("--time-zone {name:?}: not an IANA time zone, like America/New_York")))?,
        };
        let mut ignore = profile.ignore_column.clone();
        ignore.extend(self.ignore);
        Ok(InputOptions {
            path: source.path,
            name: source.name,
            delimiter,
            headers: HeaderOptions { maps, ignore },
            line_map: source.line_map,
            spool: source.spool,
            time_zone,
        })
    }
}

/// Parses the process's arguments, runs the command, and maps the outcome to
/// an exit code. Errors are printed with their causes, never with a backtrace.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    // A panic is a bug, never an input's or a server's doing; still, it
    // ends with a sentence and an exit code from the table (3), not 101.
    std::panic::set_hook(Box::new(|info| {
        crate::console::warn(&format!("internal error (a bug: please report it): {info}"));
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli.command))) {
        Ok(Ok(exit)) => exit.into(),
        Ok(Err(Fatal { exit, error })) => {
            crate::console::warn(&format!("{error:#}"));
            exit.into()
        }
        Err(_) => Exit::Aborted.into(),
    }
}

/// Runs a command that reads `path`; if it ends in an error before it wrote
/// a summary, `--summary-json` still gets one (with the error).
fn with_failure_summary(
    command: &str,
    path: &std::path::Path,
    out: SummaryOut,
    run: impl FnOnce() -> Result<Exit, Fatal>,
) -> Result<Exit, Fatal> {
    let started_at = summary_json::now();
    let result = run();
    if let Err(fatal) = &result {
        out.write_failure(command, path, &started_at, fatal);
    }
    result
}

fn dispatch(command: Command) -> Result<Exit, Fatal> {
    match command {
        Command::Validate { input, errors, summary_json } => {
            let (path, out) = (input.file.clone(), SummaryOut { json: summary_json.clone() });
            with_failure_summary("validate", &path, out, || {
                let input = input.profile().and_then(|p| input.into_options(&p))?;
                commands::validate::run(&commands::validate::ValidateOptions { input, errors, summary_json })
            })
        }
        Command::Run(args) => {
            let (path, out) = (args.input.file.clone(), SummaryOut { json: args.summary_json.clone() });
            with_failure_summary("run", &path, out, || args.into_options().and_then(commands::run::run))
        }
        Command::Plan(args) => {
            let (path, out) = (args.input.file.clone(), SummaryOut { json: args.summary_json.clone() });
            with_failure_summary("plan", &path, out, || args.into_plan_options().and_then(commands::run::run))
        }
        Command::Sim(args) => commands::sim::run(args.into_options()),
        Command::Template { config: true, .. } => {
            crate::console::out(crate::profile::EXAMPLE);
            Ok(Exit::Ok)
        }
        Command::Template { use_case, .. } => {
            let use_case = match use_case {
                UseCaseArg::Revenue => UseCase::Revenue,
                UseCaseArg::Disposition => UseCase::Disposition,
                UseCaseArg::Tokens => UseCase::Tokens,
                UseCaseArg::All => UseCase::All,
            };
            crate::console::out(&commands::template::render(use_case));
            Ok(Exit::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Fuzz: no text makes the duration parser panic, and what it
        /// accepts is within the flag's range.
        #[test]
        fn durations_are_bounded(text in "\\PC{0,24}|[0-9.]{1,30}(ms|s|m)?") {
            if let Ok(d) = timeout(&text) {
                proptest::prop_assert!(d >= std::time::Duration::from_millis(1) && d <= std::time::Duration::from_secs(3600));
            }
        }
    }

    #[test]
    fn duration_table() {
        let ok = [("30s", 30_000), ("500ms", 500), ("2m", 120_000), ("1.5", 1_500), ("3600", 3_600_000)];
        for (text, ms) in ok {
            assert_eq!(timeout(text).map(|d| d.as_millis()), Ok(ms), "{text}");
        }
        for bad in ["0", "0.1ms", "3601s", "61m", "99999999999999999999", "1e400", "-1s", "s", "", "5h"] {
            assert!(timeout(bad).is_err(), "{bad}");
        }
    }
}
