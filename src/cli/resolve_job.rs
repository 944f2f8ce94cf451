//! `run`'s and `plan`'s flags resolved into the job's `Settings`: each group
//! resolves itself (the target, the pacing, what is read beside the rows),
//! each command its own flags and mode, and the outputs are checked against
//! the input and each other before anything is read or sent.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use super::defaults;
use super::job_args::{PacingArgs, PlanArgs, ReconcileArgs, RunArgs, TargetArgs};
use super::resolve::usage;
use super::values::{MethodArg, RateArg};
use crate::exit::Fatal;
use crate::input::InputOptions;
use crate::job::{Destination, KeySource, Mode, Outputs, Pacing, Reading, Safety, Settings, Target};
use crate::reports::summary_json::SummaryOut;
use crate::trackdrive::backoff::Backoff;
use crate::trackdrive::client::{Method, check_base_url, subdomain_url};
use crate::trackdrive::gate;

impl TargetArgs {
    /// Where updates go; a dry run (`nowhere`) needs nowhere to send.
    fn resolve(self, method: Method, serializer: Option<String>, nowhere: bool) -> Result<Destination, Fatal> {
        // clap's `requires` counts a flag's default as given: checked here.
        if self.sandbox_calls.is_some() && !self.sandbox {
            return Err(usage(
                "--sandbox-calls seeds the simulator: it needs --sandbox (against a real account it would \
                 rehearse nothing and write for real)",
            ));
        }
        let target = match (&self.subdomain, &self.base_url, self.sandbox) {
            (Some(name), None, false) => Target::Url(subdomain_url(name).map_err(usage)?),
            (None, Some(url), false) => Target::Url(check_base_url(url).map_err(usage)?),
            (None, None, true) => Target::Sandbox,
            (None, None, false) if nowhere => Target::Url("https://dry-run.invalid".into()),
            _ => return Err(usage("say where to send: --subdomain NAME, --base-url URL or --sandbox")),
        };
        let keys = self.credentials.map_or(KeySource::Environment, KeySource::File);
        Ok(Destination { target, keys, method, serializer, sandbox_calls: self.sandbox_calls })
    }
}

impl PacingArgs {
    fn resolve(&self) -> Pacing {
        let gate = match self.rate {
            RateArg::Auto => {
                gate::Pacing::Auto { max: NonZeroU32::new(self.max_rate).expect("clap checks max_rate >= 1") }
            }
            RateArg::PerSecond(rate) => match NonZeroU32::new(rate) {
                None => gate::Pacing::Off,
                Some(rate) => {
                    let share = NonZeroU32::new(rate.get() / defaults::BURST_DIVISOR).unwrap_or(NonZeroU32::MIN);
                    gate::Pacing::Fixed { rate, burst: self.burst.and_then(NonZeroU32::new).unwrap_or(share) }
                }
            },
        };
        Pacing {
            gate,
            concurrency: NonZeroUsize::new(usize::from(self.concurrency)).expect("clap checks concurrency >= 1"),
            timeout: self.timeout,
            max_retries: self.max_retries,
            max_pause: self.max_pause,
            backoff: Backoff {
                base: Duration::from_millis(self.backoff_base_ms),
                cap: Duration::from_millis(self.backoff_cap_ms),
            },
        }
    }
}

impl ReconcileArgs {
    /// What is read beside the rows (the window's times in the input's zone).
    fn resolve(&self, input: &InputOptions, reconcile: bool) -> Result<Reading, Fatal> {
        // Checked here, not by clap, whose message repeats the value (a
        // webhook URL's path is its secret).
        for url in &self.notify {
            crate::reports::notify::check_url(url).map_err(usage)?;
        }
        let when = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    crate::input::values::parse_call_time(t, &input.time_zone)
                        .map_err(|e| usage(format!("{flag} {t:?}: {e}")))
                })
                .transpose()
        };
        let (since, until) = (when("--since", &self.since)?, when("--until", &self.until)?);
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(usage("--since is after --until"));
        }
        if let Some(report) = &self.report
            && !report.extension().is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
        {
            return Err(usage(format!("--report {}: the page is HTML; name it FILE.html", report.display())));
        }
        Ok(Reading {
            reconcile,
            since,
            until,
            page_size: self.page_size,
            match_window: self.match_window,
            buyers: self.buyer.clone(),
            failed_only: false,
            signed_plan: None,
        })
    }

    /// The outputs both commands write, `results` being the plan for a plan.
    fn outputs(self, input: &InputOptions, results: PathBuf, errors: Option<PathBuf>, kind: &str) -> Outputs {
        Outputs {
            journal: crate::records::journal::beside(&results, &input.sibling(kind)),
            results,
            errors: errors.unwrap_or_else(|| input.sibling("errors")),
            rollback: None,
            discrepancies: self.discrepancies.unwrap_or_else(|| input.sibling("discrepancies")),
            report: self.report,
            notify: self.notify,
            summary_json: None,
            quiet: false,
        }
    }
}

impl RunArgs {
    /// Where a failure's summary goes, and the files it must not overwrite.
    pub(super) fn summary_out(&self) -> SummaryOut {
        let also_read = self.input.config.iter().chain(&self.target.sandbox_calls).cloned().collect();
        SummaryOut { json: self.summary_json.clone(), also_read, notify: self.reconciling.notify.clone() }
    }

    pub(super) fn resolve(self) -> Result<Settings, Fatal> {
        let r = &self.reconciling;
        if !self.reconcile && (!r.buyer.is_empty() || r.discrepancies.is_some()) {
            return Err(usage(
                "--buyer and --discrepancies need --reconcile: the discrepancies compare the report with the \
                 window's calls, read before the first row",
            ));
        }
        if self.rollback.is_some() && !self.reconcile {
            return Err(usage("--rollback needs --reconcile: it is built from the values read before each write"));
        }
        let mode = match (self.dry_run, self.resume, self.restart) {
            (true, _, _) => Mode::DryRun,
            (_, true, _) => Mode::Resume,
            (_, _, true) => Mode::Restart,
            _ => Mode::Run,
        };
        let method = match self.method {
            MethodArg::Put => Method::Put,
            MethodArg::Post => Method::Post,
            MethodArg::Patch => Method::Patch,
        };
        let destination = self.target.resolve(method, self.serializer, self.dry_run)?;
        // A run reads a private copy: what it sends is what it hashed.
        let mut input_args = self.input;
        input_args.fetch(self.resume)?;
        let input = input_args.resolve(true)?;
        // A signed plan is applied as the plan read it: every call read first.
        let reconcile = self.reconcile || self.plan.is_some();
        let mut reading = self.reconciling.resolve(&input, reconcile)?;
        reading.failed_only = self.failed_only;
        if let Some(path) = &self.plan {
            reading.signed_plan =
                Some(std::sync::Arc::new(signed_plan(path, &input, &destination, self.plan_max_age)?));
        }
        let results = self.results.unwrap_or_else(|| input.sibling("results"));
        let mut outputs = self.reconciling.outputs(&input, results, self.errors, "results");
        (outputs.rollback, outputs.summary_json, outputs.quiet) = (self.rollback, self.summary_json, self.quiet);
        let safety = Safety {
            max_failures: self.max_failures,
            references: !self.no_reference,
            repeat_window: self.repeat_window,
            allow_repeat: self.allow_repeat,
            audit_lag: self.audit_lag,
            journal_sync: !self.no_journal_sync,
            journal_fail_after: self.journal_fail_after,
            ledger: self.ledger.resolve()?,
            ledger_vouches: self.ledger_vouches,
        };
        let settings = Settings::new(mode, input, destination, self.pacing.resolve(), reading, outputs, safety);
        check_outputs(&settings)?;
        Ok(settings)
    }
}

/// The plan at `path`, checked against this run's input and account.
fn signed_plan(
    path: &std::path::Path,
    input: &crate::input::InputOptions,
    destination: &crate::job::Destination,
    max_age: Duration,
) -> Result<crate::reports::signed_plan::SignedPlan, Fatal> {
    let input_sha256 = input.survey.as_ref().map(|s| s.sha256.clone()).unwrap_or_default();
    let account = destination.account();
    let expected = crate::reports::signed_plan::Expected {
        input_sha256: &input_sha256,
        account: &account,
        max_age_ms: i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX),
        now_ms: jiff::Timestamp::now().as_millisecond(),
    };
    crate::reports::signed_plan::SignedPlan::load(path, &expected).map_err(usage)
}

impl PlanArgs {
    /// Where a failure's summary goes, and the files it must not overwrite.
    pub(super) fn summary_out(&self) -> SummaryOut {
        let also_read = self.input.config.iter().chain(&self.target.sandbox_calls).cloned().collect();
        SummaryOut { json: self.summary_json.clone(), also_read, notify: self.reconciling.notify.clone() }
    }

    /// A plan: every row's call read and compared, nothing written to TrackDrive.
    pub(super) fn resolve(self) -> Result<Settings, Fatal> {
        let mode = if self.discrepancies_only { Mode::DiscrepanciesOnly } else { Mode::Plan };
        let destination = self.target.resolve(Method::Put, None, false)?;
        let mut input_args = self.input;
        input_args.fetch(false)?;
        let input = input_args.resolve(true)?;
        let reading = self.reconciling.resolve(&input, true)?;
        let results = self.results.unwrap_or_else(|| input.sibling("plan"));
        let mut outputs = self.reconciling.outputs(&input, results, self.errors, "plan");
        (outputs.summary_json, outputs.quiet) = (self.summary_json, self.quiet);
        let safety = Safety {
            max_failures: None,
            references: true,
            repeat_window: self.repeat_window,
            allow_repeat: false,
            audit_lag: Duration::ZERO,
            journal_sync: true,
            journal_fail_after: None,
            ledger: self.ledger.resolve()?,
            ledger_vouches: false,
        };
        let settings = Settings::new(mode, input, destination, self.pacing.resolve(), reading, outputs, safety);
        check_outputs(&settings)?;
        Ok(settings)
    }
}

/// Every file a run writes, checked against its input and each other
/// before anything is sent (`files::paths`).
fn check_outputs(settings: &Settings) -> Result<(), Fatal> {
    let o = settings.outputs();
    let results = if settings.mode().plans() { "the plan (--results)" } else { "--results" };
    let mut outputs = vec![(results, o.results.as_path()), ("--errors", o.errors.as_path())];
    // A journal is written by a run that sends (see journal_plan), and its
    // lock beside it by every run.
    outputs.push(("the journal", o.journal.as_path()));
    outputs.extend(o.rollback.as_deref().map(|p| ("--rollback", p)));
    if settings.reading().reconcile {
        outputs.push(("--discrepancies", o.discrepancies.as_path()));
    }
    outputs.extend(o.report.as_deref().map(|p| ("--report", p)));
    outputs.extend(o.summary_json.as_deref().filter(|p| p.as_os_str() != "-").map(|p| ("--summary-json", p)));
    crate::files::paths::check(&settings.read_files(), &outputs).map_err(usage)
}
