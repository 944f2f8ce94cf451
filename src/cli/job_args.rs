//! `run`'s and `plan`'s flags, composed from the groups both take (the
//! input, the target, the pacing, what is read beside the rows), each
//! command adding its own: `run` what writing needs (method, journal,
//! safety), `plan` what planning needs. A flag that does nothing for a
//! command is not in its help.

use std::path::PathBuf;

use clap::Args;

use super::defaults;
use super::input_args::InputArgs;
use super::values::{
    MethodArg, RateArg, audit_lag, match_window, max_pause, plan_max_age, rate_arg, repeat_window, timeout,
};
use crate::job::Threshold;

/// Where requests go (`run`, `plan`).
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").args(["subdomain", "base_url", "sandbox"]))]
pub(super) struct TargetArgs {
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
}

/// How fast, how many at once, how patiently (`run`, `plan`).
#[derive(Debug, Args)]
pub(super) struct PacingArgs {
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
    /// First retry's backoff ceiling, in milliseconds (doubles per retry).
    #[arg(long, default_value_t = defaults::BACKOFF_BASE_MS, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub backoff_base_ms: u64,
    /// Largest backoff, in milliseconds.
    #[arg(long, default_value_t = defaults::BACKOFF_CAP_MS, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub backoff_cap_ms: u64,
}

/// What is read beside the rows, and the report against TrackDrive (`run`, `plan`).
#[derive(Debug, Args)]
pub(super) struct ReconcileArgs {
    /// Read the calls made from this time on in pages, instead of one GET a row
    /// [default: the file's earliest call_time, when it has that column].
    #[arg(help_heading = "Reconciliation", long, value_name = "TIME")]
    pub since: Option<String>,
    /// ... up to this time [default: the file's latest call_time, or now].
    #[arg(help_heading = "Reconciliation", long, value_name = "TIME")]
    pub until: Option<String>,
    /// Find a row without a call id by the one call from its caller_number within this of its
    /// call_time.
    #[arg(help_heading = "Reconciliation", long, default_value = defaults::MATCH_WINDOW,
          value_parser = match_window, value_name = "DURATION")]
    pub match_window: std::time::Duration,
    /// Calls asked for per page of a window read (the server may send fewer).
    #[arg(help_heading = "Reconciliation", long, default_value_t = defaults::PAGE_SIZE, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,
    /// The buyer whose report this is (its name, its own id, or TrackDrive's id): what TrackDrive
    /// and the report disagree on is judged for it. Repeatable. Without it: each buyer the
    /// report's Buyer column names.
    #[arg(help_heading = "Reconciliation", long = "buyer", value_name = "NAME|ID")]
    pub buyer: Vec<String>,
    /// When it ends, whatever its exit code, POST the summary (the --summary-json fields and a
    /// one-line `text`, as Slack's and Teams' incoming webhooks show) to this https URL. Repeatable.
    /// Delays the exit 5 s at most.
    #[arg(help_heading = "Outputs", long, value_name = "URL")]
    pub notify: Vec<String>,
    /// Where to write what TrackDrive and the report disagree on
    /// [default: <input stem>.discrepancies.csv].
    #[arg(help_heading = "Reconciliation", long, value_name = "PATH")]
    pub discrepancies: Option<PathBuf>,
    /// Write one self-contained HTML page of the night (totals per buyer, control totals,
    /// discrepancies, rows that need a look) to open, mail or print for sign-off.
    #[arg(help_heading = "Reconciliation", long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// HTTP method for updates.
    #[arg(help_heading = "Target", long, value_enum, default_value_t = MethodArg::Put)]
    pub method: MethodArg,
    /// Response format passed to the API.
    #[arg(help_heading = "Target", long, value_parser = ["call", "call_grid"])]
    pub serializer: Option<String>,
    #[command(flatten)]
    pub pacing: PacingArgs,
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
    /// With --resume: send only the rows that failed or were not sent, nothing else (rows left
    /// unknown stay unknown, even with --reconcile). The command a run prints when some rows
    /// may be sent again.
    #[arg(help_heading = "Safety", long, requires = "resume")]
    pub failed_only: bool,
    /// Discard this file's journal and send every row again.
    #[arg(help_heading = "Safety", long, conflicts_with = "dry_run")]
    pub restart: bool,
    /// Read each call first (GET, under the same rate limit), send only the fields that differ
    /// (a row that already matches is `unchanged`), report before and after values and what
    /// TrackDrive and the report disagree on, and settle an ambiguous add by reading the call back.
    #[arg(help_heading = "Safety", long)]
    pub reconcile: bool,
    /// With --reconcile: write a CSV in tdrecon's input format that undoes every applied change.
    #[arg(help_heading = "Safety", long, value_name = "PATH")]
    pub rollback: Option<PathBuf>,
    /// Send updates without their own reference (the tdrecon_ref parameter that lets a row in
    /// doubt be settled from the audit log): for an account that refuses parameters it does not know.
    #[arg(help_heading = "Safety", long)]
    pub no_reference: bool,
    /// Refuse an add, a webhook fire or a transcription request that an earlier run (by the
    /// account's ledger and audit log) already sent the same call within this long.
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
    /// Send exactly the changes of this signed plan (a `tdrecon plan` file, with its seal beside
    /// it), and nothing else: each call is read first, and one that no longer holds what the plan
    /// read is not sent (changed_since_plan). A plan of another file or account is refused.
    #[arg(help_heading = "Safety", long, value_name = "PLAN.csv", conflicts_with = "dry_run")]
    pub plan: Option<PathBuf>,
    /// With --plan: the oldest plan applied.
    #[arg(help_heading = "Safety", long, default_value = defaults::PLAN_MAX_AGE, value_parser = plan_max_age,
          value_name = "DURATION")]
    pub plan_max_age: std::time::Duration,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// With --ledger: every run that reaches this account goes through the shared ledger, so it
    /// vouches for the account's history and the audit-log read before each add is skipped.
    /// Declare it (best in the profile) only when no machine sends to the account without it.
    #[arg(help_heading = "Safety", long, requires = "ledger")]
    pub ledger_vouches: bool,
    #[command(flatten)]
    pub reconciling: ReconcileArgs,
    /// Do not sync the journal to disk (only for measuring what syncing costs).
    #[arg(long, hide = true)]
    pub no_journal_sync: bool,
    /// Tests only: the journal's writes fail, as on a full disk, once it has taken this many bytes.
    #[arg(long, hide = true, value_name = "BYTES")]
    pub journal_fail_after: Option<u64>,
}

/// Which ledger a command keeps or reads.
#[derive(Debug, Args)]
pub(super) struct LedgerArgs {
    /// A team's shared ledger on PostgreSQL: postgres://USER@HOST:PORT/DBNAME (also
    /// TDRECON_LEDGER, or the profile's `ledger`). The password only from PGPASSWORD or a
    /// password file (~/.pgpass, mode 600), never in the URL. TLS for any host but this machine.
    /// Without it, each machine keeps its own SQLite ledger.
    #[arg(help_heading = "Safety", long, value_name = "URL")]
    pub ledger: Option<String>,
}

impl LedgerArgs {
    /// The shared ledger, if one is named (the flag, else `TDRECON_LEDGER`).
    pub fn resolve(&self) -> Result<Option<crate::records::ledger::PgTarget>, crate::exit::Fatal> {
        let named =
            self.ledger.clone().or_else(|| std::env::var("TDRECON_LEDGER").ok().filter(|v| !v.trim().is_empty()));
        named
            .map(|url| crate::records::ledger::PgTarget::parse(&url))
            .transpose()
            .map_err(|e| crate::exit::Fatal::usage(anyhow::anyhow!(e)))
    }
}

#[derive(Debug, Args)]
pub(super) struct PlanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    /// Where to write the plan: each row's call before and after, and the change
    /// [default: <input stem>.plan.csv].
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// Where to write rejected rows [default: <input stem>.errors.csv].
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    pub errors: Option<PathBuf>,
    /// Also write the summary as JSON, for schedulers.
    #[arg(help_heading = "Outputs", long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
    /// No progress bar.
    #[arg(help_heading = "Outputs", long, short)]
    pub quiet: bool,
    /// Read the window and write the discrepancies, without a plan file.
    #[arg(help_heading = "Reconciliation", long)]
    pub discrepancies_only: bool,
    /// Say which adds the account's ledger shows an earlier run sent the same call within this long
    /// (as `run` would refuse them).
    #[arg(help_heading = "Reconciliation", long, default_value = defaults::REPEAT_WINDOW,
          value_parser = repeat_window, value_name = "DURATION")]
    pub repeat_window: std::time::Duration,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub reconciling: ReconcileArgs,
}
