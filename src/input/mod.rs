//! The input stage: everything between the file on disk and a typed
//! `CallUpdate` or a `Rejection`. Pure parsing and checking, plus the one
//! place that opens the input file (`InputOptions::open`), so commands never
//! call `File::open` themselves. Depends on nothing outside `input`.
//!
//! In pipeline order: `reader` streams records with their real line numbers,
//! `columns` maps headers to fields, `values` and `money` parse cells,
//! `validate` turns a record into an `update::CallUpdate` or a
//! `rejection::Rejection`, `seen_ids` remembers ids for the repeat check,
//! `names` resolves disposition, buyer and traffic-source names, and
//! `parallel` runs the checks on every core for `validate`.

pub mod columns;
pub mod money;
pub mod names;
pub mod parallel;
pub mod reader;
pub mod rejection;
pub mod seen_ids;
pub mod update;
pub mod validate;
pub mod values;

use std::path::PathBuf;

use crate::exit::Fatal;
use crate::input::columns::{HeaderOptions, Schema};
use crate::input::reader::CsvReader;
use crate::input::validate::Validator;

/// How to read the input file.
#[derive(Debug, Clone)]
pub struct InputOptions {
    pub path: PathBuf,
    pub delimiter: u8,
    pub headers: HeaderOptions,
}

impl InputOptions {
    /// Opens the file and checks its header row: every failure here is a
    /// usage error (exit 2), reported before any row is read or sent.
    pub fn open(&self) -> Result<(CsvReader, Validator), Fatal> {
        let (reader, headers) = CsvReader::open(&self.path, self.delimiter).map_err(Fatal::usage)?;
        let schema = Schema::from_headers(headers, &self.headers)
            .map_err(|e| Fatal::usage(anyhow::anyhow!("{}: {e}", self.path.display())))?;
        Ok((reader, Validator::new(schema)))
    }

    /// `DIR/<input stem>.<suffix>.csv`: where a report goes unless the user names one.
    pub fn sibling(&self, suffix: &str) -> PathBuf {
        let stem = self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "tdrecon".into());
        PathBuf::from(format!("{stem}.{suffix}.csv"))
    }
}
