//! The command line as typed (ripgrep's "low" arguments): clap's structs,
//! the value parsers that check each flag's form and range, and nothing
//! else. A profile's settings are parsed by the same structs (see `mod.rs`),
//! so a range or a form is checked in one place whichever way it was given.
//! `resolve` turns what is here into the options the commands take.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::defaults;
use crate::job::Threshold;

#[derive(Debug, Parser)]
#[command(name = "tdrecon", version, about = "Push buyer-report figures onto TrackDrive calls, safely and in bulk.")]
pub(super) struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
pub(super) enum Command {
    /// Check a file without sending anything: write errors.csv, print a summary.
    #[command(args_override_self = true)]
    Validate(ValidateArgs),
    /// Send the file's updates to TrackDrive: rate-limited, concurrent, with safe retries.
    #[command(after_help = RUN_AFTER_HELP, args_override_self = true)]
    Run(Box<RunArgs>),
    /// Read every row's call and write what `run` would change (before, after, change, totals),
    /// sending no update: <input stem>.plan.csv.
    #[command(args_override_self = true)]
    Plan(Box<RunArgs>),
    /// Check, read-only, what TrackDrive's API looks like from this account: keys, the calls
    /// list and the names its fields come by, paging, columns=, events, name lists. Run it first
    /// against a new account. Exit 0 when every assumption holds, 1 when one does not.
    Doctor(DoctorArgs),
    /// Print what the account's ledger holds (CSV): every update tdrecon sent a call, or sent
    /// since a time, with what became of it and the file, line and run it came from.
    History(HistoryArgs),
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
pub(super) struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write rejected rows [default: <input stem>.errors.csv].
    #[arg(long, value_name = "PATH")]
    pub errors: Option<PathBuf>,
    /// Also write the summary as JSON, for schedulers (`-`: to stdout, the text summary to stderr).
    #[arg(long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
}

/// Which account a command reads: doctor's and history's.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").args(["subdomain", "base_url"]).required(true))]
pub(super) struct AccountArgs {
    /// Your TrackDrive subdomain: https://NAME.trackdrive.com.
    #[arg(long, value_name = "NAME")]
    pub subdomain: Option<String>,
    /// The API's base URL (https, or http to a loopback address such as a `tdrecon sim`).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Read the API keys from this file instead of TRACKDRIVE_PUBLIC_KEY / TRACKDRIVE_PRIVATE_KEY.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct DoctorArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    /// Per-request timeout.
    #[arg(long, value_parser = timeout, value_name = "DURATION", default_value = defaults::TIMEOUT)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(super) struct HistoryArgs {
    /// The call (its id or UUID, as the rows named it).
    #[arg(value_name = "CALL", required_unless_present = "since")]
    pub call: Option<String>,
    /// Updates recorded from this time on (2026-11-27 or 2026-11-27 21:04:00, UTC unless an
    /// offset is given).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// The account, as the runs named it (its ledger is named by the URL and the public key).
    #[command(flatten)]
    pub account: AccountArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").args(["subdomain", "base_url", "sandbox"]))]
pub(super) struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Your TrackDrive subdomain: requests go to https://NAME.trackdrive.com.
    #[arg(help_heading = "Target", long, value_name = "NAME")]
    pub subdomain: Option<String>,
    /// The API's base URL (https, or http to a loopback address such as a `tdrecon sim`).
    #[arg(help_heading = "Target", long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Rehearse against a simulator started in process, seeded with the file's calls.
    #[arg(help_heading = "Target", long)]
    pub sandbox: bool,
    /// With --sandbox: seed its calls from this CSV instead of the file's rows (columns as
    /// `tdrecon sim --calls-file` takes them: id, created_at, caller_number, buyer_id,
    /// buyer_converted, revenue…), to rehearse a night TrackDrive and the report disagree on.
    #[arg(help_heading = "Target", long, value_name = "CSV", requires = "sandbox")]
    pub sandbox_calls: Option<PathBuf>,
    /// Read the API keys from this file (KEY=VALUE lines; must not be readable by group or others)
    /// instead of TRACKDRIVE_PUBLIC_KEY / TRACKDRIVE_PRIVATE_KEY.
    #[arg(help_heading = "Target", long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// HTTP method for updates.
    #[arg(help_heading = "Target", long, value_enum, default_value_t = MethodArg::Put)]
    pub method: MethodArg,
    /// Response format passed to the API.
    #[arg(help_heading = "Target", long, value_parser = ["call", "call_grid"])]
    pub serializer: Option<String>,
    /// Requests per second, retries included (0 turns the limiter off: simulator only), or `auto`:
    /// find the account's limit (start safe, raise while healthy, cut on 429), up to --max-rate.
    #[arg(help_heading = "Pacing", long, value_name = "N|auto", value_parser = rate_arg,
          default_value_t = RateArg::PerSecond(defaults::RATE))]
    pub rate: RateArg,
    /// With --rate auto: the highest rate it may reach.
    #[arg(help_heading = "Pacing", long, value_name = "N", default_value_t = defaults::MAX_RATE,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_rate: u32,
    /// Requests allowed at once above the steady rate [default: rate/5, at least 1].
    #[arg(help_heading = "Pacing", long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub burst: Option<u32>,
    /// Requests in flight at once.
    #[arg(help_heading = "Pacing", long, value_name = "N", default_value_t = defaults::CONCURRENCY,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Per-request timeout, covering the whole exchange (e.g. 30s, 500ms, 2m).
    #[arg(help_heading = "Pacing", long, value_parser = timeout, value_name = "DURATION",
          default_value = defaults::TIMEOUT)]
    pub timeout: std::time::Duration,
    /// Retries per row after the first attempt.
    #[arg(help_heading = "Pacing", long, default_value_t = defaults::MAX_RETRIES, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_retries: u32,
    /// The longest a server's Retry-After may pause the job.
    #[arg(help_heading = "Pacing", long, default_value = defaults::MAX_PAUSE, value_parser = max_pause,
          value_name = "DURATION")]
    pub max_pause: std::time::Duration,
    /// Where to write one line per row sent [default: <input stem>.results.csv].
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// Where to write rejected rows [default: <input stem>.errors.csv].
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    pub errors: Option<PathBuf>,
    /// Send nothing: write the JSON body each row would send into results (status not_sent).
    #[arg(help_heading = "Outputs", long)]
    pub dry_run: bool,
    /// Also write the summary as JSON, for schedulers.
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
    /// No progress bar.
    #[arg(help_heading = "Outputs", long, short)]
    pub quiet: bool,
    /// Abort (exit 3) once more than N rows, or P% of finished rows, are rejected, failed or unknown.
    #[arg(help_heading = "Safety", long, value_name = "N|P%", value_parser = Threshold::parse)]
    pub max_failures: Option<Threshold>,
    /// Continue a run that stopped (Ctrl-C, crash, abort): skip finished rows, never resend
    /// a row that may have been applied and adds or fires something.
    #[arg(help_heading = "Safety", long, conflicts_with_all = ["restart", "dry_run", "sandbox"])]
    pub resume: bool,
    /// Discard this file's journal and send every row again.
    #[arg(help_heading = "Safety", long)]
    pub restart: bool,
    /// Read each call first (GET, under the same rate limit), send only the fields that differ
    /// (a row that already matches is `unchanged`), report before and after values, and settle
    /// an ambiguous add by reading the call back.
    #[arg(help_heading = "Safety", long)]
    pub reconcile: bool,
    /// With --reconcile: write a CSV in tdrecon's input format that undoes every applied change.
    #[arg(help_heading = "Safety", long, value_name = "PATH")]
    pub rollback: Option<PathBuf>,
    /// With --reconcile: read the calls made from this time on in pages, instead of one GET a row
    /// [default: the file's earliest call_time, when it has that column].
    #[arg(help_heading = "Safety", long, value_name = "TIME")]
    pub since: Option<String>,
    /// With --reconcile: ... up to this time [default: the file's latest call_time, or now].
    #[arg(help_heading = "Safety", long, value_name = "TIME")]
    pub until: Option<String>,
    /// Find a row without a call id by the one call from its caller_number within this of its
    /// call_time.
    #[arg(help_heading = "Safety", long, default_value = defaults::MATCH_WINDOW, value_parser = match_window,
          value_name = "DURATION")]
    pub match_window: std::time::Duration,
    /// Calls asked for per page of a window read (the server may send fewer).
    #[arg(help_heading = "Safety", long, default_value_t = defaults::PAGE_SIZE, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,
    /// Send updates without their own reference (the tdrecon_ref parameter that lets a row in
    /// doubt be settled from the audit log): for an account that refuses parameters it does not know.
    #[arg(help_heading = "Safety", long)]
    pub no_reference: bool,
    /// Refuse an add, a webhook fire or a transcription request that an earlier run (by the
    /// ledger of the account) already sent the same call within this long.
    #[arg(help_heading = "Safety", long, default_value = defaults::REPEAT_WINDOW, value_parser = repeat_window,
          value_name = "DURATION")]
    pub repeat_window: std::time::Duration,
    /// How long after a request its update is taken to have landed and to show in the call's
    /// audit log: an add in doubt whose update is not there is judged not applied (and sent
    /// again) only once this long has passed since it was first sent; until then it waits.
    #[arg(help_heading = "Safety", long, default_value = defaults::AUDIT_LAG, value_parser = audit_lag,
          value_name = "DURATION")]
    pub audit_lag: std::time::Duration,
    /// Send adds, webhook fires and transcriptions even when an earlier run sent the same call the
    /// same change (two reports that really do mean the same chargeback twice).
    #[arg(help_heading = "Safety", long)]
    pub allow_repeat: bool,
    /// The buyer whose report this is (its name, its own id, or TrackDrive's id): what TrackDrive
    /// and the report disagree on is judged for it. Repeatable. Without it: each buyer the
    /// report's Buyer column names.
    #[arg(help_heading = "Reconciliation", long = "buyer", value_name = "NAME|ID")]
    pub buyer: Vec<String>,
    /// Where to write what TrackDrive and the report disagree on (plan, run --reconcile)
    /// [default: <input stem>.discrepancies.csv].
    #[arg(help_heading = "Reconciliation", long, value_name = "PATH")]
    pub discrepancies: Option<PathBuf>,
    /// plan: read the window and write the discrepancies, without a plan file.
    #[arg(help_heading = "Reconciliation", long)]
    pub discrepancies_only: bool,
    /// Write one self-contained HTML page of the night (totals per buyer, control totals,
    /// discrepancies, rows that need a look) to open, mail or print for sign-off.
    #[arg(help_heading = "Reconciliation", long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Do not sync the journal to disk (only for measuring what syncing costs).
    #[arg(long, hide = true)]
    pub no_journal_sync: bool,
    /// Tests only: the journal's writes fail, as on a full disk, once it has taken this many bytes.
    #[arg(long, hide = true, value_name = "BYTES")]
    pub journal_fail_after: Option<u64>,
    /// First retry's backoff ceiling, in milliseconds (doubles per retry).
    #[arg(long, default_value_t = defaults::BACKOFF_BASE_MS, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub backoff_base_ms: u64,
    /// Largest backoff, in milliseconds.
    #[arg(long, default_value_t = defaults::BACKOFF_CAP_MS, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub backoff_cap_ms: u64,
}

/// How to read the input file (shared by `validate`, `run` and `plan`).
#[derive(Debug, Args)]
pub(super) struct InputArgs {
    /// The CSV file: call id or UUID plus the fields to update.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Field delimiter, one ASCII character (use '\t' for tabs) [default: tab for .tsv and .tab files, else ,].
    #[arg(help_heading = "Input", long, value_name = "CHAR", value_parser = delimiter)]
    pub delimiter: Option<u8>,
    /// A spreadsheet's sheet to read [default: the first].
    #[arg(help_heading = "Input", long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// The IANA time zone of call times written without an offset, like America/New_York [default: UTC].
    #[arg(help_heading = "Input", long, value_name = "ZONE", value_parser = time_zone)]
    pub time_zone: Option<jiff::tz::TimeZone>,
    /// The file's text encoding: utf-8, windows-1252, latin-1, utf-16 (le or be) [default: utf-8;
    /// a UTF-16 or UTF-8 byte-order mark is followed].
    #[arg(help_heading = "Input", long, value_name = "NAME", value_parser = encoding)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// A saved profile (TOML) for a report that arrives in the same shape every night: mappings,
    /// ignored columns, target, pacing, outputs. Flags win over it. `tdrecon template --config` prints one.
    #[arg(help_heading = "Input", long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Treat a header as a known column: --map 'Buyer Revenue=revenue'. Repeatable.
    #[arg(help_heading = "Input", long = "map", value_name = "HEADER=COLUMN",
          value_parser = crate::input::columns::HeaderOptions::parse_map)]
    pub maps: Vec<(String, String)>,
    /// A profile's `[map]` entries (put here by the profile, which a typed --map replaces).
    #[arg(long = "profile-map", hide = true, value_parser = crate::input::columns::HeaderOptions::parse_map)]
    pub profile_maps: Vec<(String, String)>,
    /// Skip a column of the file. Repeatable.
    #[arg(help_heading = "Input", long = "ignore-column", value_name = "HEADER")]
    pub ignore: Vec<String>,
    /// What one of a column's values stands for: --value-map 'Status:Converted=yes'. Repeatable;
    /// a column with a map refuses values it does not map; a value mapped to nothing
    /// ('Status:Pending=') leaves the field alone.
    #[arg(help_heading = "Input", long = "value-map", value_name = "HEADER:THEIRS=OURS",
          value_parser = crate::input::columns::HeaderOptions::parse_value_map)]
    pub value_map: Vec<(String, String, String)>,
    /// A negative amount in this set column is a chargeback, sent as its add (revenue: -45.00
    /// or ($45.00) is sent as add_revenue -45.00). Repeatable: revenue, payout.
    #[arg(help_heading = "Input", long = "negative-as-add", value_name = "COLUMN")]
    pub negative_as_add: Vec<NegativeAsAdd>,
}

/// The set columns `--negative-as-add` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum NegativeAsAdd {
    Revenue,
    Payout,
}

#[derive(Debug, Args)]
pub(super) struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: std::net::SocketAddr,
    /// How many calls to create.
    #[arg(long, default_value_t = 1000, conflicts_with = "calls_file", value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    pub calls: u64,
    /// The first call id; the rest count up from it.
    #[arg(long, default_value_t = 100_000_001)]
    pub first_id: u64,
    /// Seed the calls from a CSV: id and/or uuid, created_at (ISO 8601), caller_number, and any call
    /// field under its resource name or update parameter (revenue, payout, buyer_converted, buyer_id,
    /// disposition_id, disposition_notes…).
    #[arg(long, value_name = "CSV")]
    pub calls_file: Option<PathBuf>,
    /// Seed for fault injection: the same seed gives the same faults for the same request order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Requests per second before answering 429 with Retry-After.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit: Option<u32>,
    /// Requests allowed in each window above the rate (with --rate-limit).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub rate_limit_burst: u32,
    /// The window the limit is counted over (with --rate-limit): 1s, or 60s for a per-minute limit.
    #[arg(long, default_value = "1s", value_parser = limit_window, value_name = "DURATION")]
    pub rate_limit_window: std::time::Duration,
    /// Send Retry-After as an HTTP date instead of seconds.
    #[arg(long)]
    pub retry_after_date: bool,
    /// Probability that an update gets a 5xx (500, 502 or 503) without being applied.
    #[arg(long = "fail-5xx", default_value_t = 0.0, value_parser = probability, value_name = "P")]
    pub fail_5xx: f64,
    /// Added latency per update, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub latency_ms: u64,
    /// Up to this much more latency, drawn per request.
    #[arg(long, default_value_t = 0, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub latency_jitter_ms: u64,
    /// Probability of dropping the connection without applying.
    #[arg(long, default_value_t = 0.0, value_parser = probability, value_name = "P")]
    pub reset_before_apply: f64,
    /// Probability of applying, then holding the response for --stall-ms.
    #[arg(long, default_value_t = 0.0, value_parser = probability, value_name = "P")]
    pub apply_then_stall: f64,
    /// How long a stalled response is held.
    #[arg(long, default_value_t = 120_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub stall_ms: u64,
    /// Probability of applying, then dropping the connection.
    #[arg(long, default_value_t = 0.0, value_parser = probability, value_name = "P")]
    pub apply_then_reset: f64,
    /// The first N update requests for each call get 503.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub fail_first: u64,
    /// Probability that an update is answered 200 with an error in its body, not applied.
    #[arg(long = "error-200", default_value_t = 0.0, value_parser = probability, value_name = "P")]
    pub error_200: f64,
    /// An update parameter every update ignores, answering 200 all the same.
    #[arg(long, value_name = "PARAM")]
    pub ignore_param: Option<String>,
    /// Leave this field out of every call served (repeatable): rehearse an account whose calls
    /// lack one (`tdrecon doctor` warns).
    #[arg(long, value_name = "FIELD")]
    pub omit_field: Vec<String>,
    /// Refuse any `columns=` of the calls list with a 422.
    #[arg(long)]
    pub refuse_columns: bool,
    /// Run the server's clock this far from real time (its AuditLog times and Date header):
    /// -5m is five minutes behind.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = clock_offset, default_value = "0")]
    pub clock_offset: i64,
    /// Serve a call's events this many a page, with metadata.next_cursor (0: all at once).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub events_per_page: u64,
    /// How AuditLog entries type an update's params: strings (as documented), as-sent, ones ("1" for true).
    #[arg(long, value_enum, default_value_t = AuditTyped::Strings)]
    pub audit_params: AuditTyped,
    /// AuditLog params nested under `call`, as Rails logs them.
    #[arg(long)]
    pub audit_nested: bool,
    /// AuditLog params hold post_call_tokens as a JSON string.
    #[arg(long)]
    pub audit_tokens_as_text: bool,
    /// AuditLog params hold only the parameters the API knows (a reference leaves no trace).
    #[arg(long)]
    pub audit_known_only: bool,
    /// Refuse an update carrying a parameter the API does not know, with a 422 naming it.
    #[arg(long)]
    pub refuse_unknown_params: bool,
    /// On SIGINT/SIGTERM, write the final state JSON here before exiting.
    #[arg(long, value_name = "FILE")]
    pub dump_state: Option<PathBuf>,
    /// Once listening, write the base URL to this file (atomically: a script can wait for it to
    /// appear, then read it: `until [ -s sim.url ]; do sleep 0.1; done`).
    #[arg(long, value_name = "PATH")]
    pub url_file: Option<PathBuf>,
    /// The most calls a page of GET /api/v1/calls holds, whatever per_page asks.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_per_page: u32,
}

/// `--method`, as clap parses it (the library's `Method` knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum MethodArg {
    Put,
    Post,
    Patch,
}

/// `sim --audit-params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum AuditTyped {
    Strings,
    AsSent,
    Ones,
}

/// `sim --clock-offset`: a signed duration, `-5m`, `90s`, `0`.
fn clock_offset(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest == "0" {
        return Ok(0);
    }
    let d = duration(rest, std::time::Duration::from_millis(1), std::time::Duration::from_secs(86_400 * 30))?;
    Ok(sign * i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `template`'s argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum UseCaseArg {
    /// Nightly buyer report: revenue, payout, conversions.
    Revenue,
    /// Backfill of dispositions and agent notes.
    Disposition,
    /// Contact fields (post-call tokens).
    Tokens,
    /// Every column, one example row per use case.
    All,
}

/// `--rate`: a number of requests a second, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum RateArg {
    PerSecond(u32),
    Auto,
}

impl std::fmt::Display for RateArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateArg::PerSecond(n) => write!(f, "{n}"),
            RateArg::Auto => f.write_str("auto"),
        }
    }
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

/// `--delimiter`: one ASCII character, or `\t` / `tab`.
fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        d if d.len() == 1 && d.is_ascii() => Ok(d.as_bytes()[0]),
        d => Err(format!("{d:?}: expected one ASCII character")),
    }
}

/// `--time-zone`: an IANA name.
fn time_zone(text: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(text.trim()).map_err(|_| format!("{text:?}: not an IANA time zone, like America/New_York"))
}

/// `--timeout`: 1 ms to 1 hour.
pub(super) fn timeout(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_millis(1), std::time::Duration::from_secs(3600))
}

/// `sim --rate-limit-window`: 100 ms to 1 hour.
fn limit_window(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_millis(100), std::time::Duration::from_secs(3600))
}

/// `--encoding`: a WHATWG label (`windows-1252`, `latin1`, `utf-16le`…).
fn encoding(text: &str) -> Result<&'static encoding_rs::Encoding, String> {
    let label = text.trim();
    // WHATWG's utf-16 is little-endian; say so rather than guess silently.
    let label = if label.eq_ignore_ascii_case("utf-16") { "utf-16le" } else { label };
    encoding_rs::Encoding::for_label(label.as_bytes())
        .ok_or_else(|| format!("{text:?}: not an encoding (try utf-8, windows-1252, latin-1, utf-16le, utf-16be)"))
}

/// `--match-window`: 1 second to 24 hours.
fn match_window(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(1), std::time::Duration::from_secs(86_400))
}

/// `--repeat-window`: 1 second to 366 days.
fn repeat_window(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(1), std::time::Duration::from_secs(366 * 86_400))
}

/// `--audit-lag`: 1 second to 1 hour.
fn audit_lag(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(1), std::time::Duration::from_secs(3600))
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
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => return Err(format!("{t:?}: expected a duration like 30s or 500ms")),
    };
    let range = || format!("{t:?}: expected from {} ms to {} s", min.as_millis(), max.as_secs());
    // Checked before building a Duration, which panics on values past its range.
    if !secs.is_finite() || secs < min.as_secs_f64() || secs > max.as_secs_f64() {
        return Err(range());
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| range())
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a probability from 0 to 1".into()),
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

    #[test]
    fn the_defaults_parse_as_their_flags_do() {
        assert_eq!(timeout(defaults::TIMEOUT), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(max_pause(defaults::MAX_PAUSE), Ok(std::time::Duration::from_secs(120)));
        assert_eq!(match_window(defaults::MATCH_WINDOW), Ok(std::time::Duration::from_secs(300)));
        assert_eq!(repeat_window(defaults::REPEAT_WINDOW), Ok(std::time::Duration::from_secs(30 * 86_400)));
        assert_eq!(repeat_window("12h"), Ok(std::time::Duration::from_secs(12 * 3600)));
        assert!(repeat_window("400d").is_err());
        assert_eq!(rate_arg(&RateArg::PerSecond(defaults::RATE).to_string()), Ok(RateArg::PerSecond(defaults::RATE)));
        assert_eq!(delimiter("tab"), Ok(b'\t'));
        assert!(delimiter(";;").is_err());
    }
}
