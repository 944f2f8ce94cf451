//! What an `.xls` says that calamine does not expose or does not guard,
//! read from its records before calamine reads it: the sheet it opens on
//! (`WINDOW1`'s `itabCur`), and each sheet's extent. calamine reads every
//! sheet of an `.xls` when it opens it, each as one rectangle of cells
//! reserved by its `DIMENSIONS` record and spanning its cells: a damaged or
//! hostile extent (a 4 KB file claiming 2^32 rows) would take gigabytes, or
//! abort the process, before any check of ours could run.
//!
//! The workbook stream (`Workbook`, or `Book` before BIFF8) is a run of
//! records, `[type u16][length u16][body]`; the globals come first, each
//! sheet's records from the offset its `BOUNDSHEET` gives.

use std::io::Read;
use std::path::Path;

/// The sheet it opens on, by its place among the sheets (`None`: the
/// workbook does not say), and each sheet's extent in cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlsFacts {
    pub opens: Option<usize>,
    pub extents: Vec<u64>,
}

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000A;
const WINDOW1: u16 = 0x003D;
const BOUNDSHEET: u16 = 0x0085;
const DIMENSIONS: u16 = 0x0200;
/// Records that start with the row and column of one cell.
const CELLS: [u16; 8] = [0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00D6];
/// Records of several cells in a row: row, first column, ..., last column.
const MULTI: [u16; 2] = [0x00BD, 0x00BE];

/// Reads an `.xls`'s workbook stream and what it says.
pub fn read(path: &Path) -> std::io::Result<XlsFacts> {
    let mut file = cfb::open(path)?;
    let name = if file.exists("/Workbook") { "/Workbook" } else { "/Book" };
    let mut stream = Vec::new();
    file.open_stream(name)?.read_to_end(&mut stream)?;
    Ok(scan(&stream))
}

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 2).map(|s| u64::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 4).map(|s| u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
}

/// The records from `at`, as `(type, body)`, to the end of the stream or
/// the first record that runs past it.
fn records(stream: &[u8], at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut i = at;
    std::iter::from_fn(move || {
        let typ = u16_at(stream, i)? as u16;
        let len = u16_at(stream, i + 2)? as usize;
        let body = stream.get(i + 4..i + 4 + len)?;
        i += 4 + len;
        Some((typ, body))
    })
}

fn scan(stream: &[u8]) -> XlsFacts {
    let (mut opens, mut sheets) = (None, Vec::new());
    for (typ, body) in records(stream, 0) {
        match typ {
            WINDOW1 if opens.is_none() => opens = u16_at(body, 10).map(|i| i as usize),
            BOUNDSHEET => sheets.extend(u32_at(body, 0)),
            EOF => break,
            _ => {}
        }
    }
    let extents = sheets.iter().map(|&at| extent(stream, at as usize)).collect();
    XlsFacts { opens, extents }
}

/// The cells calamine would hold for the sheet at `at`: the larger of the
/// rectangle its `DIMENSIONS` claims and the one its cells span.
fn extent(stream: &[u8], at: usize) -> u64 {
    let (mut rows, mut cols) = ((u64::MAX, 0u64), (u64::MAX, 0u64));
    let mut claimed = 0u64;
    let mut depth = 0usize;
    let mut cell = |row: u64, first: u64, last: u64| {
        rows = (rows.0.min(row), rows.1.max(row));
        cols = (cols.0.min(first), cols.1.max(last));
    };
    for (typ, body) in records(stream, at) {
        match typ {
            BOF => depth += 1,
            // The sheet's own end, or an embedded chart's.
            EOF if depth <= 1 => break,
            EOF => depth -= 1,
            _ if depth > 1 => {}
            DIMENSIONS => {
                let (r0, r1, c0, c1) = if body.len() >= 14 {
                    (u32_at(body, 0), u32_at(body, 4), u16_at(body, 8), u16_at(body, 10))
                } else {
                    (u16_at(body, 0), u16_at(body, 2), u16_at(body, 4), u16_at(body, 6))
                };
                if let (Some(r0), Some(r1), Some(c0), Some(c1)) = (r0, r1, c0, c1) {
                    let area = (r1.saturating_sub(r0) + 1).saturating_mul(c1.saturating_sub(c0) + 1);
                    claimed = claimed.max(area);
                }
            }
            t if CELLS.contains(&t) => {
                if let (Some(row), Some(col)) = (u16_at(body, 0), u16_at(body, 2)) {
                    cell(row, col, col);
                }
            }
            t if MULTI.contains(&t) && body.len() >= 6 => {
                if let (Some(row), Some(first), Some(last)) =
                    (u16_at(body, 0), u16_at(body, 2), u16_at(body, body.len() - 2))
                {
                    cell(row, first, last.max(first));
                }
            }
            _ => {}
        }
    }
    let spanned = if rows.1 >= rows.0 && rows.0 != u64::MAX {
        (rows.1 - rows.0 + 1).saturating_mul(cols.1 - cols.0 + 1)
    } else {
        0
    };
    claimed.max(spanned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u16, body: &[u8]) -> Vec<u8> {
        [&typ.to_le_bytes()[..], &(body.len() as u16).to_le_bytes(), body].concat()
    }

    /// A workbook stream: globals (a WINDOW1 opening on `opens`, one
    /// BOUNDSHEET per sheet), then each sheet's records.
    fn stream(opens: u16, sheets: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut window = vec![0u8; 18];
        window[10..12].copy_from_slice(&opens.to_le_bytes());
        let globals_len = |n: usize| 3 * 4 + 16 + 18 + n * (4 + 8);
        let mut at = globals_len(sheets.len());
        let mut bodies = Vec::new();
        let mut bound = Vec::new();
        for sheet in sheets {
            bound.push(record(BOUNDSHEET, &[&(at as u32).to_le_bytes()[..], &[0, 0, 1, b'S']].concat()));
            let body: Vec<u8> = [record(BOF, &[0; 16]), sheet.concat(), record(EOF, &[])].concat();
            at += body.len();
            bodies.push(body);
        }
        let globals = [record(BOF, &[0; 16]), record(WINDOW1, &window), bound.concat(), record(EOF, &[])].concat();
        assert_eq!(globals.len(), globals_len(sheets.len()));
        [globals, bodies.concat()].concat()
    }

    fn number(row: u16, col: u16) -> Vec<u8> {
        record(0x0203, &[&row.to_le_bytes()[..], &col.to_le_bytes(), &[0; 10]].concat())
    }

    fn dimensions(rows: u32, cols: u16) -> Vec<u8> {
        record(
            DIMENSIONS,
            &[&0u32.to_le_bytes()[..], &rows.to_le_bytes(), &0u16.to_le_bytes(), &cols.to_le_bytes(), &[0, 0]].concat(),
        )
    }

    #[test]
    fn the_sheet_it_opens_on_and_each_sheets_extent() {
        let small = vec![dimensions(2, 2), number(0, 0), number(1, 1)];
        let stray = vec![number(0, 0), number(65_535, 255)];
        let claims = vec![dimensions(u32::MAX, 65_535)];
        let facts = scan(&stream(1, &[small, stray, claims]));
        assert_eq!(facts.opens, Some(1));
        assert_eq!(facts.extents[0], 9, "DIMENSIONS' last row and column are one past");
        assert_eq!(facts.extents[1], 65_536 * 256, "a stray cell far away spans the rectangle");
        assert!(facts.extents[2] > 1 << 40, "a claim is taken at its word");
    }

    #[test]
    fn a_stream_cut_anywhere_is_read_as_far_as_it_goes() {
        let whole = stream(0, &[vec![dimensions(3, 3), number(2, 2)]]);
        for cut in 0..whole.len() {
            let facts = scan(&whole[..cut]);
            assert!(facts.extents.iter().all(|&e| e <= 16), "{cut}: {facts:?}");
        }
    }
}
