//! Reading a journal back: what an earlier run recorded, whole records
//! only, and the outcomes a resume replays.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{Binding, MAGIC, VERSION, parse_record};
use crate::outcome::{RowOutcome, Status};

/// A set of line numbers, one bit each: compact for millions of rows.
#[derive(Debug, Default, Clone)]
pub struct LineSet {
    words: Vec<u64>,
}

impl LineSet {
    pub fn insert(&mut self, line: u64) {
        let (word, bit) = ((line / 64) as usize, line % 64);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << bit;
    }

    pub fn remove(&mut self, line: u64) {
        if let Some(w) = self.words.get_mut((line / 64) as usize) {
            *w &= !(1 << (line % 64));
        }
    }

    pub fn contains(&self, line: u64) -> bool {
        self.words.get((line / 64) as usize).is_some_and(|w| w & (1 << (line % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| (0..64u64).filter(move |bit| w & (1 << bit) != 0).map(move |bit| i as u64 * 64 + bit))
    }
}

/// What an earlier run recorded.
#[derive(Debug, Default)]
pub struct Replay {
    pub binding: Option<Binding>,
    /// The run's name, from the header: its updates' references.
    pub run: String,
    /// The account's audit log was seen recording this run's references.
    pub echoed: bool,
    /// Rows with a final outcome (`ok`, `rejected`, `unknown`): skipped.
    pub done: LineSet,
    /// Rows whose intent was recorded with no outcome after it: they may
    /// have been applied.
    pub in_doubt: LineSet,
    /// Rows whose last outcome was `unknown` (also in `done`, unless
    /// `reopen_unknown` moved them to `in_doubt`).
    pub unknown: LineSet,
    /// Rows left `unknown` whose last attempt was answered or had its
    /// connection closed: the server was done with them.
    pub finished: LineSet,
    /// What `--reconcile` read before sending each in-doubt row (JSON).
    pub before: HashMap<u64, String>,
    /// When each row in doubt or `unknown` was first about to be sent
    /// (milliseconds since the Unix epoch): an audit-log entry for its call
    /// from before then cannot be this row's.
    pub intent_at: HashMap<u64, u64>,
    /// Rows with more than one final outcome (`unknown`, then settled by a
    /// resume, perhaps with `failed` between), and how many: the last one is
    /// the row's result.
    pub settled_again: HashMap<u64, u32>,
    /// Rows with at least one final outcome, whatever came after it.
    had_final: LineSet,
    /// The run wrote its end marker.
    pub ended: bool,
    /// Bytes from the start to the end of the last whole record: what a
    /// resume keeps before it appends.
    pub whole_len: u64,
}

impl Replay {
    /// No row of the earlier run is finished or in doubt: everything it
    /// recorded is safe to send again, so there is nothing to resume.
    pub fn nothing_applied(&self) -> bool {
        self.done.is_empty() && self.in_doubt.is_empty()
    }

    /// `--resume --reconcile`: rows an earlier run left `unknown` are
    /// settled again, as rows in doubt, instead of being skipped.
    pub fn reopen_unknown(&mut self) {
        for line in self.unknown.iter() {
            self.done.remove(line);
            self.in_doubt.insert(line);
        }
    }

    fn read(&mut self, fields: &[String]) {
        let line = || fields.get(1).and_then(|l| l.parse::<u64>().ok());
        match fields.first().map(String::as_str) {
            Some("I") => {
                let Some(l) = line() else { return };
                self.in_doubt.insert(l);
                match fields.get(2).filter(|b| !b.is_empty()) {
                    Some(before) => self.before.insert(l, before.clone()),
                    None => self.before.remove(&l),
                };
                if let Some(at) = fields.get(3).and_then(|t| t.parse::<u64>().ok()) {
                    // The earliest intent since the row was last settled.
                    self.intent_at.entry(l).and_modify(|t| *t = (*t).min(at)).or_insert(at);
                }
            }
            Some("O") => {
                let Some(l) = line() else { return };
                self.in_doubt.remove(l);
                self.before.remove(&l);
                let status = fields.get(2).and_then(|s| Status::parse(s));
                if status == Some(Status::Unknown) {
                    self.unknown.insert(l);
                    let timed_out =
                        fields.get(4).and_then(|r| RowOutcome::from_record(r)).is_none_or(|o| o.exchange.timed_out);
                    if timed_out { self.finished.remove(l) } else { self.finished.insert(l) }
                } else {
                    self.unknown.remove(l);
                    self.intent_at.remove(&l);
                }
                if is_final(fields) {
                    // Counted whether or not the row was done just before:
                    // `unknown`, `failed`, then `ok` are two final outcomes.
                    if self.had_final.contains(l) {
                        *self.settled_again.entry(l).or_insert(1) += 1;
                    }
                    self.had_final.insert(l);
                    self.done.insert(l);
                } else {
                    self.done.remove(l);
                }
            }
            Some("E") => self.ended = true,
            Some("R") => self.echoed = true,
            _ => {}
        }
    }
}

/// Why an existing journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read the journal {0}: {1}")]
    Io(PathBuf, io::Error),
    #[error("{0} is not a tdrecon journal")]
    NotAJournal(PathBuf),
    #[error(
        "{0} was written by an earlier version of tdrecon (journal format {1}): finish that run with the \
         version that started it, or start again with --restart"
    )]
    OldFormat(PathBuf, String),
}

/// Calls `each` with the fields of every whole record after the header, and
/// returns the header's fields and the length up to the last whole record.
fn records(path: &Path, mut each: impl FnMut(&[String]) -> io::Result<()>) -> Result<(Vec<String>, u64), JournalError> {
    let io_err = |e| JournalError::Io(path.to_path_buf(), e);
    let mut file = BufReader::new(File::open(path).map_err(io_err)?);
    let mut buf = Vec::with_capacity(512);
    let (mut offset, mut whole_len) = (0u64, 0u64);
    let mut header = None;
    loop {
        buf.clear();
        let n = file.read_until(b'\n', &mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        // A last line with no line ending was cut short: it is the torn tail.
        let Some(line) = buf.strip_suffix(b"\n") else { break };
        let Some(fields) = parse_record(line) else {
            if header.is_none() {
                return Err(header_error(path, line));
            }
            continue;
        };
        whole_len = offset;
        match header {
            None => header = Some(fields),
            Some(_) => each(&fields).map_err(io_err)?,
        }
    }
    match header {
        Some(header) => Ok((header, whole_len)),
        None => Err(header_error(path, &buf)),
    }
}

/// Why a journal's first line is not one this version reads.
fn header_error(path: &Path, line: &[u8]) -> JournalError {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.split(',');
    match (parts.next(), parts.next()) {
        (Some(MAGIC), Some(version)) => JournalError::OldFormat(path.to_path_buf(), version.to_string()),
        _ => JournalError::NotAJournal(path.to_path_buf()),
    }
}

/// Reads a journal back. Torn or corrupted records are never read as whole.
pub fn replay(path: &Path) -> Result<Replay, JournalError> {
    let mut replay = Replay::default();
    let (header, whole_len) = records(path, |fields| {
        replay.read(fields);
        Ok(())
    })?;
    if header.len() != 5 || header[0] != MAGIC || header[1] != VERSION {
        return Err(match header.first().map(String::as_str) {
            Some(MAGIC) => JournalError::OldFormat(path.to_path_buf(), header.get(1).cloned().unwrap_or_default()),
            _ => JournalError::NotAJournal(path.to_path_buf()),
        });
    }
    replay.binding = Some(Binding { input_sha256: header[2].clone(), options: header[3].clone() });
    replay.run = header[4].clone();
    replay.whole_len = whole_len;
    Ok(replay)
}

/// An outcome record whose row is finished (`Status::is_final`). `failed`
/// and `not_sent` rows were not applied, or are safe to resend; so is a row
/// the API refused for the keys (401/403, which stop the job): it was never
/// looked at, and a resume with keys that work sends it.
fn is_final(fields: &[String]) -> bool {
    let refused_keys = matches!(fields.get(3).map(String::as_str), Some("401" | "403"));
    !refused_keys && fields.get(2).and_then(|s| Status::parse(s)).is_some_and(Status::is_final)
}

/// Hands the last outcome of every row `replay` counts as done to `each`,
/// in the order they were recorded.
pub fn done_outcomes(
    path: &Path,
    replay: &Replay,
    mut each: impl FnMut(RowOutcome) -> io::Result<()>,
) -> io::Result<()> {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    records(path, |fields| {
        let Some(line) = outcome_line(fields, replay) else { return Ok(()) };
        if let Some(&finals) = replay.settled_again.get(&line) {
            // Only the last of a row's outcomes is its result.
            let n = seen.entry(line).or_default();
            *n += 1;
            if *n < finals {
                return Ok(());
            }
        }
        let outcome = fields.get(4).and_then(|r| RowOutcome::from_record(r)).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("the outcome of line {line} cannot be read back"))
        })?;
        each(outcome)
    })
    .map(|_| ())
    .map_err(io::Error::other)
}

/// The line of a final outcome record for a row that is done.
fn outcome_line(fields: &[String], replay: &Replay) -> Option<u64> {
    let line = fields.get(1)?.parse().ok()?;
    (fields.first()? == "O" && is_final(fields) && replay.done.contains(line)).then_some(line)
}
