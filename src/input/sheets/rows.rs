//! A sheet's cells, in the order the sheet stores them, written out as CSV
//! records, and the sheet row each record came from (`LineMap`).
//!
//! The first row with a value is the header, and its columns, from its
//! first value to its last, are the table: every record holds those
//! columns. A value outside them is not dropped: it is added after them, so
//! the validator refuses that row for having more cells than the header.
//! Rows without a value are left out.

use std::io::Write;

/// The sheet row (counted from 1) of each data record, kept as the runs in
/// which rows follow one another: a million rows without a blank between
/// them are one entry, not a million.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineMap {
    /// `(record, sheet row)` where a run starts, records counted from 0.
    runs: Vec<(u32, u32)>,
    records: u32,
}

impl LineMap {
    fn push(&mut self, row: u32) {
        let record = self.records;
        if record == 0 || self.row(record - 1).map(|last| last + 1) != Some(row) {
            self.runs.push((record, row));
        }
        self.records += 1;
    }

    /// The sheet row of data record `record` (0: the first after the header).
    pub fn row(&self, record: u32) -> Option<u32> {
        if record >= self.records {
            return None;
        }
        let run = self.runs.partition_point(|(first, _)| *first <= record).checked_sub(1)?;
        let (first, row) = self.runs[run];
        Some(row + (record - first))
    }
}

/// The cells of one sheet row at a time, on their way to CSV.
pub(super) struct Rows<W: Write> {
    csv: csv::Writer<W>,
    /// The sheet row being gathered (counted from 0), and its cells with a
    /// value: `(column, text)`, the texts' buffers kept for the next row.
    row: Option<u32>,
    cells: Vec<(u32, String)>,
    used: usize,
    /// The header's first and last columns.
    span: Option<(u32, u32)>,
    pub map: LineMap,
    /// Only the header is wanted (`done` once it is written).
    header_only: bool,
}

impl<W: Write> Rows<W> {
    pub fn new(out: W) -> Self {
        Rows {
            // A stray value makes a record longer than the header, for the
            // validator to refuse by name.
            csv: csv::WriterBuilder::new().flexible(true).from_writer(out),
            row: None,
            cells: Vec::new(),
            used: 0,
            span: None,
            map: LineMap::default(),
            header_only: false,
        }
    }

    /// Rows that want only the header row.
    pub fn header_only(mut self) -> Self {
        self.header_only = true;
        self
    }

    /// Whether every row wanted is written.
    pub fn done(&self) -> bool {
        self.header_only && self.span.is_some()
    }

    /// One cell, whose text `fill` writes; rows come in the sheet's order.
    pub fn cell(&mut self, row: u32, col: u32, fill: impl FnOnce(&mut String)) -> csv::Result<()> {
        if self.row != Some(row) {
            self.flush()?;
            self.row = Some(row);
        }
        if self.used == self.cells.len() {
            self.cells.push((col, String::new()));
        }
        let (at, text) = &mut self.cells[self.used];
        text.clear();
        fill(text);
        if !text.trim().is_empty() {
            *at = col;
            self.used += 1;
        }
        Ok(())
    }

    /// Writes the row gathered, if it has a value.
    fn flush(&mut self) -> csv::Result<()> {
        let Some(row) = self.row else { return Ok(()) };
        let used = std::mem::take(&mut self.used);
        if used == 0 {
            return Ok(());
        }
        let cells = &mut self.cells[..used];
        cells.sort_by_key(|(col, _)| *col);
        let header = self.span.is_none();
        let (first, last) = *self.span.get_or_insert((cells[0].0, cells[used - 1].0));
        // Each column of the table once; anything else (outside it, or a
        // column given twice) goes after the table, never dropped.
        let mut placed = vec![false; used];
        let mut next = 0;
        for col in first..=last {
            while next < used && cells[next].0 < col {
                next += 1;
            }
            if next < used && cells[next].0 == col {
                self.csv.write_field(&cells[next].1)?;
                placed[next] = true;
                next += 1;
            } else {
                self.csv.write_field("")?;
            }
        }
        for (cell, placed) in cells.iter().zip(&placed) {
            if !placed {
                self.csv.write_field(&cell.1)?;
            }
        }
        self.csv.write_record(None::<&[u8]>)?;
        if !header {
            self.map.push(row + 1);
        }
        Ok(())
    }

    /// Writes the last row and hands back the output.
    pub fn finish(mut self) -> Result<(W, LineMap), csv::Error> {
        self.flush()?;
        let out = self.csv.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
        Ok((out, self.map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(cells: &[(u32, u32, &str)]) -> (String, Vec<Option<u32>>) {
        let mut rows = Rows::new(Vec::new());
        for (row, col, text) in cells {
            rows.cell(*row, *col, |out| out.push_str(text)).unwrap();
        }
        let (out, map) = rows.finish().unwrap();
        (String::from_utf8(out).unwrap(), (0..4).map(|r| map.row(r)).collect())
    }

    #[test]
    fn the_header_makes_the_table_and_no_value_is_dropped() {
        let cases: [(&[(u32, u32, &str)], &str, [Option<u32>; 4]); 5] = [
            // A table from B3, a blank row, a styled empty cell.
            (
                &[(2, 1, "id"), (2, 2, "revenue"), (3, 1, "1"), (3, 2, "5"), (4, 2, " "), (5, 1, "2")],
                "id,revenue\n1,5\n2,\n",
                [Some(4), Some(6), None, None],
            ),
            // A value right of the header's last column, and one left of its first.
            (
                &[(0, 1, "id"), (0, 2, "revenue"), (1, 1, "1"), (1, 4, "stray"), (2, 0, "left"), (2, 1, "2")],
                "id,revenue\n1,,stray\n2,,left\n",
                [Some(2), Some(3), None, None],
            ),
            // A gap in the header is an empty header cell.
            (&[(0, 0, "id"), (0, 2, "x"), (1, 0, "1")], "id,,x\n1,,\n", [Some(2), None, None, None]),
            // Cells out of column order, and a column given twice.
            (
                &[(0, 0, "id"), (0, 1, "r"), (1, 1, "5"), (1, 0, "1"), (2, 0, "2"), (2, 0, "3")],
                "id,r\n1,5\n2,,3\n",
                [Some(2), Some(3), None, None],
            ),
            (&[], "", [None, None, None, None]),
        ];
        for (cells, csv, lines) in cases {
            assert_eq!(written(cells), (csv.to_string(), lines.to_vec()), "{cells:?}");
        }
    }

    #[test]
    fn a_line_map_keeps_runs_not_rows() {
        let mut map = LineMap::default();
        for row in (2..1_000_002).chain([1_000_010, 1_000_011]) {
            map.push(row);
        }
        assert_eq!(map.runs.len(), 2);
        assert_eq!(
            (map.row(0), map.row(999_999), map.row(1_000_000), map.row(1_000_001)),
            (Some(2), Some(1_000_001), Some(1_000_010), Some(1_000_011))
        );
        assert_eq!(map.row(1_000_002), None);
    }
}
