//! An `.xlsx` read as a stream: calamine's cell reader gives each cell's
//! value and formula in one pass, in the order the sheet stores them, so
//! memory does not grow with the sheet. What calamine holds whole (shared
//! strings, styles) and any one text run of the sheet are measured first
//! (`limits`).

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use calamine::{DataRef, Xlsx, XlsxFormulaMetadata};

use super::book::{self, Opens};
use super::rows::Rows;
use super::{SheetError, Written, a1, cells, limits, zip_of};

/// What the formula check says of a formula cell without a value.
pub(super) const NEVER_COMPUTED: &str =
    "whose value was never computed (the file was written by a program and never saved by a spreadsheet)";
/// ... and of one in a workbook that asks to be recalculated.
const PLACEHOLDER: &str = "and the workbook asks to be recalculated when opened (it was written by a program), so \
                           the value stored for it is a placeholder, not the formula's";

/// The workbook, opened once what calamine holds whole is known to be
/// within its limits, with the facts calamine does not expose: the sheet it
/// opens on and whether it asks to be recalculated.
pub(super) fn open(name: &Path) -> Result<(Xlsx<BufReader<File>>, Opens, bool), SheetError> {
    let unreadable = |error: String| SheetError::Unreadable { name: name.to_path_buf(), error };
    let mut zip = zip_of(name).ok_or_else(|| unreadable("it is not an .xlsx archive".into()))?;
    let too_large = |over| SheetError::TooLarge { name: name.to_path_buf(), over, streamed: true };
    limits::check_xlsx(&mut zip).map_err(too_large)?;
    let (opens, recalc) = book::xlsx_facts(&mut zip);
    let workbook: Xlsx<_> =
        calamine::open_workbook(name).map_err(|e: calamine::XlsxError| unreadable(e.to_string()))?;
    Ok((workbook, opens, recalc))
}

/// An `.xlsx` sheet, cell by cell as the file stores them; a formula whose
/// value the file does not hold, or whose value is a placeholder
/// (`recalc`), is refused naming its cell.
pub(super) fn stream<W: Write>(
    name: &Path,
    workbook: &mut Xlsx<BufReader<File>>,
    sheet: &str,
    recalc: bool,
    mut rows: Rows<W>,
) -> Written<W> {
    let unreadable = |error: String| SheetError::Unreadable { name: name.to_path_buf(), error };
    let mut reader = workbook.worksheet_cells_reader(sheet).map_err(|e| unreadable(e.to_string()))?;
    while let Some(cell) = reader.next_cell_with_formula_metadata().map_err(|e| unreadable(e.to_string()))? {
        let (row, col) = cell.pos;
        if let Some(formula) = &cell.formula {
            let uncached = cell.value == DataRef::Empty;
            if uncached || recalc {
                let text = match formula {
                    XlsxFormulaMetadata::Normal { formula } | XlsxFormulaMetadata::Shared { formula, .. } => {
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
