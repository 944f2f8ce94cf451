//! The one place that opens the input file and the report files, so commands
//! never call `File::open` themselves and every I/O error names its path.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::columns::{HeaderOptions, Schema};
use crate::exit::Fatal;
use crate::reader::CsvReader;
use crate::report::ErrorReport;
use crate::validate::Validator;

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
