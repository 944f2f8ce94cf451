//! The write-ahead journal: what makes a run safe to stop at any moment.
//!
//! Before a row's first request is sent, its intent (`I,line`) is on disk;
//! after its response, its outcome (`O,line,<results columns>`). A run that
//! ends writes `E`. On `--resume`, a row with an outcome is done (unless it
//! was `failed` or `not_sent`, which are safe to send again); a row with an
//! intent and no outcome may have been applied, so it is resent only if its
//! fields are safe to send twice.
//!
//! A syncer thread writes the intents made since its last sync in one
//! write, then syncs the file once for them all (group commit), so a sync
//! per row is never needed and a row is never sent before its intent is
//! durable. Outcomes are written at once by the thread that makes them (a
//! write to the page cache, so the results file never shows an outcome the
//! journal could not take) and made durable by the next sync: losing one to
//! a crash only leaves its row in doubt. Each record ends with a `.` field;
//! a record torn by a crash lacks it and is ignored (its intent was never
//! synced, so its row was never sent).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::outputs::outcome::Status;

const MAGIC: &str = "#tdrecon-journal";
const VERSION: &str = "1";
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
    pub fn new(input: &Path, options: &str) -> io::Result<Binding> {
        let mut hasher = Sha256::new();
        let mut file = File::open(input)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let input_sha256 = hex(&hasher.finalize());
        let options = hex(&Sha256::digest(options.as_bytes()))[..16].to_string();
        Ok(Binding { input_sha256, options })
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
    pub fn create(path: &Path, binding: &Binding, sync: bool) -> io::Result<Journal> {
        let mut file = File::create(path)?;
        writeln!(file, "{MAGIC},{VERSION},{},{},.", binding.input_sha256, binding.options)?;
        file.sync_all()?;
        // The file's directory entry must be durable too.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(dir)?.sync_all()?;
        Ok(Journal::start(file, sync, limit_from_env()))
    }

    /// Continues an existing journal (after `replay` checked its binding).
    pub fn append(path: &Path, sync: bool) -> io::Result<Journal> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Journal::start(file, sync, limit_from_env()))
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

    /// Records that `line` is about to be sent, with what `--reconcile`
    /// read before it (so a resume can tell whether it was applied);
    /// resolves once it is durable.
    pub async fn intent(&self, line: u64, before: Option<&str>) -> io::Result<()> {
        self.shared.failure()?;
        let (ack, done) = oneshot::channel();
        {
            let mut waiting = lock(&self.shared.waiting);
            csv_line(&mut waiting.intents, ["I", &line.to_string(), before.unwrap_or_default(), "."]);
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
    /// `fields` is the row's results row (`results::fields`).
    pub async fn outcome(&self, fields: &[String]) -> io::Result<()> {
        let record = std::iter::once("O").chain(fields.iter().map(String::as_str)).chain(std::iter::once("."));
        let mut bytes = Vec::with_capacity(256);
        csv_line(&mut bytes, record);
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
            let end = written.and_then(|()| if ended { self.shared.append(b"E,.\n") } else { Ok(()) });
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
                Err(io::Error::new(io::ErrorKind::StorageFull, "No space left on device (test limit)"))
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

/// Appends one CSV record, with its line ending, to `line`.
fn csv_line<'a>(line: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    // Written by hand: a `csv::Writer` per record (two buffers, a flush)
    // cost more than the rest of journaling an outcome. Quoted as the csv
    // crate quotes by default, and read back by it (tests round-trip it).
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        if field.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
            line.push(b'"');
            for b in field.bytes() {
                if b == b'"' {
                    line.push(b'"');
                }
                line.push(b);
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(field.as_bytes());
        }
    }
    line.push(b'\n');
}

/// Test hook: `TDRECON_TEST_JOURNAL_LIMIT=N` makes writes fail once the
/// journal has taken N more bytes, as a full disk would.
fn limit_from_env() -> Option<u64> {
    std::env::var("TDRECON_TEST_JOURNAL_LIMIT").ok()?.parse().ok()
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
    /// What `--reconcile` read before sending each in-doubt row (JSON).
    pub before: std::collections::HashMap<u64, String>,
    /// The run wrote its end marker.
    pub ended: bool,
}

impl Replay {
    /// No row of the earlier run is finished or in doubt: everything it
    /// recorded is safe to send again, so there is nothing to resume.
    pub fn nothing_applied(&self) -> bool {
        self.done.is_empty() && self.in_doubt.is_empty()
    }
}

/// Why an existing journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read the journal {0}: {1}")]
    Io(PathBuf, io::Error),
    #[error("{0} is not a tdrecon journal")]
    NotAJournal(PathBuf),
}

/// Reads a journal back. Torn or unreadable records are skipped.
pub fn replay(path: &Path) -> Result<Replay, JournalError> {
    let io_err = |e| JournalError::Io(path.to_path_buf(), e);
    let mut file = BufReader::new(File::open(path).map_err(io_err)?);
    let mut header = String::new();
    file.read_line(&mut header).map_err(io_err)?;
    let parts: Vec<&str> = header.trim_end().split(',').collect();
    if parts.len() != 5 || parts[0] != MAGIC || parts[1] != VERSION || parts[4] != "." {
        return Err(JournalError::NotAJournal(path.to_path_buf()));
    }
    let mut replay = Replay {
        binding: Some(Binding { input_sha256: parts[2].to_string(), options: parts[3].to_string() }),
        ..Replay::default()
    };
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(file);
    for record in rdr.records() {
        let Ok(record) = record else { continue };
        if !complete(&record) {
            continue;
        }
        let line = || record.get(1).and_then(|l| l.parse::<u64>().ok());
        match record.get(0) {
            Some("I") => {
                if let Some(l) = line() {
                    replay.in_doubt.insert(l);
                    match record.get(2).filter(|b| record.len() == 4 && !b.is_empty()) {
                        Some(before) => replay.before.insert(l, before.to_string()),
                        None => replay.before.remove(&l),
                    };
                }
            }
            Some("O") => {
                let Some(l) = line() else { continue };
                replay.in_doubt.remove(l);
                replay.before.remove(&l);
                if is_final(&record) {
                    replay.done.insert(l);
                }
            }
            Some("E") => replay.ended = true,
            _ => {}
        }
    }
    Ok(replay)
}

/// A record a crash did not tear: it ends with its `.` field.
fn complete(record: &csv::StringRecord) -> bool {
    record.len() > 1 && record.get(record.len() - 1) == Some(".")
}

/// An outcome record whose row is finished (`Status::is_final`). `failed`
/// and `not_sent` rows were not applied, or are safe to resend; so is a row
/// the API refused for the keys (401/403, which stop the job): it was never
/// looked at, and a resume with keys that work sends it.
fn is_final(record: &csv::StringRecord) -> bool {
    // An outcome record is `O` and then the results row's fields.
    let field = |name| record.get(crate::outputs::results::column(name) + 1);
    let refused_keys = matches!(field("http_status"), Some("401" | "403"));
    !refused_keys && field("status").and_then(Status::parse).is_some_and(Status::is_final)
}

/// Copies the final outcomes of done rows, as results rows, to `write`.
pub fn copy_done(path: &Path, mut write: impl FnMut(&[String]) -> io::Result<()>) -> io::Result<()> {
    let mut rdr =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).from_path(path).map_err(io::Error::other)?;
    let columns = crate::outputs::results::header().len();
    for record in rdr.records() {
        let Ok(record) = record else { continue };
        if record.get(0) == Some("O") && complete(&record) && is_final(&record) {
            let fields: Vec<String> = record.iter().skip(1).take(columns).map(String::from).collect();
            write(&fields)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::values::CallRef;
    use crate::outputs::outcome::RowOutcome;
    use crate::outputs::results::fields;
    use proptest::prelude::*;

    proptest! {
        /// The hand-written record is byte for byte what the csv crate
        /// writes, for any text: commas, quotes, line breaks, non-ASCII.
        #[test]
        fn csv_line_writes_what_the_csv_crate_writes(cells in proptest::collection::vec(".*|[a,\"\r\n ]*", 2..6)) {
            let mut w = csv::WriterBuilder::new().has_headers(false).terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
            w.write_record(&cells).unwrap();
            let want = w.into_inner().unwrap();
            let mut got = Vec::new();
            csv_line(&mut got, cells.iter().map(String::as_str));
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        }
    }

    fn binding() -> Binding {
        Binding { input_sha256: "ab".repeat(32), options: "0123456789abcdef".into() }
    }

    #[tokio::test]
    async fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let j = Journal::create(&path, &binding(), true).unwrap();
        for line in [2, 3, 4, 6] {
            j.intent(line, None).await.unwrap();
        }
        j.intent(5, Some(r#"{"revenue":"1.00","note":"a, \"b\""}"#)).await.unwrap();
        let mut ok = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
        ok.error = "multi\nline, \"quoted\"".into();
        j.outcome(&fields(&ok)).await.unwrap();
        j.outcome(&fields(&RowOutcome::new(3, CallRef::Id(2), Status::Failed))).await.unwrap();
        j.outcome(&fields(&RowOutcome::new(4, CallRef::Id(3), Status::Unknown))).await.unwrap();
        j.outcome(&fields(&RowOutcome::new(6, CallRef::Id(4), Status::NotSent))).await.unwrap();
        j.finish(false).unwrap();

        let r = replay(&path).unwrap();
        assert_eq!(r.binding, Some(binding()));
        assert!(r.done.contains(2) && r.done.contains(4) && !r.done.contains(3) && !r.done.contains(6));
        assert!(r.in_doubt.contains(5) && !r.in_doubt.contains(2) && !r.in_doubt.contains(3));
        assert_eq!(r.before.get(&5).map(String::as_str), Some(r#"{"revenue":"1.00","note":"a, \"b\""}"#));
        assert_eq!(r.before.len(), 1);
        assert_eq!((r.done.len(), r.in_doubt.len()), (2, 1));
        assert!(!r.ended);

        let mut copied = Vec::new();
        copy_done(&path, |f| {
            copied.push(f.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(copied.len(), 2);
        assert_eq!(copied[0][6], "multi\nline, \"quoted\"");
        assert_eq!(copied[0].len(), crate::outputs::results::header().len());

        let j = Journal::append(&path, false).unwrap();
        j.finish(true).unwrap();
        assert!(replay(&path).unwrap().ended);
    }

    #[test]
    fn torn_records_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let b = binding();
        let text = format!("{MAGIC},1,{},{},.\nI,12,,.\nI,13,,.\nO,12,1,ok,200,1,3,,.\nI,1", b.input_sha256, b.options);
        std::fs::write(&path, text).unwrap();
        let r = replay(&path).unwrap();
        assert!(r.done.contains(12));
        assert!(r.in_doubt.contains(13));
        assert!(!r.in_doubt.contains(1), "the torn intent for line 1… is not read as line 1");
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
        let j = Journal::start(file, false, Some(9));
        j.intent(2, None).await.unwrap();
        assert_eq!(j.intent(3, None).await.unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert!(j.intent(4, None).await.is_err(), "nothing is written after a failure");
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
