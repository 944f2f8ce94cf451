//! A run configured by what it is: a `Mode` (plan, discrepancies only, dry
//! run, run, resume, restart) and its parts, each grouped by what it is
//! for (`Destination`: where and how updates are written; `Pacing`: how
//! fast and how patiently; `Reading`: what is read besides the rows;
//! `Outputs`: where the run writes; `Safety`: what keeps a row from being
//! lost or applied twice). Built once by `cli` from the flags, the profile
//! and their checks; the job reads it and never second-guesses it.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::input::InputOptions;
use crate::trackdrive::api::ApiSettings;
use crate::trackdrive::backoff::Backoff;
use crate::trackdrive::client::Method;
use crate::trackdrive::gate;

/// What a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `plan`: read and compare every row, write what `run` would change,
    /// send no update.
    Plan,
    /// `plan --discrepancies-only`: judge the report against the window,
    /// write no plan.
    DiscrepanciesOnly,
    /// `run --dry-run`: send nothing; write each row's body.
    DryRun,
    /// `run`: send every row (a file already sent is refused).
    Run,
    /// `run --resume`: continue the run the journal recorded.
    Resume,
    /// `run --restart`: discard the journal and send every row again.
    Restart,
}

impl Mode {
    /// A plan: nothing is written to TrackDrive, each row's call is read.
    pub fn plans(self) -> bool {
        matches!(self, Mode::Plan | Mode::DiscrepanciesOnly)
    }

    /// Updates go out (a plan and a dry run send none).
    pub fn sends(self) -> bool {
        matches!(self, Mode::Run | Mode::Resume | Mode::Restart)
    }
}

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
        let bad = || format!("{t:?}: expected a count (50) or a percentage (5%)");
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

/// Where updates go, and how they are written.
#[derive(Debug, Clone)]
pub struct Destination {
    pub target: Target,
    pub keys: KeySource,
    pub method: Method,
    pub serializer: Option<String>,
    /// `--sandbox-calls`: the sandbox's calls, from a calls file (else from
    /// the rows).
    pub sandbox_calls: Option<PathBuf>,
}

impl Destination {
    /// The account it reaches, as the ledger and a plan's seal name it
    /// (`records::state::Account`); `sandbox` for the sandbox.
    pub fn account(&self) -> String {
        match &self.target {
            Target::Url(url) => crate::records::state::Account::of(url).to_string(),
            Target::Sandbox => "sandbox".to_string(),
        }
    }

    /// Nothing real is sent: a dry run's target, or a sandbox.
    pub fn is_sandbox(&self) -> bool {
        matches!(self.target, Target::Sandbox)
    }
}

/// How fast attempts go, how many at once, and how patiently.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Off, a fixed rate and burst, or auto.
    pub gate: gate::Pacing,
    pub concurrency: NonZeroUsize,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_pause: Duration,
    pub backoff: Backoff,
}

impl Pacing {
    /// What the API client shares between requests.
    pub fn api_settings(&self) -> ApiSettings {
        ApiSettings { concurrency: self.concurrency.get(), backoff: self.backoff, max_retries: self.max_retries }
    }
}

/// What the run reads besides the rows.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Read each call first, send only what differs, judge the discrepancies.
    pub reconcile: bool,
    /// The window read in pages (ms since the epoch), when given; else the
    /// file's call times decide it.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Calls asked for per page of a window read.
    pub page_size: u32,
    /// How far a call's time may be from a row's, to find it by caller.
    pub match_window: Duration,
    /// The buyers whose report it is (`--buyer`, names or ids).
    pub buyers: Vec<String>,
    /// `--resume --failed-only`: rows left `unknown` are not reopened.
    pub failed_only: bool,
    /// `--plan`: the signed plan every row is held to.
    pub signed_plan: Option<std::sync::Arc<crate::reports::signed_plan::SignedPlan>>,
}

/// Where the run writes.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// results.csv (or, for a plan, the plan) and errors.csv.
    pub results: PathBuf,
    pub errors: PathBuf,
    /// The journal: beside the results, unless they go to a stream.
    pub journal: PathBuf,
    /// A file that undoes every applied change (with `reconcile`).
    pub rollback: Option<PathBuf>,
    /// Where the discrepancies go (when judged).
    pub discrepancies: PathBuf,
    /// `--report`: the HTML page of the night.
    pub report: Option<PathBuf>,
    /// `--notify`: where word goes when the job ends.
    pub notify: Vec<String>,
    pub summary_json: Option<PathBuf>,
    /// No progress bar.
    pub quiet: bool,
}

/// What keeps a row from being lost, or applied twice.
#[derive(Debug, Clone)]
pub struct Safety {
    pub max_failures: Option<Threshold>,
    /// Each update carries its own reference (`fields::REFERENCE_PARAM`):
    /// off with `--no-reference`, for an account that refuses it.
    pub references: bool,
    /// How far back an earlier run's same add is refused (`--repeat-window`).
    pub repeat_window: Duration,
    /// Send such a repeat anyway (`--allow-repeat`).
    pub allow_repeat: bool,
    /// How long after a request its update is taken to have landed and to
    /// be in the audit log (`--audit-lag`).
    pub audit_lag: Duration,
    /// Sync the journal to disk (off only for measuring what syncing costs).
    pub journal_sync: bool,
    /// Tests only: the journal fails as on a full disk after this many bytes.
    pub journal_fail_after: Option<u64>,
    /// The team's shared ledger (`--ledger postgres://…`); `None`: this
    /// machine's SQLite one.
    pub ledger: Option<crate::records::ledger::PgTarget>,
    /// `--ledger-vouches`: every run that reaches the account goes through
    /// the shared ledger, so the audit-log read before each add is skipped.
    pub ledger_vouches: bool,
}

/// A run's settings: its mode, its input and its parts.
#[derive(Debug, Clone)]
pub struct Settings {
    mode: Mode,
    input: InputOptions,
    destination: Destination,
    pacing: Pacing,
    reading: Reading,
    outputs: Outputs,
    safety: Safety,
}

impl Settings {
    pub fn new(
        mode: Mode,
        input: InputOptions,
        destination: Destination,
        pacing: Pacing,
        reading: Reading,
        outputs: Outputs,
        safety: Safety,
    ) -> Settings {
        Settings { mode, input, destination, pacing, reading, outputs, safety }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn input(&self) -> &InputOptions {
        &self.input
    }

    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    pub fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    pub fn reading(&self) -> &Reading {
        &self.reading
    }

    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    pub fn safety(&self) -> &Safety {
        &self.safety
    }

    /// Every file the run reads: the input, its profile, the simulator's
    /// calls. No output may be written over one of them.
    pub fn read_files(&self) -> Vec<&Path> {
        let mut files = self.input.read_files();
        files.extend(self.destination.sandbox_calls.as_deref());
        files
    }

    /// How far back the call's audit log is checked before a row that acts
    /// is written; `None` when nothing is sent or repeats are allowed.
    pub fn log_check(&self) -> Option<Duration> {
        (self.mode.sends() && !self.safety.allow_repeat).then_some(self.safety.repeat_window)
    }

    /// Whether each add's call's audit log is read before it is sent: not
    /// when the shared ledger vouches for every run that reaches the
    /// account (its check, atomic with the intent, is then the whole story).
    pub fn log_before_acting(&self) -> bool {
        self.log_check().is_some() && !(self.safety.ledger.is_some() && self.safety.ledger_vouches)
    }

    /// The options that change what is sent: a journal is bound to them, so
    /// a resume cannot send different bodies or to a different place.
    pub(super) fn fingerprint(&self) -> String {
        let target = match &self.destination.target {
            Target::Url(url) => url.as_str(),
            Target::Sandbox => "sandbox",
        };
        let headers = &self.input.headers;
        format!(
            "{target}|{:?}|{:?}|{}|{:?}|{:?}{}",
            self.destination.method,
            self.destination.serializer,
            self.input.delimiter,
            headers.maps,
            headers.ignore,
            // Added to the binding only when used, so journals of runs
            // without them still resume.
            if headers.values.is_empty() && headers.negative_as_add.is_empty() {
                String::new()
            } else {
                format!("|{:?}|{:?}", headers.values, headers.negative_as_add)
            }
        ) + &self
            .reading
            .signed_plan
            // A run of a signed plan resumes only as one (held to that plan).
            .as_ref()
            .map(|p| format!("|plan {}", p.seal.plan_sha256))
            .unwrap_or_default()
    }
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
