//! What was typed, resolved into what the commands take (ripgrep's "high"
//! arguments): the target, the pacing, the output paths, the window, and
//! every check that depends on more than one flag. Commands receive these
//! options whole and never second-guess them.

use std::num::{NonZeroU32, NonZeroUsize};

use super::args::{
    AccountArgs, AuditTyped, DoctorArgs, HistoryArgs, InputArgs, MethodArg, NegativeAsAdd, RateArg, RunArgs, SimArgs,
    ValidateArgs,
};
use super::defaults;
use crate::commands::doctor::DoctorOptions;
use crate::commands::validate::ValidateOptions;
use crate::exit::Fatal;
use crate::input::InputOptions;
use crate::input::columns::HeaderOptions;
use crate::input::fields::CallField;
use crate::input::source::Source;
use crate::job::{KeySource, RunOptions, Target};
use crate::trackdrive::backoff::Backoff;
use crate::trackdrive::client::{Method, check_base_url, subdomain_url};
use crate::trackdrive::credentials::Credentials;
use crate::trackdrive::gate::Pacing;

fn usage(e: impl std::fmt::Display) -> Fatal {
    Fatal::usage(anyhow::anyhow!("{e}"))
}

impl ValidateArgs {
    pub(super) fn resolve(self) -> Result<ValidateOptions, Fatal> {
        let input = self.input.resolve(false)?;
        let errors = self.errors.unwrap_or_else(|| input.sibling("errors"));
        let mut outputs = vec![("--errors", errors.as_path())];
        outputs.extend(self.summary_json.as_deref().filter(|p| p.as_os_str() != "-").map(|p| ("--summary-json", p)));
        crate::files::paths::check(&input.read_files(), &outputs).map_err(usage)?;
        Ok(ValidateOptions { input, errors, summary_json: self.summary_json })
    }
}

/// Every file a run writes, checked against its input and each other
/// before anything is sent (`outputs::paths`).
fn check_outputs(opts: &RunOptions) -> Result<(), Fatal> {
    let results = if opts.plan { "the plan (--results)" } else { "--results" };
    let mut outputs = vec![(results, opts.results.as_path()), ("--errors", opts.errors.as_path())];
    // A journal is written by a run that sends (see journal_plan), and its
    // lock beside it by every run.
    outputs.push(("the journal", opts.journal.as_path()));
    outputs.extend(opts.rollback.as_deref().map(|p| ("--rollback", p)));
    if opts.reconcile {
        outputs.push(("--discrepancies", opts.discrepancies.as_path()));
    }
    outputs.extend(opts.report.as_deref().map(|p| ("--report", p)));
    outputs.extend(opts.summary_json.as_deref().filter(|p| p.as_os_str() != "-").map(|p| ("--summary-json", p)));
    crate::files::paths::check(&opts.read_files(), &outputs).map_err(usage)
}

impl RunArgs {
    /// Where a failure's summary goes, and the files it must not overwrite.
    pub(super) fn summary_out(&self) -> crate::reports::summary_json::SummaryOut {
        let also_read = self.input.config.iter().chain(&self.sandbox_calls).cloned().collect();
        crate::reports::summary_json::SummaryOut { json: self.summary_json.clone(), also_read }
    }

    /// `plan`: a `--reconcile` run that writes nothing to TrackDrive.
    pub(super) fn resolve_plan(self) -> Result<RunOptions, Fatal> {
        for (given, flag) in [
            (self.dry_run, "--dry-run"),
            (self.resume, "--resume"),
            (self.restart, "--restart"),
            (self.rollback.is_some(), "--rollback"),
        ] {
            if given {
                return Err(usage(format!("{flag} does not apply to plan: it sends nothing")));
            }
        }
        let results = self.results.clone();
        let only = self.discrepancies_only;
        let mut opts = RunArgs { reconcile: true, ..self }.resolve_unchecked()?;
        opts.discrepancies_only = only;
        opts.plan = true;
        opts.results = results.unwrap_or_else(|| opts.input.sibling("plan"));
        opts.journal = crate::records::journal::beside(&opts.results, &opts.input.sibling("plan"));
        check_outputs(&opts)?;
        Ok(opts)
    }

    pub(super) fn resolve(self) -> Result<RunOptions, Fatal> {
        if self.discrepancies_only {
            return Err(usage("--discrepancies-only applies to plan: `tdrecon plan FILE --discrepancies-only`"));
        }
        if !self.reconcile && (!self.buyer.is_empty() || self.discrepancies.is_some()) {
            return Err(usage(
                "--buyer and --discrepancies need --reconcile: the discrepancies compare the report with the \
                 window's calls, read before the first row",
            ));
        }
        let opts = self.resolve_unchecked()?;
        check_outputs(&opts)?;
        Ok(opts)
    }

    fn resolve_unchecked(self) -> Result<RunOptions, Fatal> {
        // clap's `requires` counts a flag's default as given: checked here.
        if self.sandbox_calls.is_some() && !self.sandbox {
            return Err(usage(
                "--sandbox-calls seeds the simulator: it needs --sandbox (against a real account it would \
                 rehearse nothing and write for real)",
            ));
        }
        if self.rollback.is_some() && !self.reconcile {
            return Err(usage("--rollback needs --reconcile: it is built from the values read before each write"));
        }
        let target = match (&self.subdomain, &self.base_url, self.sandbox) {
            (Some(name), None, false) => Target::Url(subdomain_url(name).map_err(usage)?),
            (None, Some(url), false) => Target::Url(check_base_url(url).map_err(usage)?),
            (None, None, true) => Target::Sandbox,
            // A dry run sends nothing, so it needs nowhere to send.
            (None, None, false) if self.dry_run => Target::Url("https://dry-run.invalid".into()),
            _ => return Err(usage("say where to send: --subdomain NAME, --base-url URL or --sandbox")),
        };
        let pacing = match self.rate {
            RateArg::Auto => Pacing::Auto { max: NonZeroU32::new(self.max_rate).expect("clap checks max_rate >= 1") },
            RateArg::PerSecond(rate) => match NonZeroU32::new(rate) {
                None => Pacing::Off,
                Some(rate) => {
                    let share = NonZeroU32::new(rate.get() / defaults::BURST_DIVISOR).unwrap_or(NonZeroU32::MIN);
                    Pacing::Fixed { rate, burst: self.burst.and_then(NonZeroU32::new).unwrap_or(share) }
                }
            },
        };
        // A run reads a private copy: what it sends is what it hashed.
        let input = self.input.resolve(true)?;
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
        let results = self.results.unwrap_or_else(|| input.sibling("results"));
        let errors = self.errors.unwrap_or_else(|| input.sibling("errors"));
        let journal = crate::records::journal::beside(&results, &input.sibling("results"));
        let discrepancies = self.discrepancies.unwrap_or_else(|| input.sibling("discrepancies"));
        if let Some(report) = &self.report
            && !report.extension().is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
        {
            return Err(usage(format!("--report {}: the page is HTML; name it FILE.html", report.display())));
        }
        Ok(RunOptions {
            input,
            results,
            errors,
            journal,
            target,
            keys: self.credentials.map_or(KeySource::Environment, KeySource::File),
            pacing,
            concurrency: NonZeroUsize::new(usize::from(self.concurrency)).expect("clap checks concurrency >= 1"),
            timeout: self.timeout,
            max_retries: self.max_retries,
            method: match self.method {
                MethodArg::Put => Method::Put,
                MethodArg::Post => Method::Post,
                MethodArg::Patch => Method::Patch,
            },
            serializer: self.serializer,
            max_failures: self.max_failures,
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
            journal_fail_after: self.journal_fail_after,
            references: !self.no_reference,
            reconcile: self.reconcile,
            rollback: self.rollback,
            since,
            until,
            page_size: self.page_size,
            match_window: self.match_window,
            repeat_window: self.repeat_window,
            audit_lag: self.audit_lag,
            allow_repeat: self.allow_repeat,
            plan: false,
            buyers: self.buyer,
            discrepancies,
            discrepancies_only: false,
            report: self.report,
            sandbox_calls: self.sandbox_calls,
        })
    }
}

impl InputArgs {
    /// The input's options: what was given, then what the file's name
    /// implies. Opens the source (a spreadsheet or a stream is written out
    /// as CSV here; so is a plain file, when `private`).
    pub(super) fn resolve(self, private: bool) -> Result<InputOptions, Fatal> {
        let source = Source::open(&self.file, self.sheet.as_deref(), private, self.encoding).map_err(Fatal::usage)?;
        // A typed mapping replaces the profile's for its header; two typed
        // for one header are refused, not decided by their order.
        let same = |a: &str, b: &str| crate::input::columns::normalise(a) == crate::input::columns::normalise(b);
        let mut maps: Vec<(String, String)> = Vec::new();
        for (from, to) in self.profile_maps {
            maps.retain(|(f, _)| !same(f, &from));
            maps.push((from, to));
        }
        let typed: Vec<(String, String)> = self.maps;
        for (i, (from, to)) in typed.iter().enumerate() {
            if let Some((_, other)) = typed[..i].iter().find(|(f, t)| same(f, from) && t != to) {
                return Err(usage(format!(
                    "--map maps {from:?} twice, to `{other}` and to `{to}`: keep the one you mean"
                )));
            }
            maps.retain(|(f, _)| !same(f, from));
            maps.push((from.clone(), to.clone()));
        }
        // So is a later meaning of the same value of a column.
        let mut values: Vec<(String, String, String)> = Vec::new();
        for (header, theirs, ours) in self.value_map {
            values.retain(|(h, t, _)| !(h == &header && t.eq_ignore_ascii_case(&theirs)));
            values.push((header, theirs, ours));
        }
        let mut negative_as_add: Vec<CallField> = Vec::new();
        for column in self.negative_as_add {
            let field = match column {
                NegativeAsAdd::Revenue => CallField::Revenue,
                NegativeAsAdd::Payout => CallField::Payout,
            };
            if !negative_as_add.contains(&field) {
                negative_as_add.push(field);
            }
        }
        Ok(InputOptions {
            path: source.path,
            name: source.name,
            delimiter: self.delimiter.unwrap_or(source.delimiter),
            headers: HeaderOptions { maps, ignore: self.ignore, values, negative_as_add },
            line_map: source.line_map,
            spool: source.spool,
            time_zone: self.time_zone.unwrap_or(jiff::tz::TimeZone::UTC),
            survey: source.survey,
            profile: self.config,
        })
    }
}

impl AccountArgs {
    /// The account's checked base URL and its keys.
    fn resolve(&self) -> Result<(String, Credentials), Fatal> {
        let base_url = match (&self.subdomain, &self.base_url) {
            (Some(name), _) => subdomain_url(name).map_err(usage)?,
            (None, Some(url)) => check_base_url(url).map_err(usage)?,
            (None, None) => return Err(usage("say which account: --subdomain NAME or --base-url URL")),
        };
        let credentials = Credentials::load(self.credentials.as_deref()).map_err(Fatal::usage)?;
        Ok((base_url, credentials))
    }
}

impl DoctorArgs {
    pub(super) fn resolve(self) -> Result<DoctorOptions, Fatal> {
        let (base_url, credentials) = self.account.resolve()?;
        Ok(DoctorOptions { base_url, credentials, json: self.json, timeout: self.timeout })
    }
}

impl HistoryArgs {
    pub(super) fn resolve(self) -> Result<crate::commands::history::HistoryOptions, Fatal> {
        let since = match &self.since {
            Some(t) => Some(history_time(t).map_err(|e| usage(format!("--since {t:?}: {e}")))?),
            None => None,
        };
        let (base_url, credentials) = self.account.resolve()?;
        Ok(crate::commands::history::HistoryOptions { base_url, credentials, call: self.call, since })
    }
}

/// A time for `history --since`: a date (its midnight, UTC) or a call time.
fn history_time(text: &str) -> Result<i64, String> {
    if let Ok(date) = text.trim().parse::<jiff::civil::Date>() {
        return date
            .at(0, 0, 0, 0)
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| e.to_string());
    }
    crate::input::values::parse_call_time(text, &jiff::tz::TimeZone::UTC)
}

impl SimArgs {
    pub(super) fn resolve(self) -> crate::commands::sim::SimOptions {
        use std::time::Duration;
        crate::commands::sim::SimOptions {
            addr: self.addr,
            calls: self.calls,
            first_id: self.first_id,
            calls_file: self.calls_file,
            rate_limit: self.rate_limit.map(|per_second| crate::sim::RateLimit {
                per_second,
                burst: self.rate_limit_burst,
                period: self.rate_limit_window,
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
                error_200: self.error_200,
                ignore_param: self.ignore_param,
                events_down: false,
            },
            dump_state: self.dump_state,
            url_file: self.url_file,
            max_per_page: self.max_per_page as usize,
            shape: crate::sim::Shape {
                omit: self.omit_field,
                refuse_columns: self.refuse_columns,
                clock_offset_ms: self.clock_offset,
                events_per_page: self.events_per_page as usize,
                audit: crate::sim::audit::AuditStyle {
                    typed: match self.audit_params {
                        AuditTyped::Strings => crate::sim::audit::Typed::Strings,
                        AuditTyped::AsSent => crate::sim::audit::Typed::AsSent,
                        AuditTyped::Ones => crate::sim::audit::Typed::Ones,
                    },
                    nested: self.audit_nested,
                    tokens_as_text: self.audit_tokens_as_text,
                    known_only: self.audit_known_only,
                },
                refuse_unknown: self.refuse_unknown_params,
            },
        }
    }
}
