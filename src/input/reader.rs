//! Streams the input CSV record by record, with the real line each record
//! starts and ends on.
//!
//! The csv crate's own `Position::line` drifts with CRLF endings and blank
//! lines (rust-csv#395), so the file's bytes are counted here as they pass
//! into the csv reader: a small index of where each non-blank line starts,
//! trimmed as records are read, so memory stays flat in the file's size.
//!
//! A quote left open silently swallows the rest of the file into one field
//! (rust-csv#289). The reader reads one record ahead; when the last record
//! spans several lines it re-scans that record's bytes and flags it when the
//! file ends inside a quoted field, so the validator can reject it loudly.
//! The bytes on their way to the csv reader pass `bytes::ByteFilter`.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use csv::ByteRecord;

use super::bytes::{ByteFilter, LineIndex, NulByte, ends_inside_quotes, lock};
pub use super::bytes::{MAX_FIELDS, MAX_RECORD_BYTES};

/// Why a file could not be read as CSV at all. Each is one sentence for the user.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not a `#[source]`: the message already says it, once.
    #[error("cannot read {path}: {error}")]
    Io { path: PathBuf, error: io::Error },
    #[error("{path} is a directory, not a CSV file")]
    Directory { path: PathBuf },
    #[error("{path} is empty: expected a header row and then one row per call")]
    Empty { path: PathBuf },
    #[error("{path} is not UTF-8 CSV text{hint}")]
    NotText { path: PathBuf, hint: &'static str },
    #[error(
        "{path} is not text: byte {offset} is a NUL byte (binary data, or a file of zeros); nothing was read past it"
    )]
    Binary { path: PathBuf, offset: u64 },
    #[error("{path}: the header row is over the limit of {limit}")]
    HeaderTooLarge { path: PathBuf, limit: String },
}

/// The most bytes the header row may hold.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// One record, and the lines of the file it spans.
#[derive(Debug)]
pub struct Record<'a> {
    pub line: u64,
    pub end_line: u64,
    pub raw: &'a ByteRecord,
    /// The file ends inside a quoted field that opened in this record.
    pub unclosed_quote: bool,
    /// The record passed `MAX_RECORD_BYTES` or `MAX_FIELDS`: why. Its
    /// fields are only its start; the rest was never held.
    pub oversize: Option<&'static str>,
}

/// A `Record` that owns its fields, to hand to another thread.
#[derive(Debug, Default)]
pub struct OwnedRecord {
    pub line: u64,
    pub end_line: u64,
    pub raw: ByteRecord,
    pub unclosed_quote: bool,
    pub oversize: Option<&'static str>,
}

impl OwnedRecord {
    pub fn as_record(&self) -> Record<'_> {
        Record {
            line: self.line,
            end_line: self.end_line,
            raw: &self.raw,
            unclosed_quote: self.unclosed_quote,
            oversize: self.oversize,
        }
    }
}

/// Where a record lies in the file.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// Where the record starts in the file (not in what the csv reader saw).
    start_byte: u64,
    line: u64,
    end_line: u64,
    oversize: Option<&'static str>,
}

pub struct CsvReader {
    path: PathBuf,
    delimiter: u8,
    csv: csv::Reader<ByteFilter<File>>,
    index: Arc<Mutex<LineIndex>>,
    current: ByteRecord,
    ahead: ByteRecord,
    ahead_span: Option<Span>,
    /// A spreadsheet's sheet row for each data record (see `with_line_map`).
    line_map: Option<std::sync::Arc<super::sheets::LineMap>>,
    records: usize,
}

impl CsvReader {
    /// Opens `path`, reads its header row and returns the reader positioned on
    /// the first data record, with the header cells (BOM removed).
    pub fn open(path: &Path, delimiter: u8) -> Result<(CsvReader, Vec<String>), ReadError> {
        let io_err = |error| ReadError::Io { path: path.to_path_buf(), error };
        if path.is_dir() {
            return Err(ReadError::Directory { path: path.to_path_buf() });
        }
        let mut file = crate::input::source::open_file(path).map_err(io_err)?;
        let mut start = [0u8; 2];
        let n = file.read(&mut start).map_err(io_err)?;
        if n == 2 && matches!(start, [0xFF, 0xFE] | [0xFE, 0xFF]) {
            return Err(ReadError::NotText {
                path: path.to_path_buf(),
                hint: " (it looks like UTF-16: save it as \"CSV UTF-8\")",
            });
        }
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let index = Arc::new(Mutex::new(LineIndex::default()));
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(ByteFilter::new(file, Arc::clone(&index), delimiter));
        let mut reader = CsvReader {
            path: path.to_path_buf(),
            delimiter,
            csv,
            index,
            current: ByteRecord::new(),
            ahead: ByteRecord::new(),
            ahead_span: None,
            line_map: None,
            records: 0,
        };
        let mut header = ByteRecord::new();
        let read_err = |e: io::Error| read_error(path, e);
        let Some(span) = reader.read_into(&mut header).map_err(read_err)? else {
            return Err(ReadError::Empty { path: path.to_path_buf() });
        };
        let limit = match span.oversize {
            Some(limit) => Some(limit.to_string()),
            None if header.as_slice().len() > MAX_HEADER_BYTES => Some(format!("{} KiB", MAX_HEADER_BYTES >> 10)),
            None => None,
        };
        if let Some(limit) = limit {
            return Err(ReadError::HeaderTooLarge { path: path.to_path_buf(), limit });
        }
        let headers = decode_headers(&header).map_err(|hint| ReadError::NotText { path: path.to_path_buf(), hint })?;
        reader.ahead_span = reader.read_ahead().map_err(read_err)?;
        Ok((reader, headers))
    }

    /// Numbers records by `map` (a spreadsheet's rows, as `source` wrote
    /// them out) rather than by the lines of the file read.
    pub fn with_line_map(mut self, map: Option<std::sync::Arc<super::sheets::LineMap>>) -> CsvReader {
        self.line_map = map;
        self
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        let Some(mut span) = self.ahead_span.take() else {
            return Ok(None);
        };
        if let Some(row) = self.line_map.as_ref().and_then(|map| map.row(self.records as u32)) {
            (span.line, span.end_line) = (u64::from(row), u64::from(row));
        }
        self.records += 1;
        std::mem::swap(&mut self.current, &mut self.ahead);
        self.ahead_span = self.read_ahead()?;
        let unclosed_quote = self.ahead_span.is_none()
            && span.end_line > span.line
            && ends_inside_quotes(self.tail_from(span.start_byte)?, self.delimiter)?;
        Ok(Some(Record {
            line: span.line,
            end_line: span.end_line,
            raw: &self.current,
            unclosed_quote,
            oversize: span.oversize,
        }))
    }

    /// Like `next_record`, into `into`: its fields' buffer is swapped with
    /// the reader's, not copied, and reused for the next record. Returns
    /// `false` at the end of the file.
    pub fn next_owned(&mut self, into: &mut OwnedRecord) -> io::Result<bool> {
        let Some(record) = self.next_record()? else {
            return Ok(false);
        };
        (into.line, into.end_line, into.unclosed_quote, into.oversize) =
            (record.line, record.end_line, record.unclosed_quote, record.oversize);
        std::mem::swap(&mut into.raw, &mut self.current);
        Ok(true)
    }

    /// Reads the next record into `ahead`, reusing its buffers (a
    /// `ByteRecord` is boxed: a fresh one per record was an allocation).
    fn read_ahead(&mut self) -> io::Result<Option<Span>> {
        read_span(&mut self.csv, &self.index, &mut self.ahead)
    }

    fn read_into(&mut self, record: &mut ByteRecord) -> io::Result<Option<Span>> {
        read_span(&mut self.csv, &self.index, record)
    }

    fn tail_from(&self, byte: u64) -> io::Result<impl Read> {
        let mut file = crate::input::source::open_file(&self.path)?;
        file.seek(SeekFrom::Start(byte))?;
        Ok(BufReader::new(file))
    }
}

/// Reads one record into `record`, with where it lies in the file.
fn read_span(
    csv: &mut csv::Reader<ByteFilter<File>>,
    index: &Mutex<LineIndex>,
    record: &mut ByteRecord,
) -> io::Result<Option<Span>> {
    let start = csv.position().byte();
    let more = csv.read_byte_record(record).map_err(csv_io_error)?;
    if !more {
        return Ok(None);
    }
    let end = csv.position().byte();
    let mut index = lock(index);
    let oversize = index.oversize_in(start, end);
    let (start_byte, end_byte) = (index.real(start), index.real(end));
    let (line, end_line) = index.span(start_byte, end_byte);
    Ok(Some(Span { start_byte, line, end_line, oversize }))
}

/// A reading error as the user should see it.
pub fn read_error(path: &Path, e: io::Error) -> ReadError {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<NulByte>()) {
        Some(NulByte(offset)) => ReadError::Binary { path: path.to_path_buf(), offset: *offset },
        None => ReadError::Io { path: path.to_path_buf(), error: e },
    }
}

fn csv_io_error(err: csv::Error) -> io::Error {
    match err.into_kind() {
        csv::ErrorKind::Io(e) => e,
        // With `flexible` and byte records, csv reports nothing else.
        other => io::Error::other(format!("{other:?}")),
    }
}

fn decode_headers(header: &ByteRecord) -> Result<Vec<String>, &'static str> {
    let first = header.get(0).unwrap_or_default();
    if first.starts_with(&[0xFF, 0xFE]) || first.starts_with(&[0xFE, 0xFF]) {
        return Err(" (it looks like UTF-16: save it as \"CSV UTF-8\")");
    }
    header
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let cell = if i == 0 { cell.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(cell) } else { cell };
            match std::str::from_utf8(cell) {
                Ok(s) if !s.contains('\0') => Ok(s.to_string()),
                _ => Err(" (the header row is not text: is this a CSV file?)"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(content: &[u8]) -> (Vec<String>, Vec<(u64, u64, Vec<String>, bool)>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content).unwrap();
        let (mut reader, headers) = CsvReader::open(file.path(), b',').unwrap();
        let mut out = Vec::new();
        while let Some(rec) = reader.next_record().unwrap() {
            let cells = rec.raw.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            out.push((rec.line, rec.end_line, cells, rec.unclosed_quote));
        }
        (headers, out)
    }

    fn lines(content: &[u8]) -> Vec<(u64, u64)> {
        read_all(content).1.into_iter().map(|(l, e, _, _)| (l, e)).collect()
    }

    #[test]
    fn line_numbers_are_real_lines() {
        let cases: &[(&[u8], &[(u64, u64)])] = &[
            (b"id\n1\n2\n", &[(2, 2), (3, 3)]),
            (b"id\r\n1\r\n2\r\n", &[(2, 2), (3, 3)]),
            (b"id\n\n1\n\n\n2", &[(3, 3), (6, 6)]),
            (b"id\r\n\r\n1\r\n\r\n2\r\n", &[(3, 3), (5, 5)]),
            (b"id,n\n1,\"a\nb\nc\"\n2,x\n", &[(2, 4), (5, 5)]),
            (b"id,n\r\n1,\"a\r\n\r\nb\"\r\n2,x\r\n", &[(2, 4), (5, 5)]),
            (b"\n\nid\n1\n", &[(4, 4)]),
            (b"id\r1\r\r2\r", &[(2, 2), (4, 4)]),
            (b"id,n\r1,\"a\rb\"\r2,x", &[(2, 3), (4, 4)]),
        ];
        for (content, want) in cases {
            assert_eq!(lines(content), *want, "{:?}", String::from_utf8_lossy(content));
        }
    }

    #[test]
    fn line_numbers_across_buffer_refills() {
        // Well past the csv reader's 8 KiB buffer, with blank lines and CRLF.
        let mut content = b"id,notes\r\n".to_vec();
        let mut want = Vec::new();
        let mut line = 2;
        for i in 0..5000u64 {
            if i % 7 == 0 {
                content.extend_from_slice(b"\r\n");
                line += 1;
            }
            if i % 11 == 0 {
                content.extend_from_slice(format!("{i},\"two\nlines\"\r\n").as_bytes());
                want.push((line, line + 1));
                line += 2;
            } else {
                content.extend_from_slice(format!("{i},x\r\n").as_bytes());
                want.push((line, line));
                line += 1;
            }
        }
        assert_eq!(lines(&content), want);
    }

    #[test]
    fn crlf_split_across_reads_is_one_line_ending() {
        let mut index = LineIndex::default();
        index.feed(b"id\r", true);
        index.feed(b"\n1\r", true);
        index.feed(b"\n\r\n2", true);
        assert_eq!(index.span(4, 6), (2, 2));
        assert_eq!(index.span(6, 12), (4, 4));
    }

    #[test]
    fn bom_is_stripped_from_headers() {
        let (headers, rows) = read_all(b"\xEF\xBB\xBFid,revenue\n1,2\n");
        assert_eq!(headers, ["id", "revenue"]);
        assert_eq!(rows[0].2, ["1", "2"]);
    }

    #[test]
    fn unclosed_quote_at_the_end_is_flagged() {
        let (_, rows) = read_all(b"id,notes\n1,\"open\n2,x\n3,y\n");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].0, rows[0].1, rows[0].3), (2, 4, true));

        let (_, rows) = read_all(b"id,notes\n1,\"closed\nover two\",\n2,x\n");
        assert!(rows.iter().all(|r| !r.3));
        let (_, rows) = read_all(b"id,notes\n1,\"a\nb\",c");
        assert!(!rows[0].3, "a closed multi-line field in the last record");
    }

    /// A record past a limit is cut short and flagged, whatever it holds
    /// (a quoted cell over many lines, a line of commas), and the records
    /// after it read as usual, on their real lines.
    #[test]
    fn oversize_records_are_flagged_and_reading_goes_on() {
        let big_quoted = format!("1,\"{}\"\n", "ab\"\"c\n".repeat(MAX_RECORD_BYTES / 3));
        let quoted_lines = MAX_RECORD_BYTES / 3;
        let commas = format!("2,{}\n", ",".repeat(MAX_FIELDS * 3));
        let big_unquoted = format!("3,{}\r\n", "z".repeat(MAX_RECORD_BYTES + 10));
        let content = format!("id,notes\n{big_quoted}\n4,after\n{commas}{big_unquoted}5,last\n");
        let (_, rows) = read_all(content.as_bytes());
        let seen: Vec<(u64, String, bool)> = rows
            .iter()
            .map(|(line, _, cells, _)| {
                (*line, cells.first().cloned().unwrap_or_default(), cells.concat().len() <= MAX_RECORD_BYTES + 2)
            })
            .collect();
        // The quoted cell's lines, then a blank line.
        let after = 2 + quoted_lines as u64 + 2;
        assert_eq!(
            seen,
            [
                (2, "1".into(), true),
                (after, "4".into(), true),
                (after + 1, "2".into(), true),
                (after + 2, "3".into(), true),
                (after + 3, "5".into(), true)
            ]
        );
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content.as_bytes()).unwrap();
        let (mut reader, _) = CsvReader::open(file.path(), b',').unwrap();
        let mut flags = Vec::new();
        while let Some(rec) = reader.next_record().unwrap() {
            flags.push(rec.oversize);
        }
        assert_eq!(flags, [Some("1 MiB a record"), None, Some("1,000 fields a record"), Some("1 MiB a record"), None]);
    }

    #[test]
    fn a_nul_byte_stops_reading_at_its_offset() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"id,n\n1,a\n2,b\0\0\0\n3,c\n").unwrap();
        // The reader reads one record ahead: the NUL may be met on opening.
        let err = match CsvReader::open(file.path(), b',') {
            Err(e) => e,
            Ok((mut reader, _)) => loop {
                match reader.next_record() {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("read past a NUL byte"),
                    Err(e) => break read_error(file.path(), e),
                }
            },
        };
        assert!(matches!(err, ReadError::Binary { offset: 12, .. }), "{err}");
    }

    proptest::proptest! {
        /// Whatever the bytes, the reader returns records or an error: no
        /// panic, and line numbers never go backwards.
        #[test]
        fn any_bytes_read_without_panic(bytes in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b'"'), proptest::strategy::Just(b','), proptest::strategy::Just(b'\n'),
            proptest::strategy::Just(b'\r'), proptest::strategy::Just(b'a'), proptest::prelude::any::<u8>()], 0..400)) {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            file.write_all(&bytes).unwrap();
            if let Ok((mut reader, _)) = CsvReader::open(file.path(), b',') {
                let mut last = 0;
                while let Ok(Some(rec)) = reader.next_record() {
                    proptest::prop_assert!(rec.line >= last && rec.end_line >= rec.line);
                    last = rec.line;
                }
            }
        }
    }

    #[test]
    fn quote_state_machine() {
        let cases: &[(&[u8], bool)] = &[
            (b"1,\"abc", true),
            (b"1,\"ab\"\"c", true),
            (b"1,\"ab\"\"c\"", false),
            (b"1,ab\"c", false),
            (b"1,\"a\"b,\"c", true),
            (b"1,\"a\nb\",c\n", false),
        ];
        for (bytes, want) in cases {
            assert_eq!(ends_inside_quotes(*bytes, b',').unwrap(), *want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn files_that_are_not_csv() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(CsvReader::open(dir.path(), b','), Err(ReadError::Directory { .. })));
        assert!(matches!(CsvReader::open(&dir.path().join("nope.csv"), b','), Err(ReadError::Io { .. })));
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(CsvReader::open(&empty, b','), Err(ReadError::Empty { .. })));
        let binary = dir.path().join("x.png");
        std::fs::write(&binary, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xfe").unwrap();
        assert!(matches!(CsvReader::open(&binary, b','), Err(ReadError::Binary { offset: 8, .. })));
        let wide = dir.path().join("wide.csv");
        std::fs::write(&wide, ",".repeat(MAX_FIELDS + 5)).unwrap();
        assert!(matches!(CsvReader::open(&wide, b','), Err(ReadError::HeaderTooLarge { .. })));
        let long = dir.path().join("long.csv");
        std::fs::write(&long, "x".repeat(MAX_HEADER_BYTES + 1)).unwrap();
        assert!(matches!(CsvReader::open(&long, b','), Err(ReadError::HeaderTooLarge { .. })));
        let utf16 = dir.path().join("u16.csv");
        std::fs::write(&utf16, b"\xFF\xFEi\0d\0\n\0").unwrap();
        let err = CsvReader::open(&utf16, b',').err().unwrap().to_string();
        assert!(err.contains("UTF-16"), "{err}");
    }
}
