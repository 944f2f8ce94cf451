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

mod book;
mod cells;
pub mod limits;
mod rows;

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use calamine::{DataRef, Reader, Xlsx};

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
    #[error("{name} has no sheet named {sheet:?}; its sheets are: {}", sheets.join(", "))]
    NoSuchSheet { name: PathBuf, sheet: String, sheets: Vec<String> },
    #[error("{name}: every sheet of it is hidden ({}); name the one to read with --sheet", sheets.join(", "))]
    AllHidden { name: PathBuf, sheets: Vec<String> },
    #[error(
        "{name} has several visible sheets ({}) and tdrecon cannot tell which one an .xls opens on: name the \
         one to read with --sheet",
        sheets.join(", ")
    )]
    Several { name: PathBuf, sheets: Vec<String> },
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

/// What the formula check says of a formula cell without a value.
const NEVER_COMPUTED: &str = "whose value was never computed (the file was written by a program and never saved by \
                              a spreadsheet)";
/// ... and of one in a workbook that asks to be recalculated.
const PLACEHOLDER: &str = "and the workbook asks to be recalculated when opened (it was written by a program), so \
                           the value stored for it is a placeholder, not the formula's";

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
    let unreadable = |error: String| SheetError::Unreadable { name: name.to_path_buf(), error };
    match Format::of(name) {
        Format::Xlsx => {
            let (opens, recalc) = xlsx_facts(name)?;
            let mut workbook: Xlsx<_> =
                calamine::open_workbook(name).map_err(|e: calamine::XlsxError| unreadable(e.to_string()))?;
            let book = Book::from_metadata(workbook.sheets_metadata(), opens);
            let sheet = chosen(name, &book, named)?;
            let rows = Rows::new(out);
            stream_xlsx(name, &mut workbook, &sheet, recalc, rows).map(|r| r.map(|(out, map)| Read { out, map, sheet }))
        }
        format => {
            check_whole(name, format)?;
            let mut workbook = calamine::open_workbook_auto(name).map_err(|e| unreadable(e.to_string()))?;
            let opens = match format {
                Format::Ods => zip_of(name).map(|mut z| book::ods_opens(&mut z)).unwrap_or(Opens::At(0)),
                _ => Opens::Unknown,
            };
            let book = Book::from_metadata(workbook.sheets_metadata(), opens);
            let sheet = chosen(name, &book, named)?;
            whole(name, &mut workbook, &sheet, Rows::new(out)).map(|r| r.map(|(out, map)| Read { out, map, sheet }))
        }
    }
}

/// The header row (first row with a value) of each sheet of cells but
/// `except`, with whether it is shown: where a report's columns may be
/// when the sheet read has none. Empty when the workbook cannot be read.
pub fn headers_elsewhere(name: &Path, except: &str) -> Vec<(String, Shown, Vec<String>)> {
    let mut found = Vec::new();
    let Ok(mut workbook) = calamine::open_workbook_auto(name) else { return found };
    let book = Book::from_metadata(workbook.sheets_metadata(), Opens::Unknown);
    for sheet in book.sheets.iter().filter(|s| s.cells && s.name != except) {
        let rows = Rows::new(Vec::new()).header_only();
        let header = match &mut workbook {
            calamine::Sheets::Xlsx(xlsx) => stream_xlsx(name, xlsx, &sheet.name, false, rows).ok().and_then(Result::ok),
            other => whole(name, other, &sheet.name, rows).ok().and_then(Result::ok),
        };
        let Some((csv, _)) = header else { continue };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(csv.as_slice());
        if let Some(Ok(record)) = reader.records().next() {
            found.push((sheet.name.clone(), sheet.shown, record.iter().map(String::from).collect()));
        }
    }
    found
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
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

fn zip_of(name: &Path) -> Option<zip::ZipArchive<BufReader<File>>> {
    zip::ZipArchive::new(BufReader::new(crate::input::source::open_file(name).ok()?)).ok()
}

/// The `.xlsx` facts calamine does not expose, once the parts it holds
/// whole are known to be within their limits.
fn xlsx_facts(name: &Path) -> Result<(Opens, bool), SheetError> {
    let mut zip = zip_of(name).ok_or_else(|| SheetError::Unreadable {
        name: name.to_path_buf(),
        error: "it is not an .xlsx archive".into(),
    })?;
    limits::check_xlsx(&mut zip).map_err(|over| SheetError::TooLarge {
        name: name.to_path_buf(),
        over,
        streamed: true,
    })?;
    Ok(book::xlsx_facts(&mut zip))
}

/// The formats calamine reads whole are refused past their limits.
fn check_whole(name: &Path, format: Format) -> Result<(), SheetError> {
    let content = (format == Format::Ods)
        .then(|| zip_of(name).and_then(|mut z| z.by_name("content.xml").ok().map(|e| e.size())).unwrap_or(0));
    let file = std::fs::metadata(name).map(|m| m.len()).unwrap_or(0);
    limits::check_whole(content, file).map_err(|over| SheetError::TooLarge {
        name: name.to_path_buf(),
        over,
        streamed: false,
    })
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
        Err(NoSheet::Several(sheets)) => Err(SheetError::Several { name: name.to_path_buf(), sheets }),
    }
}

type Written<W> = Result<Result<(W, LineMap), WriteError>, SheetError>;

/// An `.xlsx` sheet, cell by cell as the file stores them.
fn stream_xlsx<W: Write>(
    name: &Path,
    workbook: &mut Xlsx<BufReader<File>>,
    sheet: &str,
    recalc: bool,
    mut rows: Rows<W>,
) -> Written<W> {
    let unreadable = |error: String| SheetError::Unreadable { name: name.to_path_buf(), error };
    let mut cells = workbook.worksheet_cells_reader(sheet).map_err(|e| unreadable(e.to_string()))?;
    while let Some(cell) = cells.next_cell_with_formula_metadata().map_err(|e| unreadable(e.to_string()))? {
        let (row, col) = cell.pos;
        if let Some(formula) = &cell.formula {
            let uncached = cell.value == DataRef::Empty;
            if uncached || recalc {
                let text = match formula {
                    calamine::XlsxFormulaMetadata::Normal { formula }
                    | calamine::XlsxFormulaMetadata::Shared { formula, .. } => {
                        format!(" (={formula})")
                    }
                    _ => String::new(),
                };
                return Err(SheetError::Uncalculated {
                    name: name.to_path_buf(),
                    sheet: sheet.to_string(),
                    cell: a1(row, col),
                    formula: text,
                    why: if uncached { NEVER_COMPUTED } else { PLACEHOLDER },
                });
            }
        }
        if let Err(e) = rows.cell(row, col, |out| cells::cell_text(&cell.value, out)) {
            return Ok(Err(e));
        }
        if rows.done() {
            break;
        }
    }
    Ok(rows.finish())
}

/// A sheet of a format calamine reads whole, and its formulas beside it.
fn whole<W: Write>(
    name: &Path,
    workbook: &mut calamine::Sheets<BufReader<File>>,
    sheet: &str,
    mut rows: Rows<W>,
) -> Written<W> {
    let unreadable = |error: String| SheetError::Unreadable { name: name.to_path_buf(), error };
    let range = workbook.worksheet_range(sheet).map_err(|e| unreadable(e.to_string()))?;
    // A format without formulas (or a reader without them) has none to check.
    if let Ok(formulas) = workbook.worksheet_formula(sheet) {
        for (row, col, formula) in formulas.used_cells() {
            let (row, col) =
                (row as u32 + formulas.start().map_or(0, |s| s.0), col as u32 + formulas.start().map_or(0, |s| s.1));
            if !formula.is_empty() && range.get_value((row, col)).is_none_or(|v| matches!(v, calamine::Data::Empty)) {
                return Err(SheetError::Uncalculated {
                    name: name.to_path_buf(),
                    sheet: sheet.to_string(),
                    cell: a1(row, col),
                    formula: format!(" (={formula})"),
                    why: NEVER_COMPUTED,
                });
            }
        }
    }
    let (top, left) = range.start().unwrap_or((0, 0));
    for (i, cells) in range.rows().enumerate() {
        for (j, cell) in cells.iter().enumerate() {
            if matches!(cell, calamine::Data::Empty) {
                continue;
            }
            if let Err(e) = rows.cell(top + i as u32, left + j as u32, |out| cells::data_text(cell, out)) {
                return Ok(Err(e));
            }
        }
        if rows.done() {
            break;
        }
    }
    Ok(rows.finish())
}
