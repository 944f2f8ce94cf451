//! tdrecon: push buyer-report figures (revenue, payout, conversions,
//! dispositions, contact fields) onto TrackDrive calls in bulk, one request
//! per call, without losing a row or applying one twice.
//!
//! The rooms, each a concern, imports pointing one way (down this map; a
//! room on a line with another never imports it; `.ci/import_cycles.py`
//! checks both):
//!
//! ```text
//! cli         the command line (clap), turned into each command's options
//! profile     saved profiles (--config): more arguments, through the same parser
//! commands    validate, doctor, history, template, sim: one module each
//! job         run and plan: settings (a Mode and its parts), set-up, the
//!             pipeline (read ─▶ validate ─▶ resolve ─▶ send ─▶ results),
//!             the steps after the last row
//! send        one row: its intent, its request, settling an ambiguous answer
//! reports     results (in input order), errors, rollback, summaries, the page
//! compare  records   the report against TrackDrive (buyers, discrepancies,
//!                    control totals) | durable state (journal, ledger,
//!                    locks, the rate found, the state directory)
//! outcome     how a row ended: the vocabulary every room above shares
//! sim         the TrackDrive simulator, beside the pipeline
//! trackdrive  the API: one client, its gate, retries, every read
//! resolve     what the API said joins a valid row: names, calls by caller, ids
//! input       reading and checking the file: pure, no network
//! ```
//!
//! Leaves, used everywhere and depending on nothing of ours: `exit`,
//! `console` (every line printed), `contain` (a library's panic on a
//! damaged file, kept to a sentence), `signals` (every signal waited for),
//! `files` (every output opened), `text`, `splitmix`.

/// Leaves: used everywhere, depending on nothing of ours.
pub mod exit;

pub mod console;
pub mod contain;
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
