//! The output stage: what a run leaves behind for people and schedulers.
//! `errors` writes rejected rows, `outcome` says what became of a sent row,
//! `results` writes it, `journal` makes it durable before and after each
//! request, `ledger` remembers across runs what each account was sent
//! (`never_twice` says what a run checked so as to apply nothing twice),
//! `tally` and `summary` count and print (`control`: the window's
//! totals), `progress` draws the bar, `discrepancies` writes what a report
//! and TrackDrive disagree on, `page` the HTML page to sign off.
//! `paths` refuses an output that would overwrite the input or another,
//! `run_lock` keeps a second run off a live one's files, `summary_json`
//! writes the summary for schedulers. Depends on `input` and `reconcile`
//! (for the values it reports), never on `upload` or `commands`. Every
//! output file is created here (`create`, `write_whole`,
//! `write_atomically`, `open_rollback`, the journal), so each I/O error
//! names its path.

pub mod control;
pub mod discrepancies;
pub mod errors;
pub mod journal;
pub mod ledger;
pub mod never_twice;
pub mod outcome;
pub mod page;
pub mod paths;
pub mod progress;
pub mod results;
pub mod run_lock;
pub mod state;
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

/// Writes `bytes` as the whole of an output file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Writes `bytes` to a temporary file beside `path` and renames it into
/// place: a script waiting for `path` to exist never reads half of it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Opens the rollback file (tdrecon's input format) with its header row; a
/// resumed run adds to the one it started.
pub fn open_rollback(path: &Path, resuming: bool) -> Result<csv::Writer<BufWriter<File>>, Fatal> {
    let append = resuming && std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(Fatal::usage)?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    if !append {
        w.write_record(crate::reconcile::rollback_header())
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Fatal::usage)?;
    }
    Ok(w)
}

/// Creates `errors.csv` with its header row.
pub fn create_error_report(path: &Path, headers: &[String]) -> Result<ErrorReport<BufWriter<File>>, Fatal> {
    ErrorReport::new(create(path)?, headers)
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(Fatal::usage)
}
