//! The write-ahead journal: what makes a run safe to stop at any moment.
//!
//! Before a row's first request is sent, its intent (`I,line`) is on disk;
//! after its response, its outcome (`O,line,status,http status,<the typed
//! outcome as JSON>`: `RowOutcome::to_record`, a layout this journal's
//! version pins, not results.csv's). A run that ends writes `E`. On `--resume`, a row with an outcome is done (unless it
//! was `failed` or `not_sent`, which are safe to send again); a row with an
//! intent and no outcome may have been applied, so it is resent only if its
//! fields are safe to send twice.
//!
//! Every record is one line, `<checksum> <fields>`: the fields are
//! tab-separated with tabs, line breaks and backslashes escaped, so no
//! record ever spans lines, and the checksum (FNV-1a, 64 bits, over the
//! fields) proves the line whole. A record cut short by a crash or a full
//! disk has no line ending or the wrong checksum: it is never read as a
//! complete record, it cannot swallow the records after it, and before a
//! resume appends anything the torn tail (everything after the last whole
//! record) is cut off.
//!
//! A syncer thread writes the intents made since its last sync in one
//! write, then syncs the file once for them all (group commit), so a sync
//! per row is never needed and a row is never sent before its intent is
//! durable. Outcomes are written at once by the thread that makes them (a
//! write to the page cache, so the results file never shows an outcome the
//! journal could not take) and made durable by the next sync: losing one to
//! a crash only leaves its row in doubt. An intent records when it was made,
//! so an audit log can later show whether the row was applied after it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::outputs::outcome::{RowOutcome, Status};

const MAGIC: &str = "#tdrecon-journal";
/// Version 1 was CSV records ending in a `.` field; a torn quoted field
/// could swallow the records after it. Version 2 kept results.csv's columns
/// as an outcome, a layout it did not own.
const VERSION: &str = "3";
/// The shortest time between two syncs…
const SYNC_INTERVAL: Duration = Duration::from_millis(5);
/// …unless this many intents are waiting for one.
const SYNC_ROWS: usize = 256;

/// What a journal is bound to: the input file's bytes and the options that
/// change what is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub input_sha256: String,
    pub options: String,
}

impl Binding {
    /// Binds to the input whose bytes hash to `input_sha256` (the source's
    /// survey), sent with `options`.
    pub fn new(input_sha256: &str, options: &str) -> Binding {
        let options = hex(&Sha256::digest(options.as_bytes()))[..16].to_string();
        Binding { input_sha256: input_sha256.to_string(), options }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `x.results.csv` → `x.results.journal`.
pub fn path_for(results: &Path) -> PathBuf {
    results.with_extension("journal")
}

type Ack = oneshot::Sender<io::Result<()>>;

/// Appends records and hands intents to the syncer; see the module docs.
pub struct Journal {
    shared: Arc<Shared>,
    syncer: Option<JoinHandle<io::Result<()>>>,
}

/// What the calling thread and the syncer thread share.
struct Shared {
    file: File,
    sync: bool,
    /// Appends, in order; the first error stops all later ones.
    writes: Mutex<Writes>,
    /// Intents written and waiting for the next sync.
    waiting: Mutex<Waiting>,
    wake: Condvar,
}

struct Writes {
    failed: Option<io::ErrorKind>,
    /// Test hook: bytes left before writes fail as on a full disk.
    limit: Option<u64>,
}

#[derive(Default)]
struct Waiting {
    acks: Vec<Ack>,
    /// Their intent records, written by the syncer in one write before it
    /// syncs (a write per intent on the runtime thread was a system call
    /// per row on the busiest thread).
    intents: Vec<u8>,
    closing: bool,
}

impl Journal {
    /// Starts a new journal at `path`, replacing any there.
    /// `fail_after` (tests only): writes fail as on a full disk once the
    /// journal has taken that many more bytes.
    pub fn create(path: &Path, binding: &Binding, sync: bool, fail_after: Option<u64>) -> io::Result<Journal> {
        let mut file = File::create(path)?;
        let mut header = Vec::new();
        record(&mut header, [MAGIC, VERSION, &binding.input_sha256, &binding.options]);
        file.write_all(&header)?;
        file.sync_all()?;
        // The file's directory entry must be durable too.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(dir)?.sync_all()?;
        Ok(Journal::start(file, sync, fail_after))
    }

    /// Continues an existing journal (after `replay` checked its binding),
    /// first cutting off whatever follows its last whole record, `whole`
    /// bytes in (`Replay::whole_len`): a record torn by a crash or a full
    /// disk must not run into the ones appended now.
    pub fn append(path: &Path, whole: u64, sync: bool, fail_after: Option<u64>) -> io::Result<Journal> {
        let file = OpenOptions::new().append(true).open(path)?;
        if file.metadata()?.len() > whole {
            file.set_len(whole)?;
            file.sync_all()?;
        }
        Ok(Journal::start(file, sync, fail_after))
    }

    fn start(file: File, sync: bool, limit: Option<u64>) -> Journal {
        let shared = Arc::new(Shared {
            file,
            sync,
            writes: Mutex::new(Writes { failed: None, limit }),
            waiting: Mutex::new(Waiting::default()),
            wake: Condvar::new(),
        });
        let for_syncer = Arc::clone(&shared);
        let syncer = std::thread::spawn(move || syncer_loop(&for_syncer));
        Journal { shared, syncer: Some(syncer) }
    }

    /// Records that `line` is about to be sent, at `at_ms` (milliseconds
    /// since the Unix epoch), with what `--reconcile` read before it (so a
    /// resume can tell whether it was applied); resolves once it is durable.
    pub async fn intent(&self, line: u64, at_ms: u64, before: Option<&str>) -> io::Result<()> {
        self.shared.failure()?;
        let (ack, done) = oneshot::channel();
        {
            let mut waiting = lock(&self.shared.waiting);
            record(&mut waiting.intents, ["I", &line.to_string(), before.unwrap_or_default(), &at_ms.to_string()]);
            waiting.acks.push(ack);
            // Wake the syncer only when there was nothing to sync, or a full batch.
            if waiting.acks.len() == 1 || waiting.acks.len() >= SYNC_ROWS {
                self.shared.wake.notify_one();
            }
        }
        done.await.map_err(|_| io::Error::other("the journal syncer has stopped"))?
    }

    /// Records a row's outcome: written at once, made durable by the next
    /// sync (the next intent's, or the last). A crash before then leaves the
    /// row in doubt, which a resume treats as possibly sent, the safe side.
    pub fn outcome(&self, outcome: &RowOutcome) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(512);
        let http = outcome.exchange.http_status.map(|s| s.to_string()).unwrap_or_default();
        let line = outcome.line.to_string();
        record(&mut bytes, ["O", &line, outcome.status.as_str(), &http, &outcome.to_record()]);
        self.shared.append(&bytes)
    }

    /// Marks the run as ended (when it did) and waits for everything to be
    /// on disk.
    pub fn finish(mut self, ended: bool) -> io::Result<()> {
        let end = {
            let mut waiting = lock(&self.shared.waiting);
            // Intents still waiting for the syncer (a row dropped while it
            // waited) go before the end marker, never after it.
            let intents = std::mem::take(&mut waiting.intents);
            let written = if intents.is_empty() { Ok(()) } else { self.shared.append(&intents) };
            let mut marker = Vec::new();
            record(&mut marker, ["E"]);
            let end = written.and_then(|()| if ended { self.shared.append(&marker) } else { Ok(()) });
            waiting.closing = true;
            end
        };
        self.shared.wake.notify_one();
        let synced = match self.syncer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the journal syncer panicked")),
            None => Ok(()),
        };
        end.and(synced)
    }
}

impl Shared {
    /// Appends one record on the calling thread: a write to the page cache,
    /// with no hand-off to another thread.
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        let mut writes = lock(&self.writes);
        if let Some(kind) = writes.failed {
            return Err(io::Error::new(kind, "an earlier journal write failed"));
        }
        let result = match &mut writes.limit {
            Some(left) if (bytes.len() as u64) > *left => {
                // As a full disk does: what fits is written, then the write fails.
                let fits = usize::try_from(*left).unwrap_or(usize::MAX);
                *left = 0;
                (&self.file)
                    .write_all(&bytes[..fits])
                    .and(Err(io::Error::new(io::ErrorKind::StorageFull, "No space left on device (test limit)")))
            }
            limit => {
                if let Some(left) = limit {
                    *left -= bytes.len() as u64;
                }
                (&self.file).write_all(bytes)
            }
        };
        if let Err(e) = &result {
            writes.failed = Some(e.kind());
        }
        result
    }

    fn failure(&self) -> io::Result<()> {
        match lock(&self.writes).failed {
            Some(kind) => Err(io::Error::new(kind, "an earlier journal write failed")),
            None => Ok(()),
        }
    }
}

/// Appends one record, `<checksum> <fields>` and a line ending, to `out`.
fn record<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    // The checksum goes first but covers what follows: leave room for it.
    let start = out.len();
    out.extend_from_slice(&[b'0'; 16]);
    out.push(b' ');
    let body = out.len();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        for &b in field.as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.push(b),
            }
        }
    }
    let sum = format!("{:016x}", fnv1a(&out[body..]));
    out[start..start + 16].copy_from_slice(sum.as_bytes());
    out.push(b'\n');
}

/// The fields of one whole record line (its line ending removed), or
/// `None` when the line is not a record this journal wrote whole.
fn parse_record(line: &[u8]) -> Option<Vec<String>> {
    let (sum, body) = (line.get(..16)?, line.get(17..)?);
    if line[16] != b' ' || std::str::from_utf8(sum).ok()? != format!("{:016x}", fnv1a(body)) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    text.split('\t')
        .map(|field| {
            let mut out = String::with_capacity(field.len());
            let mut chars = field.chars();
            while let Some(c) = chars.next() {
                out.push(match c {
                    '\\' => match chars.next()? {
                        't' => '\t',
                        'n' => '\n',
                        'r' => '\r',
                        '\\' => '\\',
                        _ => return None,
                    },
                    c => c,
                });
            }
            Some(out)
        })
        .collect()
}

/// FNV-1a, 64 bits: cheap, and enough to tell a whole record from a torn
/// or overwritten one (it guards against accidents, not an adversary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Syncs once for every batch of intents written since the last sync
/// (group commit), then acknowledges them all. Syncs are at least
/// `SYNC_INTERVAL` apart unless `SYNC_ROWS` intents are waiting: each sync
/// costs CPU for the block device, and on a busy machine fewer, fuller
/// syncs keep more throughput.
fn syncer_loop(shared: &Shared) -> io::Result<()> {
    let mut last_sync = Instant::now() - SYNC_INTERVAL;
    loop {
        let (acks, intents, closing) = {
            let mut waiting = lock(&shared.waiting);
            while waiting.acks.is_empty() && !waiting.closing {
                waiting = shared.wake.wait(waiting).unwrap_or_else(|p| p.into_inner());
            }
            // Let more intents join this sync, up to the interval.
            while shared.sync && !waiting.closing && waiting.acks.len() < SYNC_ROWS {
                let left = SYNC_INTERVAL.saturating_sub(last_sync.elapsed());
                if left.is_zero() {
                    break;
                }
                waiting = shared.wake.wait_timeout(waiting, left).unwrap_or_else(|p| p.into_inner()).0;
            }
            (std::mem::take(&mut waiting.acks), std::mem::take(&mut waiting.intents), waiting.closing)
        };
        last_sync = Instant::now();
        let written = if intents.is_empty() { shared.failure() } else { shared.append(&intents) };
        let result = written.and_then(|()| if shared.sync { shared.file.sync_data() } else { Ok(()) });
        if let Err(e) = &result {
            lock(&shared.writes).failed.get_or_insert(e.kind());
        }
        for ack in acks {
            let _ = ack.send(result.as_ref().map(|_| ()).map_err(|e| io::Error::new(e.kind(), e.to_string())));
        }
        if closing {
            // The last outcomes and the end marker came after the last intent.
            shared.failure()?;
            return if shared.sync { shared.file.sync_data() } else { Ok(()) };
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

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
    /// Rows with a final outcome (`ok`, `rejected`, `unknown`): skipped.
    pub done: LineSet,
    /// Rows whose intent was recorded with no outcome after it: they may
    /// have been applied.
    pub in_doubt: LineSet,
    /// Rows whose last outcome was `unknown` (also in `done`, unless
    /// `reopen_unknown` moved them to `in_doubt`).
    pub unknown: LineSet,
    /// What `--reconcile` read before sending each in-doubt row (JSON).
    pub before: HashMap<u64, String>,
    /// When each row in doubt or `unknown` was first about to be sent
    /// (milliseconds since the Unix epoch): an audit-log entry for its call
    /// from before then cannot be this row's.
    pub intent_at: HashMap<u64, u64>,
    /// Rows with more than one final outcome (`unknown`, then settled by a
    /// resume), and how many: the last one is the row's result.
    pub settled_again: HashMap<u64, u32>,
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
                } else {
                    self.unknown.remove(l);
                    self.intent_at.remove(&l);
                }
                if is_final(fields) {
                    if self.done.contains(l) {
                        *self.settled_again.entry(l).or_insert(1) += 1;
                    }
                    self.done.insert(l);
                } else {
                    self.done.remove(l);
                }
            }
            Some("E") => self.ended = true,
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
    if header.len() != 4 || header[0] != MAGIC || header[1] != VERSION {
        return Err(match header.first().map(String::as_str) {
            Some(MAGIC) => JournalError::OldFormat(path.to_path_buf(), header.get(1).cloned().unwrap_or_default()),
            _ => JournalError::NotAJournal(path.to_path_buf()),
        });
    }
    replay.binding = Some(Binding { input_sha256: header[2].clone(), options: header[3].clone() });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::values::CallRef;
    use crate::outputs::outcome::RowOutcome;
    use proptest::prelude::*;

    proptest! {
        /// Any fields come back as they went in: tabs, line breaks,
        /// backslashes, non-ASCII; and a record is always one line.
        #[test]
        fn records_round_trip(cells in proptest::collection::vec(".*|[a\\\\\t\r\n ]*", 1..6)) {
            let mut line = Vec::new();
            record(&mut line, cells.iter().map(String::as_str));
            prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(parse_record(line.strip_suffix(b"\n").unwrap()), Some(cells));
        }

        /// A record damaged anywhere is never read as whole.
        #[test]
        fn a_damaged_record_is_never_whole(cells in proptest::collection::vec("[a-z,\"]{0,8}", 1..4), at in 0usize..64, byte in 0u8..=255) {
            let mut line = Vec::new();
            record(&mut line, cells.iter().map(String::as_str));
            line.pop();
            let at = at % line.len();
            prop_assume!(line[at] != byte);
            line[at] = byte;
            prop_assert_eq!(parse_record(&line), None);
        }
    }

    fn binding() -> Binding {
        Binding { input_sha256: "ab".repeat(32), options: "0123456789abcdef".into() }
    }

    #[tokio::test]
    async fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let j = Journal::create(&path, &binding(), true, None).unwrap();
        for line in [2, 3, 4, 6] {
            j.intent(line, 1_000 + line, None).await.unwrap();
        }
        j.intent(5, 1_005, Some(r#"{"revenue":"1.00","note":"a, \"b\""}"#)).await.unwrap();
        let mut ok = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
        ok.error = "multi\nline, \"quoted\"".into();
        j.outcome(&ok).unwrap();
        j.outcome(&RowOutcome::new(3, CallRef::Id(2), Status::Failed)).unwrap();
        j.outcome(&RowOutcome::new(4, CallRef::Id(3), Status::Unknown)).unwrap();
        j.outcome(&RowOutcome::new(6, CallRef::Id(4), Status::NotSent)).unwrap();
        j.finish(false).unwrap();

        let r = replay(&path).unwrap();
        assert_eq!(r.binding, Some(binding()));
        assert!(r.done.contains(2) && r.done.contains(4) && !r.done.contains(3) && !r.done.contains(6));
        assert!(r.in_doubt.contains(5) && !r.in_doubt.contains(2) && !r.in_doubt.contains(3));
        assert_eq!(r.before.get(&5).map(String::as_str), Some(r#"{"revenue":"1.00","note":"a, \"b\""}"#));
        assert_eq!(r.before.len(), 1);
        assert_eq!((r.done.len(), r.in_doubt.len()), (2, 1));
        assert!(!r.ended);

        assert_eq!(r.intent_at.get(&5), Some(&1_005));
        assert_eq!(r.intent_at.get(&4), Some(&1_004), "an unknown row keeps its intent's time");
        assert_eq!(r.intent_at.get(&2), None);
        assert!(r.unknown.contains(4) && r.unknown.len() == 1);

        let mut copied = Vec::new();
        done_outcomes(&path, &r, |o| {
            copied.push(o);
            Ok(())
        })
        .unwrap();
        assert_eq!(copied.len(), 2);
        assert_eq!(copied[0], ok, "an outcome comes back whole");

        let j = Journal::append(&path, r.whole_len, false, None).unwrap();
        j.finish(true).unwrap();
        assert!(replay(&path).unwrap().ended);
    }

    #[tokio::test]
    async fn a_row_settled_again_is_copied_once_with_its_last_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let j = Journal::create(&path, &binding(), false, None).unwrap();
        j.intent(7, 50, None).await.unwrap();
        j.outcome(&RowOutcome::new(7, CallRef::Id(1), Status::Unknown)).unwrap();
        j.finish(false).unwrap();
        let mut r = replay(&path).unwrap();
        r.reopen_unknown();
        assert!(r.in_doubt.contains(7) && !r.done.contains(7));
        assert_eq!(r.intent_at.get(&7), Some(&50));
        let j = Journal::append(&path, r.whole_len, false, None).unwrap();
        j.intent(7, 90, None).await.unwrap();
        j.outcome(&RowOutcome::new(7, CallRef::Id(1), Status::Ok)).unwrap();
        j.finish(true).unwrap();
        let r = replay(&path).unwrap();
        assert!(r.done.contains(7) && r.unknown.is_empty() && r.intent_at.is_empty());
        let mut copied = Vec::new();
        done_outcomes(&path, &r, |o| {
            copied.push(o.status);
            Ok(())
        })
        .unwrap();
        assert_eq!(copied, [Status::Ok]);
    }

    /// A journal as the run left it, cut at every byte offset of its last
    /// records (a crash or a full disk mid-write), then resumed: a torn
    /// record is never read as whole, never swallows another, and is cut off
    /// before the resume appends, so the records appended after it read back.
    #[tokio::test]
    async fn a_journal_cut_at_any_byte_reads_back_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full.journal");
        let j = Journal::create(&full, &binding(), false, None).unwrap();
        let mut ok = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
        ok.error = "a \"quoted, multi\nline\" error\twith a tab\\".into();
        j.intent(2, 10, Some("{\"notes\":\"x\ny\"}")).await.unwrap();
        j.outcome(&ok).unwrap();
        j.intent(3, 11, Some("{\"notes\":\"open \\\" quote\"}")).await.unwrap();
        j.outcome(&RowOutcome::new(3, CallRef::Id(2), Status::Unknown)).unwrap();
        j.finish(false).unwrap();
        let bytes = std::fs::read(&full).unwrap();
        let header_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        let ends: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1).collect();
        let path = dir.path().join("cut.journal");
        for cut in header_len..=bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let r = replay(&path).unwrap();
            let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
            assert_eq!(r.whole_len as usize, ends[whole], "cut at {cut}");
            // What the whole records say, and nothing of the torn one.
            assert_eq!(r.done.contains(2), whole >= 2, "cut at {cut}");
            assert_eq!(r.in_doubt.contains(2), whole == 1, "cut at {cut}");
            assert_eq!(r.in_doubt.contains(3), whole == 3, "cut at {cut}");
            assert_eq!(r.done.contains(3), whole >= 4, "cut at {cut}");
            // A resume appends after the last whole record: what it writes
            // reads back, whatever was torn before it.
            let j = Journal::append(&path, r.whole_len, false, None).unwrap();
            j.intent(9, 12, Some("{}")).await.unwrap();
            j.outcome(&RowOutcome::new(9, CallRef::Id(3), Status::Ok)).unwrap();
            j.finish(true).unwrap();
            let after = replay(&path).unwrap();
            assert!(after.done.contains(9) && after.ended, "cut at {cut}: records appended after a torn one are lost");
            assert_eq!(after.done.contains(2), whole >= 2, "cut at {cut}");
        }
    }

    #[test]
    fn a_version_1_journal_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let b = binding();
        std::fs::write(&path, format!("{MAGIC},1,{},{},.\nI,12,,.\n", b.input_sha256, b.options)).unwrap();
        assert!(matches!(replay(&path), Err(JournalError::OldFormat(_, v)) if v == "1"));
    }

    #[test]
    fn not_a_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        std::fs::write(&path, "line,id\n").unwrap();
        assert!(matches!(replay(&path), Err(JournalError::NotAJournal(_))));
    }

    #[tokio::test]
    async fn a_full_disk_fails_every_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let j = Journal::start(file, false, Some(30));
        j.intent(2, 0, None).await.unwrap();
        assert_eq!(j.intent(3, 0, None).await.unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert!(j.intent(4, 0, None).await.is_err(), "nothing is written after a failure");
        assert!(j.finish(true).is_err());
    }

    #[test]
    fn line_sets() {
        let mut s = LineSet::default();
        s.insert(1_000_000);
        s.insert(3);
        assert!(s.contains(3) && s.contains(1_000_000) && !s.contains(4));
        s.remove(3);
        assert_eq!(s.len(), 1);
    }
}
