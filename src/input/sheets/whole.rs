//! The formats calamine reads whole: `.ods` and `.xls`. Each is measured
//! before calamine reads it (`limits`; an `.xls`'s records by `biff`, whose
//! claims calamine would otherwise reserve memory by), and calamine's
//! reading runs `contained`: it panics on some damaged `.xls` records, and
//! a damaged file is said as one. A formula's value is trusted only where
//! the format says it was computed: an `.ods` formula without a value is
//! refused, and so is every `.xls` formula (the format cannot tell a
//! computed value from a program's placeholder: xlwt writes an empty one
//! and asks for recalculation).

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use calamine::{Data, Reader, Sheets};

use super::book::{self, Opens};
use super::rows::Rows;
use super::xlsx::NEVER_COMPUTED;
use super::{Format, SheetError, Written, a1, biff, cells, limits, zip_of};
use crate::contain::contained;

/// What is said of an `.xls` formula.
const XLS_FORMULA: &str = "and an .xls cannot tell a value a spreadsheet computed from a program's placeholder";

/// The workbook, opened once it is known to be within its limits, and the
/// sheet it opens on.
pub(super) fn open(name: &Path, format: Format) -> Result<(Sheets<BufReader<File>>, Opens), SheetError> {
    let unreadable = |error: String| SheetError::Unreadable { name: name.to_path_buf(), error };
    let damaged = |why: String| unreadable(format!("it is damaged ({why})"));
    let too_large = |over| SheetError::TooLarge { name: name.to_path_buf(), over, streamed: false };
    let file = std::fs::metadata(name).map(|m| m.len()).unwrap_or(0);
    let opens = match format {
        Format::Ods => {
            let content = zip_of(name).and_then(|mut z| z.by_name("content.xml").ok().map(|e| e.size()));
            limits::check_whole(Some(content.unwrap_or(0)), file).map_err(too_large)?;
            if let Some(mut zip) = zip_of(name) {
                limits::check_xlsx(&mut zip).map_err(too_large)?;
            }
            zip_of(name).map_or(Opens::At(0), |mut z| book::ods_opens(&mut z))
        }
        _ => {
            limits::check_whole(None, file).map_err(too_large)?;
            let facts = contained(|| biff::read(name)).map_err(damaged)?.map_err(|e| unreadable(e.to_string()))?;
            limits::check_xls(&facts.extents).map_err(too_large)?;
            facts.opens.map_or(Opens::Unknown, Opens::At)
        }
    };
    let workbook = contained(|| calamine::open_workbook_auto(name)).map_err(damaged)?;
    Ok((workbook.map_err(|e| unreadable(e.to_string()))?, opens))
}

/// A sheet read whole, and its formulas beside it; calamine's panics said
/// as the file being damaged.
pub(super) fn read<W: Write>(
    name: &Path,
    workbook: &mut Sheets<BufReader<File>>,
    sheet: &str,
    rows: Rows<W>,
) -> Written<W> {
    let damaged =
        |why: String| SheetError::Unreadable { name: name.to_path_buf(), error: format!("it is damaged ({why})") };
    contained(|| sheet_of(name, workbook, sheet, rows)).map_err(damaged)?
}

fn sheet_of<W: Write>(
    name: &Path,
    workbook: &mut Sheets<BufReader<File>>,
    sheet: &str,
    mut rows: Rows<W>,
) -> Written<W> {
    let unreadable = |error: String| SheetError::Unreadable { name: name.to_path_buf(), error };
    let range = workbook.worksheet_range(sheet).map_err(|e| unreadable(e.to_string()))?;
    let xls = matches!(workbook, Sheets::Xls(_));
    // A format without formulas (or a reader without them) has none to check.
    if let Ok(formulas) = workbook.worksheet_formula(sheet) {
        let (top, left) = formulas.start().unwrap_or((0, 0));
        for (row, col, formula) in formulas.used_cells() {
            let (row, col) = (row as u32 + top, col as u32 + left);
            let value = range.get_value((row, col));
            let uncached =
                value.is_none_or(|v| matches!(v, Data::Empty) || matches!(v, Data::String(s) if s.is_empty()));
            if !formula.is_empty() && (xls || uncached) {
                // An .ods formula is written `of:=…`.
                let shown = formula.strip_prefix("of:").unwrap_or(formula).trim_start_matches('=');
                return Err(SheetError::Uncalculated {
                    name: name.to_path_buf(),
                    sheet: sheet.to_string(),
                    cell: a1(row, col),
                    formula: format!(" (={shown})"),
                    why: if xls { XLS_FORMULA } else { NEVER_COMPUTED },
                });
            }
        }
    }
    let (top, left) = range.start().unwrap_or((0, 0));
    for (i, cells) in range.rows().enumerate() {
        for (j, cell) in cells.iter().enumerate() {
            if matches!(cell, Data::Empty) {
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
