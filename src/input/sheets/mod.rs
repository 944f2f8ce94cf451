//! A spreadsheet read as the buyer sees it, written out as CSV for the
//! reader: the sheet the workbook opens on (or the one `--sheet` names),
//! never a hidden one unless named; each cell by the value the spreadsheet
//! shows, and a formula whose value was never computed refused, naming its
//! cell, rather than read as empty or as a placeholder.
//!
//! An `.xlsx` is read as a stream (calamine's cell reader: values and
//! formulas in one pass), so its size does not bound memory; the parts
//! calamine holds whole (shared strings, styles) are limited, as are the
//! formats it reads whole (`.xls`, `.ods`): `limits`.

mod biff;
mod book;
mod cells;
pub mod limits;
mod rows;
mod whole;
mod xlsx;

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use calamine::Reader;

pub use book::Shown;
use book::{Book, NoSheet, Opens};
pub use cells::a1;
pub use rows::LineMap;
use rows::Rows;

/// Why a workbook cannot be read as a report.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("cannot read the spreadsheet {name}: {error}")]
    Unreadable { name: PathBuf, error: String },
    #[error("{name} has no sheet named {sheet:?}; its sheets are: {}", quoted(sheets))]
    NoSuchSheet { name: PathBuf, sheet: String, sheets: Vec<String> },
    #[error("{name}: every sheet of it is hidden ({}); name the one to read with --sheet", quoted(sheets))]
    AllHidden { name: PathBuf, sheets: Vec<String> },
    #[error("{name}: {why}, and it has several visible sheets ({}): name the one to read with --sheet", quoted(sheets))]
    Several { name: PathBuf, sheets: Vec<String>, why: &'static str },
    #[error(
        "{name} has two sheets named {sheet:?} (a damaged file): save it again in Excel or LibreOffice, or \
         export the sheet as CSV"
    )]
    Twice { name: PathBuf, sheet: String },
    #[error(
        "{name}: cell {cell} of the sheet {sheet:?} holds a formula{formula} {why}; open the workbook in Excel or \
         LibreOffice and save it (which computes every formula), or export the sheet as CSV"
    )]
    Uncalculated { name: PathBuf, sheet: String, cell: String, formula: String, why: &'static str },
    #[error(
        "{name}: its {} would take {} MiB, over the {} MiB tdrecon holds of a workbook (to stay within its memory \
         bound); save the sheet as CSV{}",
        over.part,
        over.bytes.div_ceil(1 << 20),
        over.limit >> 20,
        if *.streamed { "" } else { " (or as .xlsx, which is read as a stream)" }
    )]
    TooLarge { name: PathBuf, over: limits::Over, streamed: bool },
}

/// Sheet names as the user types them to `--sheet`: quoted, so a space
/// at either end shows.
fn quoted(sheets: &[String]) -> String {
    sheets.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}

/// The sheet read, its records written to `out` as CSV, and the sheet row
/// of each data record.
pub struct Read<W> {
    pub out: W,
    pub map: LineMap,
    pub sheet: String,
}

/// An error from writing the CSV (the spool's own: too large, a NUL byte).
pub type WriteError = csv::Error;

/// Reads the report's sheet of `name` into `out` as CSV.
pub fn to_csv<W: Write>(name: &Path, named: Option<&str>, out: W) -> Result<Result<Read<W>, WriteError>, SheetError> {
    let written = match Format::of(name) {
        Format::Xlsx => {
            let (mut workbook, opens, recalc) = xlsx::open(name)?;
            let sheet = chosen(name, &Book::from_metadata(workbook.sheets_metadata(), opens), named)?;
            (xlsx::stream(name, &mut workbook, &sheet, recalc, Rows::new(out))?, sheet)
        }
        format => {
            let (mut workbook, opens) = whole::open(name, format)?;
            let sheet = chosen(name, &Book::from_metadata(workbook.sheets_metadata(), opens), named)?;
            (whole::read(name, &mut workbook, &sheet, Rows::new(out))?, sheet)
        }
    };
    let (written, sheet) = written;
    Ok(written.map(|(out, map)| Read { out, map, sheet }))
}

/// The header row (first row with a value) of each sheet of cells but
/// `except`, with whether it is shown: where a report's columns may be
/// when the sheet read has none. Empty when the workbook cannot be read.
/// (Only after `to_csv` read the workbook: its limits are known to hold.)
pub fn headers_elsewhere(name: &Path, except: &str) -> Vec<(String, Shown, Vec<String>)> {
    let mut found = Vec::new();
    let Ok(Ok(mut workbook)) = crate::contain::contained(|| calamine::open_workbook_auto(name)) else { return found };
    let book = Book::from_metadata(workbook.sheets_metadata(), Opens::Unknown);
    for sheet in book.sheets.iter().filter(|s| s.cells && s.name != except) {
        let rows = Rows::new(Vec::new()).header_only();
        let header = match &mut workbook {
            calamine::Sheets::Xlsx(book) => xlsx::stream(name, book, &sheet.name, false, rows),
            other => whole::read(name, other, &sheet.name, rows),
        };
        let Ok(Ok((csv, _))) = header else { continue };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(csv.as_slice());
        if let Some(Ok(record)) = reader.records().next() {
            found.push((sheet.name.clone(), sheet.shown, record.iter().map(String::from).collect()));
        }
    }
    found
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Xlsx,
    Ods,
    Xls,
}

impl Format {
    fn of(name: &Path) -> Format {
        let lower = name.to_string_lossy().to_ascii_lowercase();
        if lower.ends_with(".ods") {
            Format::Ods
        } else if lower.ends_with(".xls") {
            Format::Xls
        } else {
            Format::Xlsx
        }
    }
}

pub(super) fn zip_of(name: &Path) -> Option<zip::ZipArchive<BufReader<File>>> {
    zip::ZipArchive::new(BufReader::new(crate::input::opener::open_file(name).ok()?)).ok()
}

/// The name of the sheet `book.choose` picks, or why none.
fn chosen(name: &Path, book: &Book, named: Option<&str>) -> Result<String, SheetError> {
    let names = || book.sheets.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    match book.choose(named) {
        Ok(i) => Ok(book.sheets[i].name.clone()),
        Err(NoSheet::NoSuch(sheet)) => {
            Err(SheetError::NoSuchSheet { name: name.to_path_buf(), sheet, sheets: names() })
        }
        Err(NoSheet::AllHidden) => Err(SheetError::AllHidden { name: name.to_path_buf(), sheets: names() }),
        Err(NoSheet::Several(sheets, why)) => Err(SheetError::Several { name: name.to_path_buf(), sheets, why }),
        Err(NoSheet::Twice(sheet)) => Err(SheetError::Twice { name: name.to_path_buf(), sheet }),
    }
}

pub(super) type Written<W> = Result<Result<(W, LineMap), WriteError>, SheetError>;
