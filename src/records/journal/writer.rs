//! Writing the journal: records appended on the calling thread, intents
//! made durable by a syncer thread in groups (see the module's docs).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Binding, MAGIC, VERSION, record};
use crate::outcome::RowOutcome;

/// The shortest time between two syncs…
const SYNC_INTERVAL: Duration = Duration::from_millis(5);
/// …unless this many intents are waiting for one.
const SYNC_ROWS: usize = 256;
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
    /// `run` names the run (the references its updates carry).
    pub fn create(
        path: &Path,
        binding: &Binding,
        run: &str,
        sync: bool,
        fail_after: Option<u64>,
    ) -> io::Result<Journal> {
        let mut file = File::create(path)?;
        let mut header = Vec::new();
        record(&mut header, [MAGIC, VERSION, &binding.input_sha256, &binding.options, run]);
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

    pub(super) fn start(file: File, sync: bool, limit: Option<u64>) -> Journal {
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

    /// Records that the account's audit log was seen to record this run's
    /// references (a resume can trust an absent one then).
    pub fn echoed(&self) -> io::Result<()> {
        let mut bytes = Vec::new();
        record(&mut bytes, ["R"]);
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
