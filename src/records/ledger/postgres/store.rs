//! The shared ledger's tables and statements: ordered migrations (the
//! version in `tdrecon_schema`, applied under one advisory lock so two runs
//! starting at once take turns), the writer's transaction (intents checked
//! under a per-call lock and recorded, then outcomes), the reads `plan`,
//! the reader thread and `history` make, and the import of a machine's
//! SQLite history. Times are the database's clock, shared by every
//! machine (one whose clock runs five minutes off cannot shift a window).
//!
//! `postgres::Client` runs a runtime of its own and must not be made or
//! dropped inside tokio's: `Worker` keeps one on a thread of its own.

use std::sync::mpsc;
use std::thread::JoinHandle;

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::{Client, GenericClient, Statement, Transaction};

use super::PgTarget;
use crate::records::ledger::runs::{Outcome, RunRecord};
use crate::records::ledger::writer::{Intent, Outcome as RowOutcome, Refused, Store};
use crate::records::ledger::{Check, Entry, Recorded, Repeat, RunInfo, Update, same_actions};

/// Each version's step from the one before, in order.
const MIGRATIONS: &[&str] = &[
    // 1: runs and updates by account, as SQLite's schema 3 holds them.
    "CREATE TABLE tdrecon_runs (
        account TEXT NOT NULL,
        run TEXT NOT NULL,
        file TEXT NOT NULL,
        input_sha256 TEXT NOT NULL,
        started BIGINT,
        who TEXT,
        finished BIGINT,
        outcome TEXT,
        PRIMARY KEY (account, run)
    );
    CREATE TABLE tdrecon_updates (
        account TEXT NOT NULL,
        run TEXT NOT NULL,
        line BIGINT NOT NULL,
        call TEXT NOT NULL,
        uuid TEXT,
        referenced BOOLEAN NOT NULL,
        changes TEXT NOT NULL,
        at BIGINT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (account, run, line)
    );
    CREATE INDEX tdrecon_updates_call ON tdrecon_updates (account, call, at);
    CREATE INDEX tdrecon_updates_at ON tdrecon_updates (account, at);",
];

/// The advisory lock the migrations take (any constant; "tdrecon" in hex).
const MIGRATION_LOCK: i64 = 0x0074_6472_6563_6f6e;

/// The database's clock, in ms since the epoch.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
const NOW_SQL: &str = "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Brings the schema up to date (a database written by a newer tdrecon
/// is refused, unchanged).
pub(in crate::records::ledger) fn migrate(client: &mut Client) -> Result<(), String> {
    let known = MIGRATIONS.len() as i32;
    let mut tx = client.transaction().map_err(|e| super::words(&e))?;
    let steps = (|| -> Result<i32, postgres::Error> {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS tdrecon_schema (version INTEGER NOT NULL)")?;
        let version: i32 = match tx.query_opt("SELECT version FROM tdrecon_schema", &[])? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO tdrecon_schema (version) VALUES (0)", &[])?;
                0
            }
        };
        for step in MIGRATIONS.iter().skip(usize::try_from(version).unwrap_or(0)) {
            tx.batch_execute(step)?;
        }
        if version < known {
            tx.execute("UPDATE tdrecon_schema SET version = $1", &[&known])?;
        }
        Ok(version)
    })();
    match steps {
        Ok(version) if version > known => {
            Err(format!("it was written by a newer tdrecon (schema {version}; this one knows {known})"))
        }
        Ok(_) => tx.commit().map_err(|e| super::words(&e)),
        Err(e) => Err(super::words(&e)),
    }
}

thread_local! {
    /// Statements prepared on this thread's connection (a thread keeps one:
    /// the writer's, or a `Worker`'s): a row's statements cost one round
    /// trip, not a parse and then one.
    static PREPARED: RefCell<HashMap<&'static str, Statement>> = RefCell::new(HashMap::new());
}

/// `sql`, prepared once on this thread's connection.
fn prepared(client: &mut impl GenericClient, sql: &'static str) -> Result<Statement, postgres::Error> {
    if let Some(statement) = PREPARED.with(|p| p.borrow().get(sql).cloned()) {
        return Ok(statement);
    }
    let statement = client.prepare(sql)?;
    PREPARED.with(|p| p.borrow_mut().insert(sql, statement.clone()));
    Ok(statement)
}

/// The writer's side: one connection, owned by the writer thread.
pub(in crate::records::ledger) struct PgStore {
    pub client: Client,
    pub account: String,
}

impl Store for PgStore {
    fn commit(&mut self, run: &str, intents: &mut Vec<Intent>, outcomes: Vec<RowOutcome>) -> Result<(), String> {
        commit(&mut self.client, &self.account, run, intents, outcomes).map_err(|e| super::words(&e))
    }
}

fn commit(
    client: &mut Client,
    account: &str,
    run: &str,
    intents: &mut Vec<Intent>,
    outcomes: Vec<RowOutcome>,
) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    // Every call an intent names, locked in one order (by its key) so two
    // runs locking overlapping calls cannot wait on each other.
    let keys: Vec<String> = intents.iter().map(|i| lock_key(account, &i.update.call)).collect();
    if !keys.is_empty() {
        let lock = prepared(
            &mut tx,
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(c, 0) AS k FROM unnest($1::text[]) AS c) s ORDER BY k",
        )?;
        tx.execute(&lock, &[&keys])?;
    }
    let now_sql = prepared(&mut tx, NOW_SQL)?;
    let now: i64 = tx.query_one(&now_sql, &[])?.get(0);
    let mut kept = Vec::with_capacity(intents.len());
    for intent in intents.drain(..) {
        let repeat = match &intent.check {
            Some((check, actions)) => find_repeat(&mut tx, account, &intent.update.call, actions, check, Some(now))?,
            None => None,
        };
        match repeat {
            Some(repeat) => {
                let _ = intent.reply.send(Err(Refused::Repeat(Box::new(repeat))));
            }
            None => {
                record(&mut tx, account, run, &intent.update, Recorded::Sent, now)?;
                kept.push(intent);
            }
        }
    }
    *intents = kept;
    for (line, status, update) in outcomes {
        match (status, update) {
            (Some(status), Some(update)) => record(&mut tx, account, run, &update, status, now)?,
            (Some(status), None) => {
                let settle = prepared(
                    &mut tx,
                    "UPDATE tdrecon_updates SET status = $4 WHERE account = $1 AND run = $2 AND line = $3",
                )?;
                tx.execute(&settle, &[&account, &run, &(line as i64), &status.as_str()])?;
            }
            (None, _) => {
                let forget =
                    prepared(&mut tx, "DELETE FROM tdrecon_updates WHERE account = $1 AND run = $2 AND line = $3")?;
                tx.execute(&forget, &[&account, &run, &(line as i64)])?;
            }
        }
    }
    tx.commit()
}

/// The advisory lock's text: the account and the call.
fn lock_key(account: &str, call: &str) -> String {
    format!("{account}\u{1f}{call}")
}

fn record(
    tx: &mut Transaction<'_>,
    account: &str,
    run: &str,
    update: &Update,
    status: Recorded,
    now: i64,
) -> Result<(), postgres::Error> {
    // A resumed run records a row's intent again: its first time stays.
    let insert = prepared(
        tx,
        "INSERT INTO tdrecon_updates (account, run, line, call, referenced, changes, at, status, uuid)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (account, run, line) DO UPDATE SET
             call = excluded.call, referenced = excluded.referenced, changes = excluded.changes,
             status = excluded.status, uuid = excluded.uuid",
    )?;
    tx.execute(
        &insert,
        &[
            &account,
            &run,
            &(update.line as i64),
            &update.call,
            &update.referenced,
            &update.changes,
            &now,
            &status.as_str(),
            &update.uuid,
        ],
    )?;
    Ok(())
}

/// The columns an `Entry` is read from.
const ENTRY: &str =
    "SELECT u.run, u.line, u.call, u.referenced, u.changes, r.input_sha256, r.file, u.at, u.status, u.uuid
     FROM tdrecon_updates u JOIN tdrecon_runs r ON r.account = u.account AND r.run = u.run";

fn entry_of(row: &postgres::Row) -> Entry {
    let (run, line): (String, i64) = (row.get(0), row.get(1));
    let line = line as u64;
    Entry {
        reference: row.get::<_, bool>(3).then(|| format!("{run}-{line}")),
        run,
        line,
        call: row.get(2),
        changes: row.get(4),
        input_sha256: row.get(5),
        file: row.get(6),
        at: row.get::<_, i64>(7) as u64,
        status: Recorded::parse(row.get(8)),
        uuid: row.get(9),
    }
}

fn find_repeat(
    client: &mut impl GenericClient,
    account: &str,
    call: &str,
    actions: &[(String, String)],
    check: &Check,
    now: Option<i64>,
) -> Result<Option<Repeat>, postgres::Error> {
    if actions.is_empty() {
        return Ok(None);
    }
    // At most a century back: the subtraction stays within a bigint.
    let window = i64::try_from(check.window.as_millis()).unwrap_or(i64::MAX).min(3_155_760_000_000);
    // `now`: the transaction's reading of the clock; else the statement's own.
    let since = prepared(
        client,
        "SELECT u.run, u.line, u.call, u.referenced, u.changes, r.input_sha256, r.file, u.at, u.status, u.uuid
         FROM tdrecon_updates u JOIN tdrecon_runs r ON r.account = u.account AND r.run = u.run
         WHERE u.account = $1 AND u.call = $2 AND u.run <> $4
           AND u.at >= coalesce($3, (extract(epoch from clock_timestamp()) * 1000)::bigint) - $5
         ORDER BY u.at, u.run, u.line",
    )?;
    let rows = client.query(&since, &[&account, &call, &now, &check.run, &window])?;
    Ok(rows.iter().map(entry_of).find_map(|earlier| {
        let same = same_actions(&earlier.changes, actions);
        (!same.is_empty()).then_some(Repeat { earlier, same })
    }))
}

/// Names the run: its first start is kept.
pub(in crate::records::ledger) fn register(client: &mut Client, info: &RunInfo) -> Result<(), postgres::Error> {
    client.execute(
        &format!(
            "INSERT INTO tdrecon_runs (account, run, file, input_sha256, started, who) VALUES ($1, $2, $3, $4, {NOW_MS}, $5)
             ON CONFLICT (account, run) DO UPDATE SET file = excluded.file, input_sha256 = excluded.input_sha256,
                 who = excluded.who, started = coalesce(tdrecon_runs.started, excluded.started)"
        ),
        &[&info.account, &info.run, &info.file, &info.input_sha256, &info.who],
    )?;
    Ok(())
}

/// Records how `run` ended.
pub(in crate::records::ledger) fn finish_run(
    client: &mut Client,
    account: &str,
    run: &str,
    outcome: &str,
) -> Result<(), postgres::Error> {
    client.execute(
        &format!("UPDATE tdrecon_runs SET finished = {NOW_MS}, outcome = $3 WHERE account = $1 AND run = $2"),
        &[&account, &run, &outcome],
    )?;
    Ok(())
}

/// The reads of a ledger opened to read, for one account.
pub(in crate::records::ledger) fn repeat(
    client: &mut Client,
    account: &str,
    call: &str,
    actions: &[(String, String)],
    check: &Check,
) -> Result<Option<Repeat>, postgres::Error> {
    find_repeat(client, account, call, actions, check, None)
}

pub(in crate::records::ledger) fn of_call(
    client: &mut Client,
    account: &str,
    call: &str,
) -> Result<Vec<Entry>, postgres::Error> {
    let rows = client.query(
        &format!(
            "{ENTRY} WHERE u.account = $1 AND (u.call = $2 OR lower(u.uuid) = lower($2)) ORDER BY u.at, u.run, u.line"
        ),
        &[&account, &call],
    )?;
    Ok(rows.iter().map(entry_of).collect())
}

pub(in crate::records::ledger) fn since(
    client: &mut Client,
    account: &str,
    since: i64,
) -> Result<Vec<Entry>, postgres::Error> {
    let rows = client.query(
        &format!("{ENTRY} WHERE u.account = $1 AND u.at >= $2 ORDER BY u.at, u.run, u.line"),
        &[&account, &since],
    )?;
    Ok(rows.iter().map(entry_of).collect())
}

pub(in crate::records::ledger) fn runs(
    client: &mut Client,
    account: &str,
    since: Option<i64>,
) -> Result<Vec<RunRecord>, postgres::Error> {
    let rows = client.query(
        "SELECT r.run, r.file, r.input_sha256,
             coalesce(r.started, (SELECT min(u.at) FROM tdrecon_updates u WHERE u.account = r.account AND u.run = r.run)),
             r.who, r.finished, r.outcome
         FROM tdrecon_runs r WHERE r.account = $1
             AND coalesce(r.started, (SELECT min(u.at) FROM tdrecon_updates u WHERE u.account = r.account AND u.run = r.run), 0) >= $2
         ORDER BY 4, 1",
        &[&account, &since.unwrap_or(i64::MIN)],
    )?;
    Ok(rows
        .iter()
        .map(|row| RunRecord {
            run: row.get(0),
            file: row.get(1),
            input_sha256: row.get(2),
            started: row.get(3),
            who: row.get(4),
            finished: row.get(5),
            outcome: row.get::<_, Option<String>>(6).and_then(|j| serde_json::from_str::<Outcome>(&j).ok()),
        })
        .collect())
}

/// What an import copied: runs and updates new to the shared ledger, and
/// those it held already.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub runs: u64,
    pub updates: u64,
    pub already: u64,
}

/// Copies `runs` and `entries` of `account` into the shared ledger in one
/// transaction; what it holds already (the same run and line) is kept as
/// it is, so an import run twice copies nothing the second time.
pub(in crate::records::ledger) fn import(
    client: &mut Client,
    account: &str,
    runs: &[RunRecord],
    entries: &[Entry],
) -> Result<Imported, postgres::Error> {
    let mut tx = client.transaction()?;
    let mut done = Imported::default();
    for r in runs {
        let outcome = r.outcome.as_ref().and_then(|o| serde_json::to_string(o).ok());
        done.runs += tx.execute(
            "INSERT INTO tdrecon_runs (account, run, file, input_sha256, started, who, finished, outcome)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account, run) DO NOTHING",
            &[&account, &r.run, &r.file, &r.input_sha256, &r.started, &r.who, &r.finished, &outcome],
        )?;
    }
    for e in entries {
        let n = tx.execute(
            "INSERT INTO tdrecon_updates (account, run, line, call, referenced, changes, at, status, uuid)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (account, run, line) DO NOTHING",
            &[
                &account,
                &e.run,
                &(e.line as i64),
                &e.call,
                &e.reference.is_some(),
                &e.changes,
                &(e.at as i64),
                &e.status.as_str(),
                &e.uuid,
            ],
        )?;
        if n == 0 {
            done.already += 1;
        }
        done.updates += n;
    }
    tx.commit()?;
    Ok(done)
}

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// A connection kept on a thread of its own (see the module's doc), that
/// runs what it is handed there and answers.
pub(in crate::records::ledger) struct Worker {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    shown: String,
}

impl Worker {
    /// Connects, and brings the schema up to date.
    pub fn start(target: &PgTarget) -> Result<Worker, String> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::sync_channel(1);
        let target_in = target.clone();
        let thread = std::thread::Builder::new()
            .name("ledger-reader".into())
            .spawn(move || {
                let connected = target_in.connect().and_then(|mut c| {
                    migrate(&mut c).map_err(|e| format!("the ledger {}: {e}", target_in.shown()))?;
                    Ok(c)
                });
                let mut client = match connected {
                    Ok(c) => {
                        let _ = ready_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                for job in rx {
                    job(&mut client);
                }
            })
            .map_err(|e| e.to_string())?;
        let worker = Worker { tx: Some(tx), thread: Some(thread), shown: target.shown().to_string() };
        ready.recv().map_err(|_| format!("the ledger {} could not be opened", target.shown()))??;
        Ok(worker)
    }

    /// Runs `f` on the connection and waits for its answer.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, String> {
        let (answer_tx, answer) = mpsc::sync_channel(1);
        let gone = || format!("the ledger {} stopped answering", self.shown);
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        tx.send(Box::new(move |c: &mut Client| {
            let _ = answer_tx.send(f(c));
        }))
        .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?.map_err(|e| format!("the ledger {}: {}", self.shown, super::words(&e)))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
