//! tdrecon: push buyer-report figures (revenue, payout, conversions,
//! dispositions, contact fields) onto TrackDrive calls in bulk, one request
//! per call, without losing a row or applying one twice.
//!
//! The pipeline: `reader` streams records with their real line numbers,
//! `validate` turns each into a `CallUpdate` or a `Rejection` (`parallel`
//! does it on every core for the `validate` command), `report` writes
//! rejected rows. `cli` is the only module that knows about clap.

pub mod cli;
pub mod columns;
pub mod commands;
pub mod credentials;
pub mod exit;
pub mod http;
pub mod input;
pub mod journal;
pub mod money;
pub mod names;
pub mod parallel;
pub mod progress;
pub mod reader;
pub mod reconcile;
pub mod report;
pub mod results;
pub mod seen;
pub mod sim;
pub mod summary;
pub mod update;
pub mod upload;
pub mod validate;
pub mod values;
