//! The bytes between the file and the csv reader. `ByteFilter` passes the
//! file's bytes on, noting where lines start (`LineIndex`, so records keep
//! their real line numbers), and keeps any record within `MAX_RECORD_BYTES`
//! and `MAX_FIELDS`: past either, the rest of the record is read but not
//! passed on (a quote left open is closed), so the csv reader never holds it,
//! and the record is noted as oversize. A NUL byte stops reading: CSV text
//! never holds one. `Lex` is the quote state csv-core walks, which both the
//! filter and `ends_inside_quotes` (the unclosed-quote check) follow.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard};

/// The most bytes one record may hold (its fields together); a longer one
/// is rejected without being held in memory, and reading goes on.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// The most fields one record may have.
pub const MAX_FIELDS: usize = 1_000;

/// A NUL byte in the input, at this offset (an `io::Error`'s inner error).
#[derive(Debug, thiserror::Error)]
#[error("a NUL byte at offset {0}")]
pub(super) struct NulByte(pub u64);

pub(super) fn lock(index: &Mutex<LineIndex>) -> MutexGuard<'_, LineIndex> {
    // The index is plain counters; a panic elsewhere cannot leave it torn.
    index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where the csv reader stands in a record, as csv-core walks it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Lex {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl Lex {
    pub(super) fn next(self, b: u8, delimiter: u8) -> Lex {
        let ends_field = b == delimiter || b == b'\n' || b == b'\r';
        match self {
            Lex::FieldStart if b == b'"' => Lex::Quoted,
            Lex::FieldStart | Lex::Unquoted | Lex::QuoteInQuoted if ends_field => Lex::FieldStart,
            Lex::FieldStart | Lex::Unquoted => Lex::Unquoted,
            Lex::Quoted if b == b'"' => Lex::QuoteInQuoted,
            Lex::Quoted => Lex::Quoted,
            Lex::QuoteInQuoted if b == b'"' => Lex::Quoted,
            Lex::QuoteInQuoted => Lex::Unquoted,
        }
    }
}

/// Passes the file's bytes to the csv reader, noting where lines start, and
/// keeps any record within `MAX_RECORD_BYTES` and `MAX_FIELDS`: past either,
/// the rest of the record is read but not passed on (a quote left open is
/// closed), so the csv reader never holds it, and the record is noted as
/// oversize. A NUL byte stops reading: CSV text never holds one.
pub(super) struct ByteFilter<R> {
    inner: R,
    index: Arc<Mutex<LineIndex>>,
    delimiter: u8,
    lex: Lex,
    record_bytes: usize,
    fields: usize,
    /// Dropping the rest of an oversize record.
    skipping: bool,
    chunk: Box<[u8]>,
    /// The bytes that need a close look (quote, line endings, NUL); runs of
    /// the others, delimiters included, are passed on at once.
    special: [bool; 256],
    /// Bytes of `chunk` read from the file, and how many have been handled.
    len: usize,
    at: usize,
    /// Bytes read from the file, and bytes passed to the csv reader.
    real: u64,
    passed: u64,
}

impl<R: Read> ByteFilter<R> {
    pub(super) fn new(inner: R, index: Arc<Mutex<LineIndex>>, delimiter: u8) -> ByteFilter<R> {
        ByteFilter {
            inner,
            index,
            delimiter,
            lex: Lex::FieldStart,
            record_bytes: 0,
            fields: 1,
            skipping: false,
            chunk: vec![0; 64 << 10].into_boxed_slice(),
            special: std::array::from_fn(|b| matches!(b as u8, b'"' | b'\n' | b'\r' | 0)),
            len: 0,
            at: 0,
            real: 0,
            passed: 0,
        }
    }
}

impl<R: Read> Read for ByteFilter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n == 0 && !out.is_empty() {
            if self.at == self.len {
                self.len = self.inner.read(&mut self.chunk)?;
                self.at = 0;
                if self.len == 0 {
                    return Ok(0);
                }
            }
            n = self.pass(out)?;
        }
        Ok(n)
    }
}

impl<R> ByteFilter<R> {
    /// Moves bytes from `chunk` to `out` until either runs out.
    fn pass(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // The index is held for the whole pass (one lock a read, not one a byte).
        let shared = Arc::clone(&self.index);
        let mut index = lock(&shared);
        // The bytes since `at.from` go to the line index together; lines
        // inside a record being dropped are counted, but their starts not kept.
        let mut at = Cursor { n: 0, from: self.at };
        while self.at < self.len && at.n < out.len() {
            if self.pass_run(out, &mut at.n) {
                continue;
            }
            let b = self.chunk[self.at];
            if b == 0 {
                index.feed(&self.chunk[at.from..self.at], !self.skipping);
                return Err(io::Error::new(io::ErrorKind::InvalidData, NulByte(self.real)));
            }
            self.pass_special(b, out, &mut at, &mut index);
        }
        index.feed(&self.chunk[at.from..self.at], !self.skipping);
        Ok(at.n)
    }

    /// Passes on (or drops) at once a run of bytes that cannot end a record
    /// or open a quote, counting the fields it starts; `false` when the next
    /// byte needs a close look.
    fn pass_run(&mut self, out: &mut [u8], n: &mut usize) -> bool {
        let room =
            if self.skipping { self.len - self.at } else { (out.len() - *n).min(MAX_RECORD_BYTES - self.record_bytes) };
        let end = self.len.min(self.at + room);
        let quoted = self.lex == Lex::Quoted;
        let (mut i, mut last) = (self.at, Lex::Unquoted);
        while i < end {
            let b = self.chunk[i];
            if self.special[usize::from(b)] {
                break;
            }
            if b == self.delimiter && !quoted {
                // Past the last field allowed: the close look rejects it.
                if self.fields >= MAX_FIELDS && !self.skipping {
                    break;
                }
                self.fields += 1;
                last = Lex::FieldStart;
            } else {
                last = Lex::Unquoted;
            }
            i += 1;
        }
        let run = i - self.at;
        if run == 0 {
            return false;
        }
        if !self.skipping {
            out[*n..*n + run].copy_from_slice(&self.chunk[self.at..i]);
            *n += run;
            self.passed += run as u64;
            self.record_bytes += run;
        }
        self.at = i;
        self.real += run as u64;
        if !quoted {
            self.lex = last;
        }
        true
    }

    /// One byte that needs a close look: a quote, a line ending, or the
    /// byte that takes a record past a limit (from there the record's rest
    /// is dropped, an open quote closed, until its end).
    fn pass_special(&mut self, b: u8, out: &mut [u8], at: &mut Cursor, index: &mut LineIndex) {
        let before = self.lex;
        self.lex = before.next(b, self.delimiter);
        let ends_record = (b == b'\n' || b == b'\r') && before != Lex::Quoted;
        if ends_record && self.skipping {
            index.feed(&self.chunk[at.from..self.at], false);
            at.from = self.at;
            // Where the csv reader's offsets and the file's part.
            index.shift(self.passed, self.real - self.passed);
            self.skipping = false;
        }
        self.at += 1;
        self.real += 1;
        if ends_record {
            (self.record_bytes, self.fields) = (0, 1);
        } else if self.skipping {
            return;
        } else {
            self.record_bytes += 1;
            self.fields += usize::from(b == self.delimiter && before != Lex::Quoted);
            if let Some(limit) = self.over_limit() {
                index.feed(&self.chunk[at.from..self.at], true);
                at.from = self.at;
                index.note_oversize(self.passed, limit);
                self.skipping = true;
                if before == Lex::Quoted {
                    // Close the open quote so the csv reader ends the field.
                    out[at.n] = b'"';
                    at.n += 1;
                    self.passed += 1;
                }
                return;
            }
        }
        out[at.n] = b;
        at.n += 1;
        self.passed += 1;
    }

    /// The limit the current record has passed, if it has.
    fn over_limit(&self) -> Option<&'static str> {
        if self.record_bytes > MAX_RECORD_BYTES {
            Some("1 MiB a record")
        } else if self.fields > MAX_FIELDS {
            Some("1,000 fields a record")
        } else {
            None
        }
    }
}

/// Where `ByteFilter::pass` stands in `out`, and the start of the bytes not
/// yet fed to the line index.
struct Cursor {
    n: usize,
    from: usize,
}

/// Start offsets of the non-blank lines read but not yet passed by a record.
/// Bounded by the csv reader's buffer plus the current record.
#[derive(Debug)]
pub(super) struct LineIndex {
    offset: u64,
    line: u64,
    line_is_blank: bool,
    /// The last chunk ended in `\r`: a `\n` starting the next one ends no new line.
    after_cr: bool,
    starts: VecDeque<(u64, u64)>,
    /// Where the bytes the csv reader saw part from the file's (a record's
    /// dropped rest): `(csv offset, file offset - csv offset)` from there on,
    /// and the difference before the first.
    shifts: VecDeque<(u64, u64)>,
    base_shift: u64,
    /// Records cut short, by a csv offset inside them, with the limit passed.
    oversize: VecDeque<(u64, &'static str)>,
}

impl Default for LineIndex {
    fn default() -> Self {
        LineIndex {
            offset: 0,
            line: 1,
            line_is_blank: true,
            after_cr: false,
            starts: VecDeque::new(),
            shifts: VecDeque::new(),
            base_shift: 0,
            oversize: VecDeque::new(),
        }
    }
}

impl LineIndex {
    /// Counts lines the way editors do: `\n`, `\r\n` and a lone `\r` (old
    /// Mac exports, which the csv reader also treats as a record end) each
    /// end one line.
    /// The file offset of a csv reader's offset.
    pub(super) fn real(&mut self, csv: u64) -> u64 {
        let shift = self.shifts.iter().rev().find(|&&(at, _)| at <= csv).map_or(self.base_shift, |&(_, d)| d);
        csv + shift
    }

    pub(super) fn shift(&mut self, csv: u64, shift: u64) {
        self.shifts.push_back((csv, shift));
    }

    pub(super) fn note_oversize(&mut self, csv: u64, limit: &'static str) {
        self.oversize.push_back((csv, limit));
    }

    /// Whether the record at csv offsets `start..end` was cut short; forgets
    /// what lies before it.
    pub(super) fn oversize_in(&mut self, start: u64, end: u64) -> Option<&'static str> {
        while self.shifts.front().is_some_and(|&(at, _)| at <= start) {
            self.base_shift = self.shifts.pop_front().map_or(self.base_shift, |(_, d)| d);
        }
        while self.oversize.front().is_some_and(|&(at, _)| at < start) {
            self.oversize.pop_front();
        }
        match self.oversize.front() {
            Some(&(at, limit)) if at <= end => {
                self.oversize.pop_front();
                Some(limit)
            }
            _ => None,
        }
    }

    /// Counts the lines in `chunk`; `keep_starts: false` for the dropped
    /// rest of an oversize record, whose line starts no record needs.
    pub(super) fn feed(&mut self, chunk: &[u8], keep_starts: bool) {
        let mut pos = 0;
        if std::mem::take(&mut self.after_cr) && chunk.first() == Some(&b'\n') {
            pos = 1;
        }
        loop {
            let ending = memchr::memchr2(b'\n', b'\r', &chunk[pos..]).map(|i| pos + i);
            let end = ending.unwrap_or(chunk.len());
            if self.line_is_blank && end > pos && keep_starts {
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
    pub(super) fn span(&mut self, start: u64, end: u64) -> (u64, u64) {
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
pub(super) fn ends_inside_quotes(bytes: impl Read, delimiter: u8) -> io::Result<bool> {
    let mut state = Lex::FieldStart;
    for byte in io::BufReader::new(bytes).bytes() {
        state = state.next(byte?, delimiter);
    }
    Ok(state == Lex::Quoted)
}
