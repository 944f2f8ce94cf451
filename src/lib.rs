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
pub mod signals;
pub mod splitmix;

/// Reading and checking the file: pure parsing, no network.
pub mod input;

/// Read before write: a call's values, what would change, rollback rows.
pub mod reconcile;

/// What a run leaves behind: errors.csv, results.csv, the journal, summaries.
pub mod outputs;

/// Sending: credentials, the HTTP client, the rate gate, retries, one row's fate.
pub mod upload;

/// The TrackDrive simulator.
pub mod sim;

/// One module per subcommand, wiring the stages together.
pub mod commands;

/// Saved profiles (`--config`): what a nightly report needs, read from TOML.
pub mod profile;

/// The command line (clap), turned into each command's options.
pub mod cli;
