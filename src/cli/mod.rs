//! The command line. clap stays inside this module: `args` holds what can
//! be typed, `defaults` each default once, `resolve` turns what was typed
//! into the validated options the commands take.
//!
//! A profile (`--config FILE`) is more arguments: its settings are parsed
//! by the same parser, in front of the command line's, so a flag typed wins
//! over the file and every form and range is checked in one place. The
//! command line is parsed alone first (its errors are clap's, about what
//! was typed), then each of the profile's settings alone (an error names
//! the key and its line), then both together.

mod args;
mod defaults;
mod input_args;
mod job_args;
mod resolve;
mod resolve_job;
mod sim_args;
mod values;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};

use crate::commands::{self, template::UseCase};
use crate::exit::{Exit, Fatal};
use crate::profile::{Key, Profile, ProfileError};
use crate::reports::summary_json::{self, SummaryOut};
use args::{Cli, Command, LedgerCommand, UseCaseArg};

/// Flags a profile may not hold: what one night asks of a run, not how a
/// report is read or sent, and the keys' file (never beside the settings).
const NOT_IN_A_PROFILE: &[&str] = &[
    "config",
    "resume",
    "restart",
    "allow_repeat",
    "dry_run",
    "sandbox",
    "sandbox_calls",
    "discrepancies_only",
    "credentials",
    "help",
];

/// Settings a profile holds that `plan` does not take from it: it writes
/// its own file.
const NOT_FOR_PLAN: &[&str] = &["results"];

/// Parses the process's arguments, runs the command, and maps the outcome to
/// an exit code. Errors are printed with their causes, never with a backtrace.
pub fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    // A panic is a bug, never an input's or a server's doing; still, it
    // ends with a sentence and an exit code from the table (3), not 101.
    std::panic::set_hook(Box::new(|info| {
        // A damaged file's panic in a library, caught and said by its caller.
        if !crate::contain::expected() {
            crate::console::warn(&format!("internal error (a bug: please report it): {info}"));
        }
    }));
    let run = || match with_profile(&argv, cli) {
        Ok(cli) => dispatch(cli.command),
        Err(failed) => {
            let (command, path, out, fatal) = *failed;
            out.write_failure(command, &path, &summary_json::now(), &fatal);
            Err(fatal)
        }
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(exit)) => exit.into(),
        Ok(Err(Fatal { exit, error })) => {
            crate::console::warn(&format!("{error:#}"));
            exit.into()
        }
        Err(_) => Exit::Aborted.into(),
    }
}

/// What a profile failure leaves for `--summary-json`.
type ProfileFailure = Box<(&'static str, PathBuf, SummaryOut, Fatal)>;

/// The command line with its profile's settings in front, parsed again; the
/// command line alone when it names no profile.
fn with_profile(argv: &[OsString], cli: Cli) -> Result<Cli, ProfileFailure> {
    let (name, input) = match &cli.command {
        Command::Validate(a) => ("validate", &a.input),
        Command::Run(a) => ("run", &a.input),
        Command::Plan(a) => ("plan", &a.input),
        Command::Sim(_)
        | Command::Doctor(_)
        | Command::History(_)
        | Command::Ledger(_)
        | Command::Names(_)
        | Command::Template { .. } => {
            return Ok(cli);
        }
    };
    let Some(config) = input.config.clone() else { return Ok(cli) };
    let summary = match &cli.command {
        Command::Validate(a) => a.summary_json.clone(),
        Command::Run(a) => a.summary_json.clone(),
        Command::Plan(a) => a.summary_json.clone(),
        _ => None,
    };
    let also_read: Vec<PathBuf> = input.config.iter().cloned().collect();
    let failure = |fatal: Fatal| {
        Box::new((
            name,
            input.file.clone(),
            SummaryOut { json: summary.clone(), also_read: also_read.clone(), ..SummaryOut::default() },
            fatal,
        ))
    };
    let profile = Profile::load(&config, &profile_keys()).map_err(|e| failure(Fatal::usage(e)))?;
    let spliced = splice(argv, name, &profile).map_err(|e| failure(Fatal::usage(e)))?;
    Cli::try_parse_from(&spliced).map_err(|e| {
        failure(Fatal::usage(anyhow::anyhow!("the profile {} with the command line: {}", profile.path, clap_words(&e))))
    })
}

/// The keys a profile may hold: `run`'s flags, less the ones of one night.
fn profile_keys() -> Vec<Key> {
    let command = Cli::command();
    let run = command.find_subcommand("run").expect("run is a subcommand");
    run.get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| {
            let long = a.get_long()?;
            let name = long.replace('-', "_");
            (!NOT_IN_A_PROFILE.contains(&name.as_str())).then(|| Key {
                name,
                flag: format!("--{long}"),
                takes_value: a.get_action().takes_values(),
                repeatable: matches!(a.get_action(), clap::ArgAction::Append),
            })
        })
        .collect()
}

/// `argv` with the profile's settings that `command` takes put right after
/// the command's name, each first checked alone. A target on the command
/// line replaces the profile's.
fn splice(argv: &[OsString], command: &str, profile: &Profile) -> Result<Vec<OsString>, ProfileError> {
    let cmd = Cli::command();
    let sub = cmd.find_subcommand(command).expect("the command is a subcommand");
    let takes = |key: &str| sub.get_arguments().any(|a| a.get_long().is_some_and(|l| l.replace('-', "_") == key));
    let typed =
        |flag: &str| argv.iter().any(|a| a.to_str().is_some_and(|a| a == flag || a.starts_with(&format!("{flag}="))));
    let target_typed = ["--subdomain", "--base-url", "--sandbox"].iter().any(|f| typed(f));
    let mut settings = Vec::new();
    for setting in &profile.settings {
        let key = setting.key.as_str();
        if !takes(key)
            || (command == "plan" && NOT_FOR_PLAN.contains(&key))
            || (target_typed && ["subdomain", "base_url"].contains(&key))
        {
            continue;
        }
        // Alone, after a placeholder file: an error here is this key's.
        let alone = ["tdrecon", command, "profile-check.csv"].into_iter().map(String::from).chain(setting.args.clone());
        if let Err(e) = Cli::command().try_get_matches_from(alone).and_then(|m| Cli::from_arg_matches(&m)) {
            return Err(ProfileError::Value {
                path: profile.path.clone(),
                line: setting.line,
                key: setting.written.clone(),
                why: clap_words(&e),
            });
        }
        // A profile's mappings come under their own hidden flag: a typed
        // `--map` replaces one, while two typed for one header are refused.
        settings.extend(setting.args.iter().map(|a| {
            OsString::from(match a.as_str() {
                "--map" => "--profile-map",
                "--value-map" => "--profile-value-map",
                other => other,
            })
        }));
    }
    let at = argv.iter().position(|a| a.to_str() == Some(command)).map_or(argv.len(), |i| i + 1);
    Ok(argv[..at].iter().cloned().chain(settings).chain(argv[at..].iter().cloned()).collect())
}

/// A clap error's first sentence, without its `error:` prefix.
fn clap_words(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    first.trim().trim_start_matches("error:").trim().to_string()
}

/// Runs a command that reads `path`; if it ends in an error before it wrote
/// a summary, `--summary-json` still gets one (with the error).
fn with_failure_summary(
    command: &str,
    path: &Path,
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
        Command::Validate(args) => {
            let out = SummaryOut {
                json: args.summary_json.clone(),
                also_read: args.input.config.iter().cloned().collect(),
                ..SummaryOut::default()
            };
            let path = args.input.file.clone();
            with_failure_summary("validate", &path, out, || commands::validate::run(&args.resolve()?))
        }
        Command::Run(args) => {
            let (path, out) = (args.input.file.clone(), args.summary_out());
            with_failure_summary("run", &path, out, || args.resolve().and_then(crate::job::run))
        }
        Command::Plan(args) => {
            let (path, out) = (args.input.file.clone(), args.summary_out());
            with_failure_summary("plan", &path, out, || args.resolve().and_then(crate::job::run))
        }
        Command::Doctor(args) => commands::doctor::run(args.resolve()?),
        Command::History(args) => commands::history::run(args.resolve()?),
        Command::Ledger(LedgerCommand::Import { ledger }) => match ledger.resolve()? {
            Some(target) => commands::ledger::import(&target),
            None => {
                Err(Fatal::usage(anyhow::anyhow!("say which shared ledger: --ledger postgres://… (or TDRECON_LEDGER)")))
            }
        },
        Command::Names(args) => commands::names::run(args.resolve()?),
        Command::Sim(args) => commands::sim::run(args.resolve()?),
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

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn profile(text: &str) -> Profile {
        Profile::parse(text, "p.toml", &profile_keys()).unwrap()
    }

    #[test]
    fn every_run_setting_is_a_profile_key() {
        let keys: Vec<String> = profile_keys().into_iter().map(|k| k.name).collect();
        for key in [
            "map",
            "ignore_column",
            "delimiter",
            "time_zone",
            "subdomain",
            "base_url",
            "method",
            "rate",
            "max_rate",
            "burst",
            "concurrency",
            "timeout",
            "max_retries",
            "max_pause",
            "results",
            "errors",
            "summary_json",
            "quiet",
            "max_failures",
            "reconcile",
            "rollback",
            "since",
            "until",
            "match_window",
            "repeat_window",
            "page_size",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} is not a profile key: {keys:?}");
        }
        for key in NOT_IN_A_PROFILE {
            assert!(!keys.iter().any(|k| k == key), "{key}");
        }
    }

    #[test]
    fn the_command_line_wins_over_the_profile() {
        let p = profile("rate = 5\nconcurrency = 2\nmax_retries = 9\nreconcile = true\nsubdomain = \"acme\"\n");
        let argv = os(&["tdrecon", "run", "in.csv", "--rate", "7", "--base-url", "http://127.0.0.1:9"]);
        let spliced = splice(&argv, "run", &p).unwrap();
        let Command::Run(args) = Cli::try_parse_from(&spliced).unwrap().command else { panic!() };
        let pacing = &args.pacing;
        assert_eq!((pacing.rate, pacing.concurrency, pacing.max_retries), (values::RateArg::PerSecond(7), 2, 9));
        assert!(args.reconcile);
        assert_eq!((args.target.subdomain, args.target.base_url.as_deref()), (None, Some("http://127.0.0.1:9")));
        // Validate takes the input settings and leaves the run's alone.
        let spliced = splice(&os(&["tdrecon", "validate", "in.csv"]), "validate", &p).unwrap();
        assert!(Cli::try_parse_from(&spliced).is_ok(), "{spliced:?}");
    }

    #[test]
    fn a_bad_value_names_its_key_and_line() {
        let p = profile("delimiter = \";\"\nconcurrency = 0\n");
        let e = splice(&os(&["tdrecon", "run", "in.csv"]), "run", &p).unwrap_err().to_string();
        assert!(e.contains("p.toml, line 2: `concurrency = 0`") && e.contains("0 is not in 1..=1024"), "{e}");
        let p = profile("timeout = \"soon\"\n");
        let e = splice(&os(&["tdrecon", "run", "in.csv"]), "run", &p).unwrap_err().to_string();
        assert!(e.contains("`timeout = \"soon\"`") && e.contains("expected a duration"), "{e}");
    }

    #[test]
    fn the_template_can_be_uncommented_line_by_line() {
        // Each commented setting of `template --config`, uncommented alone,
        // is taken by `run` as what it says (not swallowed by a table).
        let example = crate::profile::EXAMPLE;
        let settings: Vec<(usize, &str)> = example
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                // A setting, not a table's entry (`"Sold" = …`: uncommented with its table).
                l.strip_prefix("# ").is_some_and(|rest| {
                    rest.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ') && !k.starts_with('"'))
                })
            })
            .collect();
        assert!(settings.len() >= 15, "{settings:?}");
        for (n, line) in settings {
            let text: String = example
                .lines()
                .enumerate()
                .map(|(i, l)| if i == n { &l[2..] } else { l })
                .collect::<Vec<_>>()
                .join("\n");
            let key = line[2..].split_once(" = ").map(|(k, _)| k.to_string()).unwrap();
            let p = Profile::parse(&text, "p.toml", &profile_keys()).unwrap_or_else(|e| panic!("{line}: {e}"));
            let argv = os(&["tdrecon", "run", "in.csv"]);
            let spliced = splice(&argv, "run", &p).unwrap_or_else(|e| panic!("{line}: {e}"));
            let flag = format!("--{}", key.replace('_', "-"));
            assert!(spliced.iter().any(|a| a.to_string_lossy() == flag), "{line}: {spliced:?}");
            Cli::try_parse_from(&spliced).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
}
