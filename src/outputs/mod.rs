//! The output stage: what a run leaves behind for people and schedulers.
//! `errors` writes rejected rows, `outcome` says what became of a sent row,
//! `results` writes it, `journal` makes it durable before and after each
//! request, `tally` and `summary` count and print, `progress` draws the bar.
//! Depends on `input` and `reconcile` (for the values it reports), never on
//! `upload` or `commands`. Every output file is created here, so each I/O
//! error names its path.

pub mod errors;
pub mod journal;
pub mod outcome;
pub mod progress;
pub mod results;
pub mod run_lock;
pub mod summary;
pub mod summary_json;
pub mod tally;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;

use crate::exit::Fatal;
use errors::ErrorReport;

/// Creates (truncating) an output file behind a buffer.
pub fn create(path: &Path) -> Result<BufWriter<File>, Fatal> {
    File::create(path)
        .map(BufWriter::new)
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(Fatal::usage)
}

/// Creates `errors.csv` with its header row.
pub fn create_error_report(path: &Path, headers: &[String]) -> Result<ErrorReport<BufWriter<File>>, Fatal> {
    ErrorReport::new(create(path)?, headers)
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(Fatal::usage)
}
