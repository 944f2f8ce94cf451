//! The command line as typed (ripgrep's "low" arguments): the commands and
//! their clap structs (`job_args`: run and plan; `sim_args`; `input_args`:
//! how a file is read), each flag's form and range checked by `values`,
//! and nothing else. A profile's settings are parsed by the same structs (see `mod.rs`),
//! so a range or a form is checked in one place whichever way it was given.
//! `resolve` turns what is here into the options the commands take.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::defaults;
pub(super) use super::input_args::InputArgs;
pub(super) use super::job_args::{PlanArgs, RunArgs};
pub(super) use super::sim_args::SimArgs;
use super::values::timeout;

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
    Plan(Box<PlanArgs>),
    /// Check, read-only, what TrackDrive's API looks like from this account: keys, the calls
    /// list and the names its fields come by, paging, columns=, events, name lists. Run it first
    /// against a new account. Exit 0 when every assumption holds, 1 when one does not.
    Doctor(DoctorArgs),
    /// Print what the account's ledger holds (CSV): every update tdrecon sent a call, or sent
    /// since a time, with what became of it and the file, line and run it came from.
    History(HistoryArgs),
    /// A team's shared ledger: `tdrecon ledger import --ledger postgres://…`.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// List the account's dispositions, buyers or traffic sources with their ids: the names a
    /// file's call_disposition, reassign_buyer and reassign_traffic_source columns take. Read-only.
    Names(NamesArgs),
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
    #[arg(value_name = "CALL", required_unless_present_any = ["since", "runs"])]
    pub call: Option<String>,
    /// List runs, not updates: when, who (user@host), the file and its digest, rows by status,
    /// money sent and the exit code.
    #[arg(long, conflicts_with = "call")]
    pub runs: bool,
    /// From this time on: today, yesterday, 24h, 7d, or a date or time (2026-11-27,
    /// 2026-11-27 21:04:00), in this machine's zone unless an offset is given.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// The account, as the runs named it (its ledger is named by the URL and the public key).
    #[command(flatten)]
    pub account: AccountArgs,
    #[command(flatten)]
    pub ledger: super::job_args::LedgerArgs,
}

#[derive(Debug, Subcommand)]
pub(super) enum LedgerCommand {
    /// Copy this machine's SQLite ledgers (every account's) into the shared ledger named by
    /// --ledger: idempotent, so a team moving to it loses nothing and doubles nothing.
    Import {
        #[command(flatten)]
        ledger: super::job_args::LedgerArgs,
    },
}

#[derive(Debug, Args)]
pub(super) struct NamesArgs {
    /// Which list.
    #[arg(value_enum)]
    pub which: WhichArg,
    #[command(flatten)]
    pub account: AccountArgs,
    /// Print CSV (id, name, also, notes_required) instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// Per-request timeout.
    #[arg(long, value_parser = timeout, value_name = "DURATION", default_value = defaults::TIMEOUT)]
    pub timeout: std::time::Duration,
}

/// `names`' argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum WhichArg {
    Dispositions,
    Buyers,
    TrafficSources,
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
