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

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use csv::ByteRecord;

/// Why a file could not be read as CSV at all. Each is one sentence for the user.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is a directory, not a CSV file")]
    Directory { path: PathBuf },
    #[error("{path} is empty: expected a header row and then one row per call")]
    Empty { path: PathBuf },
    #[error("{path} is not UTF-8 CSV text{hint}")]
    NotText { path: PathBuf, hint: &'static str },
}

/// One record, and the lines of the file it spans.
#[derive(Debug)]
pub struct Record<'a> {
    pub line: u64,
    pub end_line: u64,
    pub raw: &'a ByteRecord,
    /// The file ends inside a quoted field that opened in this record.
    pub unclosed_quote: bool,
}

/// A `Record` that owns its fields, to hand to another thread.
#[derive(Debug, Default)]
pub struct OwnedRecord {
    pub line: u64,
    pub end_line: u64,
    pub raw: ByteRecord,
    pub unclosed_quote: bool,
}

impl OwnedRecord {
    pub fn as_record(&self) -> Record<'_> {
        Record { line: self.line, end_line: self.end_line, raw: &self.raw, unclosed_quote: self.unclosed_quote }
    }
}

/// Where a record lies in the file.
#[derive(Debug, Clone, Copy)]
struct Span {
    start_byte: u64,
    line: u64,
    end_line: u64,
}

pub struct CsvReader {
    path: PathBuf,
    delimiter: u8,
    csv: csv::Reader<Counted<File>>,
    index: Arc<Mutex<LineIndex>>,
    current: ByteRecord,
    ahead: ByteRecord,
    ahead_span: Option<Span>,
}

impl CsvReader {
    /// Opens `path`, reads its header row and returns the reader positioned on
    /// the first data record, with the header cells (BOM removed).
    pub fn open(path: &Path, delimiter: u8) -> Result<(CsvReader, Vec<String>), ReadError> {
        let io_err = |source| ReadError::Io { path: path.to_path_buf(), source };
        if path.is_dir() {
            return Err(ReadError::Directory { path: path.to_path_buf() });
        }
        let file = File::open(path).map_err(io_err)?;
        let index = Arc::new(Mutex::new(LineIndex::default()));
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(Counted { inner: file, index: Arc::clone(&index) });
        let mut reader = CsvReader {
            path: path.to_path_buf(),
            delimiter,
            csv,
            index,
            current: ByteRecord::new(),
            ahead: ByteRecord::new(),
            ahead_span: None,
        };
        let mut header = ByteRecord::new();
        if reader.read_into(&mut header).map_err(io_err)?.is_none() {
            return Err(ReadError::Empty { path: path.to_path_buf() });
        }
        let headers = decode_headers(&header).map_err(|hint| ReadError::NotText { path: path.to_path_buf(), hint })?;
        reader.ahead_span = reader.read_ahead().map_err(io_err)?;
        Ok((reader, headers))
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        let Some(span) = self.ahead_span.take() else {
            return Ok(None);
        };
        std::mem::swap(&mut self.current, &mut self.ahead);
        self.ahead_span = self.read_ahead()?;
        let unclosed_quote = self.ahead_span.is_none()
            && span.end_line > span.line
            && ends_inside_quotes(self.tail_from(span.start_byte)?, self.delimiter)?;
        Ok(Some(Record { line: span.line, end_line: span.end_line, raw: &self.current, unclosed_quote }))
    }

    /// Like `next_record`, into `into`: its fields' buffer is swapped with
    /// the reader's, not copied, and reused for the next record. Returns
    /// `false` at the end of the file.
    pub fn next_owned(&mut self, into: &mut OwnedRecord) -> io::Result<bool> {
        let Some(record) = self.next_record()? else {
            return Ok(false);
        };
        (into.line, into.end_line, into.unclosed_quote) = (record.line, record.end_line, record.unclosed_quote);
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
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(byte))?;
        Ok(BufReader::new(file))
    }
}

/// Reads one record into `record`, with where it lies in the file.
fn read_span(
    csv: &mut csv::Reader<Counted<File>>,
    index: &Mutex<LineIndex>,
    record: &mut ByteRecord,
) -> io::Result<Option<Span>> {
    let start_byte = csv.position().byte();
    let more = csv.read_byte_record(record).map_err(csv_io_error)?;
    if !more {
        return Ok(None);
    }
    let end_byte = csv.position().byte();
    let (line, end_line) = lock(index).span(start_byte, end_byte);
    Ok(Some(Span { start_byte, line, end_line }))
}

fn lock(index: &Mutex<LineIndex>) -> MutexGuard<'_, LineIndex> {
    // The index is plain counters; a panic elsewhere cannot leave it torn.
    index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// Passes the file's bytes through to the csv reader, noting where lines start.
struct Counted<R> {
    inner: R,
    index: Arc<Mutex<LineIndex>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        lock(&self.index).feed(&buf[..n]);
        Ok(n)
    }
}

/// Start offsets of the non-blank lines read but not yet passed by a record.
/// Bounded by the csv reader's buffer plus the current record.
#[derive(Debug)]
struct LineIndex {
    offset: u64,
    line: u64,
    line_is_blank: bool,
    /// The last chunk ended in `\r`: a `\n` starting the next one ends no new line.
    after_cr: bool,
    starts: VecDeque<(u64, u64)>,
}

impl Default for LineIndex {
    fn default() -> Self {
        LineIndex { offset: 0, line: 1, line_is_blank: true, after_cr: false, starts: VecDeque::new() }
    }
}

impl LineIndex {
    /// Counts lines the way editors do: `\n`, `\r\n` and a lone `\r` (old
    /// Mac exports, which the csv reader also treats as a record end) each
    /// end one line.
    fn feed(&mut self, chunk: &[u8]) {
        let mut pos = 0;
        if std::mem::take(&mut self.after_cr) && chunk.first() == Some(&b'\n') {
            pos = 1;
        }
        loop {
            let ending = memchr::memchr2(b'\n', b'\r', &chunk[pos..]).map(|i| pos + i);
            let end = ending.unwrap_or(chunk.len());
            if self.line_is_blank && end > pos {
                self.starts.push_back((self.offset + pos as u64, self.line));
                self.line_is_blank = false;
            }
            let Some(i) = ending else { break };
            self.line += 1;
            self.line_is_blank = true;
            pos = i + 1;
            if chunk[i] == b'\r' {
                match chunk.get(pos) {
                    Some(b'\n') => pos += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.offset += chunk.len() as u64;
    }

    /// First and last line of the record whose bytes are `start..end`
    /// (the csv reader may start a record on the blank lines before it).
    fn span(&mut self, start: u64, end: u64) -> (u64, u64) {
        while self.starts.front().is_some_and(|&(off, _)| off < start) {
            self.starts.pop_front();
        }
        let first = self.starts.front().map_or(self.line, |&(_, line)| line);
        let last = self.starts.iter().take_while(|&&(off, _)| off < end).last().map_or(first, |&(_, line)| line);
        (first, last)
    }
}

/// Whether the bytes, read from the start of a record, end inside a quoted
/// field: the same states csv-core walks, without building fields.
fn ends_inside_quotes(bytes: impl Read, delimiter: u8) -> io::Result<bool> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    for byte in io::BufReader::new(bytes).bytes() {
        let b = byte?;
        let ends_field = b == delimiter || b == b'\n' || b == b'\r';
        state = match state {
            State::FieldStart if b == b'"' => State::Quoted,
            State::FieldStart | State::Unquoted | State::QuoteInQuoted if ends_field => State::FieldStart,
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted if b == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            State::QuoteInQuoted => State::Unquoted,
        };
    }
    Ok(state == State::Quoted)
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
        index.feed(b"id\r");
        index.feed(b"\n1\r");
        index.feed(b"\n\r\n2");
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
        assert!(matches!(CsvReader::open(&binary, b','), Err(ReadError::NotText { .. })));
        let utf16 = dir.path().join("u16.csv");
        std::fs::write(&utf16, b"\xFF\xFEi\0d\0\n\0").unwrap();
        let err = CsvReader::open(&utf16, b',').err().unwrap().to_string();
        assert!(err.contains("UTF-16"), "{err}");
    }
}
