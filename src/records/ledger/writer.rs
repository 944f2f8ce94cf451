//! The ledger's writer: one thread owns the connection (SQLite's, or the
//! shared PostgreSQL's: a `Store`) and commits what the senders hand it in
//! batches. An intent is checked against earlier runs
//! and recorded in one `BEGIN IMMEDIATE` transaction (taken before reading,
//! so a second run's check waits for this one's record), and answered once
//! committed. Outcomes need no answer: they are left in a buffer the writer
//! takes at its next commit, so recording one costs a push, not a wake-up
//! of the writer (which, one per row, cost more than the row's insert).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::runs::register;
use super::schema::{ledger_id, open_rw};
use super::{Check, LedgerAt, Recorded, Repeat, RunInfo, Update, find_repeat, forget, id_file, now_ms, record, settle};

/// At most this many intents go in one transaction.
const BATCH: usize = 512;
/// How long outcomes may wait for a commit when no intent comes. A run
/// killed meanwhile leaves the intent (`sent`) in the ledger: a later run
/// refuses the row as possibly applied, never sends it twice.
const OUTCOME_DELAY: Duration = Duration::from_millis(50);
/// How long the first intent of a batch waits for others to share its
/// commit: each commit writes pages to the log (benches/ledger.sh). Rows
/// wait for their journal sync the same way, and send slots stay busy
/// meanwhile.
const INTENT_GATHER: Duration = Duration::from_millis(2);

/// Why an intent was not recorded.
#[derive(Debug)]
pub enum Refused {
    /// An earlier run applied (or may have applied) the same change.
    Repeat(Box<Repeat>),
    /// The ledger cannot be written: the job must stop.
    Broken(String),
}

pub(super) struct Intent {
    pub update: Update,
    /// Its acting changes (`CallUpdate::actions`), with how to judge them.
    pub check: Option<(Check, Vec<(String, String)>)>,
    pub reply: oneshot::Sender<Result<(), Refused>>,
}

/// What became of a row of this run: its line, its status (`None`: not
/// applied, forget it), and the update to record if its intent was not
/// (a row safe to resend records none).
pub(super) type Outcome = (u64, Option<Recorded>, Option<Update>);

/// Where a writer commits: one transaction for `intents` (checked and
/// recorded; a refused one answered here and left out, the others
/// answered by the writer once committed), then `outcomes`.
pub(super) trait Store: Send + 'static {
    fn commit(&mut self, run: &str, intents: &mut Vec<Intent>, outcomes: Vec<Outcome>) -> Result<(), String>;
}

pub(super) struct Sqlite(Connection);

impl Store for Sqlite {
    fn commit(&mut self, run: &str, intents: &mut Vec<Intent>, outcomes: Vec<Outcome>) -> Result<(), String> {
        commit(&mut self.0, run, intents, outcomes).map_err(|e| e.to_string())
    }
}

/// An account's ledger, open for a run to write.
pub struct Ledger {
    at: LedgerAt,
    tx: Option<mpsc::Sender<Intent>>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Ledger {
    /// Starts the writer of the ledger `at` for `run`: `open` makes its
    /// store on the writer's own thread (a blocking database client must
    /// not live in the async runtime), and this waits for it.
    pub(super) fn spawn<S: Store>(
        at: &LedgerAt,
        run: RunInfo,
        open: impl FnOnce(&RunInfo) -> Result<S, String> + Send + 'static,
    ) -> Result<Ledger, String> {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot open the ledger {at}: {e}");
        let (tx, rx) = mpsc::channel();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let (shown, buffer) = (at.to_string(), Arc::clone(&outcomes));
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("ledger".into())
            .spawn(move || match open(&run) {
                Ok(store) => {
                    let _ = ready_tx.send(Ok(()));
                    serve(store, &run.run, rx, &buffer, &shown)
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    Err(e)
                }
            })
            .map_err(|e| cannot(&e))?;
        ready.recv().map_err(|_| cannot(&"its thread stopped"))?.map_err(|e| cannot(&e))?;
        Ok(Ledger { at: at.clone(), tx: Some(tx), outcomes, thread: Some(thread) })
    }

    pub fn at(&self) -> &LedgerAt {
        &self.at
    }

    /// Records `update`'s intent (status `sent`), unless `check` finds its
    /// acting changes repeat an earlier run's. `Ok` once committed.
    pub async fn intent(&self, update: Update, check: Option<(Check, Vec<(String, String)>)>) -> Result<(), Refused> {
        let (reply, answer) = oneshot::channel();
        let gone = || Refused::Broken(format!("the ledger {} stopped taking updates", self.at));
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        tx.send(Intent { update, check, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Records what became of the row of `line`: `ok` or `unknown` stay,
    /// `None` (not applied) removes it. `update`: a row whose intent was not
    /// recorded (it is safe to resend), to record now.
    pub fn outcome(&self, line: u64, status: Option<Recorded>, update: Option<Update>) {
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).push((line, status, update));
    }

    /// Waits for every outcome to be committed.
    pub fn finish(mut self) -> Result<(), String> {
        self.close()
    }

    fn close(&mut self) -> Result<(), String> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(format!("the ledger {} writer panicked", self.at)),
            None => Ok(()),
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The writer thread: a transaction for the intents that have come and
/// the outcomes left meanwhile, once the first intent has waited
/// `INTENT_GATHER` (asleep, so intents sent meanwhile wake no one), or every
/// `OUTCOME_DELAY` for outcomes alone; the last when every sender is gone.
/// After a failure every intent is refused as `Broken`.
fn serve(
    mut store: impl Store,
    run: &str,
    rx: mpsc::Receiver<Intent>,
    outcomes: &Mutex<Vec<Outcome>>,
    path: &str,
) -> Result<(), String> {
    let mut broken: Option<String> = None;
    let mut intents: Vec<Intent> = Vec::new();
    loop {
        let closed = match rx.recv_timeout(OUTCOME_DELAY) {
            Ok(first) => {
                intents.push(first);
                std::thread::sleep(INTENT_GATHER);
                intents.extend(rx.try_iter().take(BATCH));
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let done = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|p| p.into_inner()));
        if broken.is_none()
            && !(intents.is_empty() && done.is_empty())
            && let Err(e) = store.commit(run, &mut intents, done)
        {
            broken = Some(format!("cannot write the ledger {path}: {e}"));
        }
        for Intent { reply, .. } in intents.drain(..) {
            // `commit` took the answers of refused intents.
            let _ = reply.send(broken.as_ref().map_or(Ok(()), |why| Err(Refused::Broken(why.clone()))));
        }
        if closed {
            return broken.map_or(Ok(()), Err);
        }
    }
}

/// A ledger file opened to write, the run named in it and its id
/// remembered beside it: a later run that finds another ledger here (or
/// none) knows this one was lost, and says so.
pub(super) fn open_file(path: &std::path::Path, run: &RunInfo) -> Result<Sqlite, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let conn = open_rw(path, &run.account).map_err(|e| e.to_string())?;
    register(&conn, run).map_err(|e| e.to_string())?;
    if let Some(id) = ledger_id(&conn).map_err(|e| e.to_string())? {
        crate::files::write_atomically(&id_file(path), format!("{id}\n").as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(Sqlite(conn))
}

/// One transaction: `intents` checked and recorded (a refused one is
/// answered here and left out; the others are answered by the caller once
/// committed), then `outcomes`.
fn commit(conn: &mut Connection, run: &str, intents: &mut Vec<Intent>, outcomes: Vec<Outcome>) -> rusqlite::Result<()> {
    // Intents are on disk before they are answered (a request follows);
    // outcomes alone need not wait for the disk: a lost one leaves its
    // intent, which still refuses a repeat.
    let sync = if intents.is_empty() { "NORMAL" } else { "FULL" };
    conn.pragma_update(None, "synchronous", sync)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    let mut kept = Vec::with_capacity(intents.len());
    for intent in intents.drain(..) {
        let repeat = match &intent.check {
            Some((check, actions)) => find_repeat(&tx, true, &intent.update.call, actions, check, now)?,
            None => None,
        };
        match repeat {
            Some(repeat) => {
                let _ = intent.reply.send(Err(Refused::Repeat(Box::new(repeat))));
            }
            None => {
                record(&tx, run, &intent.update, Recorded::Sent)?;
                kept.push(intent);
            }
        }
    }
    *intents = kept;
    for (line, status, update) in outcomes {
        match status {
            Some(status) => settle(&tx, run, line, status, update.as_ref())?,
            None => forget(&tx, run, line)?,
        }
    }
    tx.commit()
}
