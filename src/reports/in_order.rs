//! Puts a results file (or a plan) back in the input's order at the end of
//! a run: rows finish out of order with `--concurrency`. Memory stays
//! within a fixed bound however long the file: rows are read in runs of at
//! most `RUN_BYTES`, each run sorted by `line` and written to a temporary
//! file beside the results, and the runs are merged into the new file
//! (an external merge sort), which replaces the old one atomically. A file
//! already in order is left as it is, after one read; one that fits in a
//! run is sorted in memory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufWriter};
use std::path::Path;

use csv::ByteRecord;

/// The most bytes of rows held at once: a run sorted in memory.
pub const RUN_BYTES: usize = 8 << 20;

/// One row, held compactly: its line, its fields end to end, and where
/// each ends (a `ByteRecord` read from a reader carries spare capacity and
/// word-sized bounds: three times the room).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    line: u64,
    bytes: Box<[u8]>,
    ends: Box<[u32]>,
}

impl Row {
    fn of(record: &ByteRecord) -> Row {
        let ends = (0..record.len()).map(|f| record.range(f).map_or(0, |r| r.end as u32)).collect();
        Row { line: line_of(record), bytes: record.as_slice().into(), ends }
    }

    /// What it holds in memory, allocations included.
    fn size(&self) -> usize {
        self.bytes.len() + self.ends.len() * 4 + 64
    }

    fn record(&self) -> ByteRecord {
        let mut record = ByteRecord::with_capacity(self.bytes.len(), self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            record.push_field(&self.bytes[start..end as usize]);
            start = end as usize;
        }
        record
    }
}

/// Rewrites the results file at `path` in the input's order (by `line`,
/// the first column); `Ok(false)` when it is a stream (left as it is).
pub fn sort_by_line(path: &Path) -> io::Result<bool> {
    sort_in_runs(path, RUN_BYTES)
}

/// `sort_by_line`, holding at most `run_bytes` of rows at once.
fn sort_in_runs(path: &Path, run_bytes: usize) -> io::Result<bool> {
    if crate::files::paths::is_stream(path) {
        return Ok(false);
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_path(path)?;
    let header = reader.byte_headers()?.clone();
    let mut runs: Vec<tempfile::NamedTempFile> = Vec::new();
    let (mut run, mut bytes, mut last, mut sorted) = (Vec::new(), 0usize, 0u64, true);
    let mut record = ByteRecord::new();
    while reader.read_byte_record(&mut record)? {
        let row = Row::of(&record);
        sorted &= row.line >= last;
        last = row.line;
        bytes += row.size();
        run.push(row);
        if bytes >= run_bytes {
            runs.push(write_run(dir, &mut run)?);
            bytes = 0;
        }
    }
    if sorted {
        return Ok(true);
    }
    if runs.is_empty() {
        run.sort();
        return replace(path, dir, &header, run.into_iter().map(|r| Ok(r.record())));
    }
    if !run.is_empty() {
        runs.push(write_run(dir, &mut run)?);
    }
    replace(path, dir, &header, Merge::new(&runs)?)
}

/// A record's `line`; a row without one goes last.
fn line_of(record: &ByteRecord) -> u64 {
    std::str::from_utf8(record.get(0).unwrap_or_default()).ok().and_then(|l| l.parse().ok()).unwrap_or(u64::MAX)
}

/// Sorts `run` and writes it to a temporary file in `dir`, emptying `run`.
fn write_run(dir: &Path, run: &mut Vec<Row>) -> io::Result<tempfile::NamedTempFile> {
    run.sort();
    let file = tempfile::Builder::new().prefix(".tdrecon-sort-").tempfile_in(dir)?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(BufWriter::new(file.reopen()?));
    for row in run.drain(..) {
        w.write_byte_record(&row.record())?;
    }
    w.flush()?;
    Ok(file)
}

/// Writes `header` and `rows` to a temporary file beside `path`, then
/// renames it over `path`: a reader never sees half a file.
fn replace(
    path: &Path,
    dir: &Path,
    header: &ByteRecord,
    rows: impl Iterator<Item = io::Result<ByteRecord>>,
) -> io::Result<bool> {
    let out = tempfile::Builder::new().prefix(".tdrecon-results-").tempfile_in(dir)?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(BufWriter::new(out.reopen()?));
    w.write_byte_record(header)?;
    for row in rows {
        w.write_byte_record(&row?)?;
    }
    w.flush()?;
    drop(w);
    out.persist(path).map_err(|e| e.error)?;
    Ok(true)
}

/// The sorted runs merged: each run's next row in a heap, the least line first.
struct Merge {
    readers: Vec<csv::ByteRecordsIntoIter<std::fs::File>>,
    heap: BinaryHeap<Reverse<(Row, usize)>>,
}

impl Merge {
    fn new(runs: &[tempfile::NamedTempFile]) -> io::Result<Merge> {
        let mut merge = Merge { readers: Vec::with_capacity(runs.len()), heap: BinaryHeap::new() };
        for (i, run) in runs.iter().enumerate() {
            let reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(run.reopen()?);
            merge.readers.push(reader.into_byte_records());
            merge.pull(i)?;
        }
        Ok(merge)
    }

    /// Puts run `i`'s next row in the heap, if it has one.
    fn pull(&mut self, i: usize) -> io::Result<()> {
        if let Some(record) = self.readers[i].next() {
            self.heap.push(Reverse((Row::of(&record?), i)));
        }
        Ok(())
    }
}

impl Iterator for Merge {
    type Item = io::Result<ByteRecord>;

    fn next(&mut self) -> Option<io::Result<ByteRecord>> {
        let Reverse((row, i)) = self.heap.pop()?;
        Some(self.pull(i).map(|()| row.record()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<u64> {
        let mut r = csv::ReaderBuilder::new().flexible(true).from_path(path).unwrap();
        r.byte_records().map(|rec| line_of(&rec.unwrap())).collect()
    }

    /// Rows in any order come back in the input's, whole, whether they fit
    /// in one run or span many (a run of a few rows here), and a file in
    /// order is left as it is.
    #[test]
    fn rows_come_back_in_the_inputs_order_whatever_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut order: Vec<u64> = (2..5_002).collect();
        let mut x = 7u64;
        for i in (1..order.len()).rev() {
            x = crate::splitmix::splitmix64(x);
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let mut text = String::from("line,id,error\n");
        for line in &order {
            text.push_str(&format!("{line},{},\"a, \"\"quoted\"\"\nnote {line}\"\n", line * 10));
        }
        // In one run, and in runs of 4 KiB (about a hundred rows each).
        for run_bytes in [RUN_BYTES, 4096] {
            std::fs::write(&path, &text).unwrap();
            assert!(sort_in_runs(&path, run_bytes).unwrap());
            assert_eq!(lines(&path), (2..5_002).collect::<Vec<_>>());
            let sorted = std::fs::read_to_string(&path).unwrap();
            assert!(sorted.starts_with("line,id,error\n2,20,\"a, \"\"quoted\"\"\nnote 2\"\n"), "{}", &sorted[..60]);
            assert_eq!(sorted.len(), text.len(), "every byte kept");
        }
        // Sorted already: nothing rewritten.
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(sort_by_line(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), before);
        // Nothing left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(!sort_by_line(Path::new("/dev/null")).unwrap());
    }

    #[test]
    fn many_runs_merge_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut runs = Vec::new();
        let mut rows: Vec<Row> = Vec::new();
        for start in 0..3u64 {
            for k in 0..100u64 {
                let line = k * 3 + start + 2;
                rows.push(Row::of(&ByteRecord::from(vec![line.to_string(), "x,y".to_string(), String::new()])));
            }
            runs.push(write_run(dir.path(), &mut rows).unwrap());
        }
        let merged: Vec<u64> = Merge::new(&runs).unwrap().map(|r| line_of(&r.unwrap())).collect();
        assert_eq!(merged, (2..302).collect::<Vec<_>>());
    }
}
