//! The input stage: everything between the file on disk and a typed
//! `CallUpdate` or a `Rejection`. Pure parsing and checking, plus the one
//! place that opens the input (`source`: a stream, an archive or a
//! spreadsheet written out as CSV, a run's private copy, and `open_file`,
//! which every read of an input goes through), so commands never call
//! `File::open` themselves. Depends on nothing outside `input`.
//!
//! `fields` is the one table of a call's fields. In pipeline order:
//! `source` finds the bytes, `bytes` keeps them within
//! limits on their way to the csv reader, `reader` streams records with
//! their real line numbers,
//! `columns` maps headers to fields, `values` and `money` parse cells,
//! `validate` turns a record into an `update::CallUpdate` or a
//! `rejection::Rejection`, `seen_ids` remembers ids for the repeat check,
//! and `parallel` runs the checks on every core for `validate`. What the API
//! says of a row (names, calls found by caller) joins it later (`resolve`).

mod bytes;
pub mod columns;
pub mod fields;
pub mod mojibake;
pub mod money;
pub mod opener;
pub mod parallel;
pub mod reader;
mod record_count;
pub mod rejection;
pub mod seen_ids;
pub mod sheets;
pub mod source;
pub mod update;
pub mod validate;
pub mod values;

use std::path::{Path, PathBuf};

use crate::exit::Fatal;
use crate::input::columns::{HeaderOptions, Schema};
use crate::input::reader::CsvReader;
use crate::input::validate::Validator;

/// How to read the input file.
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// The plain CSV file read: the input, or its spooled copy (`source`).
    pub path: PathBuf,
    /// The input as the user named it (`-` for standard input).
    pub name: PathBuf,
    pub delimiter: u8,
    pub headers: HeaderOptions,
    /// A spreadsheet's sheet read, and its rows, to number records by.
    pub sheet: Option<String>,
    pub line_map: Option<std::sync::Arc<sheets::LineMap>>,
    /// Keeps a spooled copy alive as long as the options.
    pub spool: Option<std::sync::Arc<tempfile::TempPath>>,
    /// The zone of call times written without an offset.
    pub time_zone: jiff::tz::TimeZone,
    /// What the pass that copied the input found (its hash, its lines).
    pub survey: Option<source::Survey>,
    /// `--config FILE`, read for the flags it holds.
    pub profile: Option<PathBuf>,
}

impl InputOptions {
    /// The files read besides the rows' copy, as the user named them: the
    /// input and its profile. No output may be written over one of them.
    pub fn read_files(&self) -> Vec<&Path> {
        std::iter::once(self.name.as_path()).chain(self.profile.as_deref()).collect()
    }

    /// Opens the file and checks its header row: every failure here is a
    /// usage error (exit 2), reported before any row is read or sent.
    pub fn open(&self) -> Result<(CsvReader, Validator), Fatal> {
        let (reader, headers) = CsvReader::open(&self.path, self.delimiter).map_err(|e| self.renamed(e))?;
        let mut schema = Schema::from_headers(headers, &self.headers)
            .and_then(|schema| validate::check_value_maps(&schema).map(|()| schema))
            .map_err(|e| Fatal::usage(anyhow::anyhow!("{}: {e}{}", self.name.display(), self.elsewhere(&e))))?;
        schema.time_zone = self.time_zone.clone();
        schema.sheet = self.sheet.clone();
        Ok((reader.with_line_map(self.line_map.clone()), Validator::new(schema)))
    }

    /// When the sheet read has no report's header: the workbook's other
    /// sheets that carry tdrecon columns, and how to read one.
    fn elsewhere(&self, error: &columns::HeaderError) -> String {
        use columns::HeaderError::{NoId, NothingKnown};
        // An unknown column beside known ones: the sheet is the report.
        let Some(read) = self.sheet.as_deref().filter(|_| matches!(error, NothingKnown | NoId)) else {
            // A text file read with a delimiter other than its name's (from
            // --delimiter or a profile): said, as the likely cause.
            let implied = source::delimiter_for(&self.name);
            if matches!(error, NothingKnown) && self.delimiter != implied {
                return format!(
                    " (read with the delimiter {:?}, from --delimiter or the profile)",
                    char::from(self.delimiter)
                );
            }
            return String::new();
        };
        let carrying: Vec<String> = sheets::headers_elsewhere(&self.name, read)
            .into_iter()
            .filter(|(_, _, headers)| headers.iter().any(|h| self.headers.known(h)))
            .map(|(name, shown, _)| match shown {
                sheets::Shown::Visible => format!("{name:?}"),
                shown => format!("{name:?} ({})", shown.words()),
            })
            .collect();
        match carrying.as_slice() {
            [] => format!(" (read from the sheet {read:?})"),
            sheets => format!(
                " (read from the sheet {read:?}; tdrecon columns are on the sheet{} {}: name one with --sheet)",
                if sheets.len() > 1 { "s" } else { "" },
                sheets.join(", ")
            ),
        }
    }

    /// A reading error, naming the input as the user did (not its spool).
    fn renamed(&self, e: crate::input::reader::ReadError) -> Fatal {
        let text = e.to_string().replace(&self.path.display().to_string(), &self.name.display().to_string());
        Fatal::usage(anyhow::anyhow!(text))
    }

    /// `<input stem>.<suffix>.csv` in the current directory: where a report
    /// goes unless the user names one (`nightly.results.csv` for
    /// `nightly.csv.gz`, `stdin.results.csv` for `-`).
    pub fn sibling(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}.{suffix}.csv", source::stem(&self.name)))
    }
}
