//! tdrecon: push buyer-report figures (revenue, payout, conversions,
//! dispositions, contact fields) onto TrackDrive calls in bulk, one request
//! per call, without losing a row or applying one twice.
//!
//! The modules in pipeline order; each depends only on those above it:
//!
//! ```text
//! input ─▶ reconcile ─▶ outputs ◀─ upload ◀─ commands ◀─ cli
//!   reader, columns, values, money, validate ─▶ CallUpdate | Rejection
//!                        errors.csv, results.csv, journal, summary
//!                                   rate limit, retries, HTTP
//! ```
//!
//! `sim` (the TrackDrive simulator) sits beside the pipeline and uses only
//! `input`'s value parsers; `profile` turns saved profiles into arguments
//! for `cli`, the only module that knows about clap. `console` and
//! `signals` are leaves: every line printed, and every signal waited for.
//! No module imports another in a cycle (`.ci/import_cycles.py` checks).

/// Leaves: used everywhere, depending on nothing of ours.
pub mod exit;

pub mod console;
pub mod files;
pub mod signals;
pub mod splitmix;
pub mod text;

/// Reading and checking the file: pure parsing, no network.
pub mod input;

/// What TrackDrive said joins a validated row: names to ids, callers to calls.
pub mod resolve;

/// TrackDrive's API: the client, its pacing and retries, and every read.
pub mod trackdrive;

/// How a row ended: the vocabulary every room above shares.
pub mod outcome;

/// Durable state: the journal, the ledger, locks, the remembered rate.
pub mod records;

/// The report against TrackDrive: whose it is, what disagrees, control totals.
pub mod compare;

/// What a run tells people and schedulers: results, errors, summaries, the page.
pub mod reports;

/// One row's way to the API: intent, request, settling.
pub mod send;

/// A run: its settings, its set-up, its pipeline, its after-run steps.
pub mod job;

/// The TrackDrive simulator.
pub mod sim;

/// One module per subcommand besides `run` and `plan` (the job's).
pub mod commands;

/// Saved profiles (`--config`): what a nightly report needs, read from TOML.
pub mod profile;

/// The command line (clap), turned into each command's options.
pub mod cli;
