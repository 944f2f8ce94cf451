//! The ledger's writer: one thread owns the connection and commits what the
//! senders hand it in batches. An intent is checked against earlier runs
//! and recorded in one `BEGIN IMMEDIATE` transaction (taken before reading,
//! so a second run's check waits for this one's record), and answered once
//! committed; outcomes need no answer. Many rows' intents share a commit,
//! as the journal's share a sync.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::{Check, Entry, Recorded, Repeat, find_repeat, forget, now_ms, open_rw, record};

/// At most this many messages go in one transaction.
const BATCH: usize = 512;

/// Why an intent was not recorded.
#[derive(Debug)]
pub enum Refused {
    /// An earlier run applied (or may have applied) the same change.
    Repeat(Repeat),
    /// The ledger cannot be written: the job must stop.
    Broken(String),
}

enum Msg {
    Intent {
        entry: Entry,
        check: Option<Check>,
        reply: oneshot::Sender<Result<(), Refused>>,
    },
    /// `None`: not applied, forget it.
    Outcome {
        entry: Entry,
        status: Option<Recorded>,
    },
}

/// An account's ledger, open for a run to write.
pub struct Ledger {
    path: PathBuf,
    tx: Option<mpsc::Sender<Msg>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Ledger {
    /// Opens (creating) the ledger at `path`, and its directory.
    pub fn open(path: &Path) -> Result<Ledger, String> {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot open the ledger {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| cannot(&e))?;
        }
        let conn = open_rw(path).map_err(|e| cannot(&e))?;
        let (tx, rx) = mpsc::channel();
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("ledger".into())
            .spawn(move || serve(conn, rx, &shown))
            .map_err(|e| cannot(&e))?;
        Ok(Ledger { path: path.to_path_buf(), tx: Some(tx), thread: Some(thread) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `entry`'s intent (status `sent`), unless `check` finds it
    /// repeats an earlier run's change. `Ok` once committed.
    pub async fn intent(&self, entry: Entry, check: Option<Check>) -> Result<(), Refused> {
        let (reply, answer) = oneshot::channel();
        let gone = || Refused::Broken(format!("the ledger {} stopped taking updates", self.path.display()));
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        tx.send(Msg::Intent { entry, check, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Records what became of a row whose intent was recorded: `ok` or
    /// `unknown` stay, `None` (not applied) removes it.
    pub fn outcome(&self, entry: Entry, status: Option<Recorded>) {
        if let Some(tx) = &self.tx {
            // A writer that is gone has already failed an intent, which
            // stopped the job; `finish` says why.
            let _ = tx.send(Msg::Outcome { entry, status });
        }
    }

    /// Waits for every outcome to be committed.
    pub fn finish(mut self) -> Result<(), String> {
        self.close()
    }

    fn close(&mut self) -> Result<(), String> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(format!("the ledger {} writer panicked", self.path.display())),
            None => Ok(()),
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The writer thread: a batch per transaction until every sender is gone;
/// after a failure every intent is refused as `Broken`.
fn serve(mut conn: Connection, rx: mpsc::Receiver<Msg>, path: &str) -> Result<(), String> {
    let mut broken: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH
            && let Ok(msg) = rx.try_recv()
        {
            batch.push(msg);
        }
        if broken.is_none()
            && let Err(e) = commit(&mut conn, &mut batch)
        {
            broken = Some(format!("cannot write the ledger {path}: {e}"));
        }
        for msg in batch {
            if let Msg::Intent { reply, .. } = msg {
                let answer = match &broken {
                    Some(why) => Err(Refused::Broken(why.clone())),
                    // `commit` took the answers of refused intents.
                    None => Ok(()),
                };
                let _ = reply.send(answer);
            }
        }
    }
    broken.map_or(Ok(()), Err)
}

/// One transaction for `batch`. A refused intent is answered here and left
/// out of the batch; the others are answered by the caller once committed.
fn commit(conn: &mut Connection, batch: &mut Vec<Msg>) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    let mut kept = Vec::with_capacity(batch.len());
    for msg in batch.drain(..) {
        match msg {
            Msg::Intent { entry, check, reply } => {
                let actions = entry_actions(&entry);
                let repeat = match &check {
                    Some(check) => find_repeat(&tx, &entry.call, &actions, check, now)?,
                    None => None,
                };
                match repeat {
                    Some(repeat) => {
                        let _ = reply.send(Err(Refused::Repeat(repeat)));
                    }
                    None => {
                        record(&tx, &Entry { status: Recorded::Sent, ..entry.clone() })?;
                        kept.push(Msg::Intent { entry, check, reply });
                    }
                }
            }
            Msg::Outcome { entry, status: Some(status) } => record(&tx, &Entry { status, ..entry })?,
            Msg::Outcome { entry, status: None } => forget(&tx, &entry.run, entry.line)?,
        }
    }
    *batch = kept;
    tx.commit()
}

fn entry_actions(entry: &Entry) -> Vec<(String, String)> {
    match serde_json::from_str(&entry.changes) {
        Ok(body) => crate::input::update::actions_of(&body),
        Err(_) => Vec::new(),
    }
}
