//! The ledger: every update tdrecon sent to an account, across runs, in an
//! SQLite database in the state directory (`records::state`), one per
//! account. The journal keeps one run of one file from sending a row twice;
//! the ledger keeps a report sent again (renamed, corrected, from another
//! folder, with a row appended) from applying an add, a webhook fire or a
//! transcription request a second time.
//!
//! An update that acts (an add, a fire, a transcription) is recorded when
//! its intent is, before it is sent, in the same transaction that checks it
//! is not a repeat, so two runs at once cannot both pass the check; its
//! outcome after: `ok` and `unknown` stay (each may have been applied), one
//! that was not applied is removed. An update that only sets values (safe to
//! send again, never a repeat) is recorded by its outcome alone. SQLite in
//! WAL mode with a busy timeout lets several runs, and `tdrecon history`,
//! use one ledger at once; the writer (`writer`) shares a commit between
//! many rows, as the journal shares a sync.

mod import;
pub mod postgres;
mod runs;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Map, Value as Json};

use crate::input::update::actions_of;
use crate::records::state::{Account, earlier_key, state_dir};
pub use import::{Import, import};
pub use postgres::PgTarget;
pub use postgres::store::Imported;
pub use runs::{Outcome, RunRecord, who};
use schema::{BUSY_TIMEOUT, ledger_id, stable_plans};
pub use writer::{Ledger, Refused};

/// Where an account's ledger lives, and whether this machine kept one for
/// it before.
#[derive(Debug, Clone)]
pub struct Located {
    pub at: LedgerAt,
    pub account: Account,
    pub provenance: Provenance,
}

/// Where a ledger is: this machine's file, or a database a team shares.
#[derive(Debug, Clone)]
pub enum LedgerAt {
    File(PathBuf),
    Postgres(Box<PgTarget>),
}

impl std::fmt::Display for LedgerAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerAt::File(path) => write!(f, "{}", path.display()),
            LedgerAt::Postgres(target) => f.write_str(target.shown()),
        }
    }
}

/// Whether the ledger holds this machine's history of the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// This machine has not kept a ledger for the account before.
    New,
    /// The ledger this machine kept (or one of an earlier version).
    Kept,
    /// This machine kept a ledger for the account, and it is gone: deleted,
    /// emptied, or replaced by another. Its history is not here.
    Lost,
    /// The team's ledger on PostgreSQL (`--ledger`): every machine's runs.
    Shared,
}

/// Finds the account's ledger in the state directory: named by the
/// account's host (whatever key is used), a ledger named the earlier way
/// (by URL and `public_key`) adopted, and whether it is the one this
/// machine kept (its id, remembered beside it, says). Creates nothing but
/// what adoption moves.
pub fn locate(base_url: &str, public_key: &str, shared: Option<&PgTarget>) -> Result<Located, String> {
    if let Some(target) = shared {
        let at = LedgerAt::Postgres(Box::new(target.clone()));
        return Ok(Located { at, account: Account::of(base_url), provenance: Provenance::Shared });
    }
    let dir = state_dir("ledgers").ok_or("no state directory to keep it in (set TDRECON_STATE_DIR or HOME)")?;
    let account = Account::of(base_url);
    let path = dir.join(format!("ledger-{}.sqlite", account.key()));
    let earlier = dir.join(format!("ledger-{}.sqlite", earlier_key(base_url, public_key)));
    schema::adopt(&earlier, &path, account.as_str())?;
    let remembered = std::fs::read_to_string(id_file(&path)).ok().map(|t| t.trim().to_string());
    let present = std::fs::metadata(&path).is_ok_and(|m| m.len() > 0);
    let provenance = match (remembered, present) {
        (None, true) => Provenance::Kept,
        (None, false) => Provenance::New,
        (Some(_), false) => Provenance::Lost,
        // A ledger of schema 1 has no id yet: it is the one kept.
        (Some(id), true) => match read_id(&path) {
            Some(now) if now != id => Provenance::Lost,
            _ => Provenance::Kept,
        },
    };
    Ok(Located { at: LedgerAt::File(path), account, provenance })
}

/// Where the id of the ledger at `path` is remembered: beside it, so that a
/// ledger deleted or emptied is told from one never kept.
fn id_file(path: &Path) -> PathBuf {
    path.with_extension("id")
}

fn read_id(path: &Path) -> Option<String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).ok()?;
    conn.busy_timeout(BUSY_TIMEOUT).ok()?;
    ledger_id(&conn).ok().flatten()
}

/// A run as the ledger names it: once per run, not per row.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The run's name, kept across its resumes.
    pub run: String,
    /// The account it sends to (`Account::as_str`): a new ledger is made for it.
    pub account: String,
    /// The input, as an absolute path (`-` for standard input).
    pub file: String,
    pub input_sha256: String,
    /// Who ran it: `user@host` (`runs::who`).
    pub who: String,
}

/// One update as a run records it (the run is the ledger's).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub line: u64,
    /// The call: its numeric id, however the row named it (a UUID only when
    /// its id could not be known: a call the API does not have).
    pub call: String,
    /// The UUID the row named the call by, if it did.
    pub uuid: Option<String>,
    /// It carried its reference (`<run>-<line>`).
    pub referenced: bool,
    /// The parameters sent, as a JSON object (without the reference).
    pub changes: String,
    /// When its intent was first recorded, in ms since the epoch.
    pub at: u64,
}

/// One update as the ledger holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The run's name (kept across its resumes) and the row's line.
    pub run: String,
    pub line: u64,
    /// The call's id (a ledger of an earlier version may hold a UUID here).
    pub call: String,
    /// The UUID the row named the call by, if it did.
    pub uuid: Option<String>,
    pub reference: Option<String>,
    /// The parameters sent, as a JSON object (without the reference).
    pub changes: String,
    pub input_sha256: String,
    /// The input, as an absolute path (`-` for standard input).
    pub file: String,
    /// When its intent was first recorded, in ms since the epoch.
    pub at: u64,
    pub status: Recorded,
}

/// What became of an update, as far as the ledger knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Its intent is recorded; no outcome yet (a run stopped hard, or is
    /// sending it now): it may have been applied.
    Sent,
    Ok,
    /// Its outcome was ambiguous: it may have been applied.
    Unknown,
}

impl Recorded {
    fn as_str(self) -> &'static str {
        match self {
            Recorded::Sent => "sent",
            Recorded::Ok => "ok",
            Recorded::Unknown => "unknown",
        }
    }

    fn parse(text: &str) -> Recorded {
        match text {
            "ok" => Recorded::Ok,
            "unknown" => Recorded::Unknown,
            _ => Recorded::Sent,
        }
    }
}

/// What a repeat is judged against: the run asking (its own rows are never
/// its repeats) and how far back an earlier run counts.
#[derive(Debug, Clone)]
pub struct Check {
    pub run: String,
    pub window: Duration,
}

impl Check {
    fn since(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX))
    }
}

/// An earlier run's update that a row would repeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub earlier: Entry,
    /// The changes both carry, as `param value`.
    pub same: Vec<String>,
}

impl Repeat {
    /// How the row ends: `already_applied` when the earlier run applied the
    /// change, `unknown` when its outcome is unknown (it may have been
    /// applied: a person must look).
    pub fn status(&self) -> crate::outcome::Status {
        match self.earlier.status {
            Recorded::Ok => crate::outcome::Status::AlreadyApplied,
            Recorded::Sent | Recorded::Unknown => crate::outcome::Status::Unknown,
        }
    }

    /// Why the row is not sent, for results.csv: the earlier run's time in
    /// the report's `zone`.
    pub fn reason(&self, zone: &jiff::tz::TimeZone) -> String {
        let e = &self.earlier;
        let when = crate::text::local_time(e.at as i64, zone);
        let what = self.same.join(", ");
        let whose = format!("{} line {} (run {}, {when})", e.file, e.line, e.run);
        match e.status {
            Recorded::Ok => format!(
                "repeats an update an earlier run applied to call {}: {what}, from {whose}; \
                 --allow-repeat sends it again",
                e.call
            ),
            Recorded::Sent | Recorded::Unknown => format!(
                "repeats an update an earlier run may have applied to call {} (its outcome is unknown): {what}, \
                 from {whose}; check the call (tdrecon history {}), then --allow-repeat sends it again",
                e.call, e.call
            ),
        }
    }
}

impl Ledger {
    /// Opens (creating) the ledger `at` (a file and its directory, or the
    /// shared database's tables) for `run`, and names the run in it.
    pub fn open(at: &LedgerAt, run: RunInfo) -> Result<Ledger, String> {
        match at {
            LedgerAt::File(path) => {
                let path = path.clone();
                Ledger::spawn(at, run, move |run| writer::open_file(&path, run))
            }
            LedgerAt::Postgres(target) => {
                let target = target.clone();
                Ledger::spawn(at, run, move |run| postgres::open_store(&target, run))
            }
        }
    }
}

/// Records how `run` of `account` ended (`tdrecon history --runs`), in the
/// ledger `at`, after its writer has finished: a connection of its own.
pub fn finish_run(at: &LedgerAt, account: &str, run: &str, outcome: &Outcome) -> Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| format!("cannot record the run's end in the ledger {at}: {e}");
    let json = serde_json::to_string(outcome).map_err(|e| failed(&e))?;
    match at {
        LedgerAt::File(path) => runs::finish_in_file(path, run, &json).map_err(|e| failed(&e)),
        LedgerAt::Postgres(target) => {
            let worker = postgres::store::Worker::start(target).map_err(|e| failed(&e))?;
            let (account, run) = (account.to_string(), run.to_string());
            worker.call(move |c| postgres::store::finish_run(c, &account, &run, &json)).map_err(|e| failed(&e))
        }
    }
}

/// A ledger opened to read (`plan`, `history`, the reader's early check).
/// A ledger not yet created holds nothing.
pub struct Reader {
    from: From,
}

enum From {
    /// A file not yet created: nothing.
    Nothing,
    File {
        conn: Connection,
        /// The ledger has the `uuid` column (schema 2 on): one of schema 1
        /// is read as it is, not upgraded by a reader.
        has_uuid: bool,
        /// The ledger records when runs started and ended (schema 3 on).
        has_runs: bool,
    },
    /// The shared ledger, for one account.
    Postgres { worker: postgres::store::Worker, account: String },
}

impl Reader {
    /// Opens the ledger `at` to read `account`'s history.
    pub fn open(at: &LedgerAt, account: &Account) -> Result<Reader, String> {
        let path = match at {
            LedgerAt::File(path) => path,
            LedgerAt::Postgres(target) => {
                let worker = postgres::store::Worker::start(target)?;
                return Ok(Reader { from: From::Postgres { worker, account: account.to_string() } });
            }
        };
        if !path.exists() {
            return Ok(Reader { from: From::Nothing });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let opened = Connection::open_with_flags(path, flags)
            .and_then(|c| c.busy_timeout(BUSY_TIMEOUT).and_then(|()| stable_plans(&c)).map(|()| c))
            .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).map(|v| (c, v)));
        let (conn, version) = opened.map_err(|e| format!("cannot open the ledger {}: {e}", path.display()))?;
        Ok(Reader { from: From::File { conn, has_uuid: version >= 2, has_runs: version >= 3 } })
    }

    /// The earliest update of another run within the window that `actions`
    /// (an update's acting changes, `CallUpdate::actions`) would repeat.
    pub fn repeat(&self, call: &str, actions: &[(String, String)], check: &Check) -> Result<Option<Repeat>, String> {
        match &self.from {
            From::Nothing => Ok(None),
            From::File { conn, has_uuid, .. } => {
                find_repeat(conn, *has_uuid, call, actions, check, now_ms()).map_err(|e| format!("ledger: {e}"))
            }
            From::Postgres { worker, account } => {
                let (account, call, actions, check) =
                    (account.clone(), call.to_string(), actions.to_vec(), check.clone());
                worker.call(move |c| postgres::store::repeat(c, &account, &call, &actions, &check))
            }
        }
    }

    /// Every update of `call` (its id, or the UUID a row named it by),
    /// oldest first.
    pub fn of_call(&self, call: &str) -> Result<Vec<Entry>, String> {
        match &self.from {
            From::File { has_uuid: true, .. } => {
                self.select("WHERE u.call = ?1 OR lower(u.uuid) = lower(?1) ORDER BY u.at, u.run, u.line", call)
            }
            From::Postgres { worker, account } => {
                let (account, call) = (account.clone(), call.to_string());
                worker.call(move |c| postgres::store::of_call(c, &account, &call))
            }
            _ => self.select("WHERE u.call = ?1 ORDER BY u.at, u.run, u.line", call),
        }
    }

    /// Every update recorded at or after `since` (ms), oldest first.
    pub fn since(&self, since: i64) -> Result<Vec<Entry>, String> {
        if let From::Postgres { worker, account } = &self.from {
            let account = account.clone();
            return worker.call(move |c| postgres::store::since(c, &account, since));
        }
        self.select("WHERE u.at >= ?1 ORDER BY u.at, u.run, u.line", since)
    }

    /// Every run that started at or after `since` (ms), oldest first.
    pub fn runs(&self, since: Option<i64>) -> Result<Vec<RunRecord>, String> {
        match &self.from {
            From::Nothing => Ok(Vec::new()),
            From::File { conn, has_runs, .. } => runs::runs_in_file(conn, *has_runs, since),
            From::Postgres { worker, account } => {
                let account = account.clone();
                worker.call(move |c| postgres::store::runs(c, &account, since))
            }
        }
    }

    fn select(&self, tail: &str, arg: impl rusqlite::ToSql) -> Result<Vec<Entry>, String> {
        let From::File { conn, has_uuid, .. } = &self.from else { return Ok(Vec::new()) };
        let run = || -> rusqlite::Result<Vec<Entry>> {
            let mut stmt = conn.prepare(&format!("SELECT {} {tail}", columns(*has_uuid)))?;
            stmt.query_map([arg], entry_of)?.collect()
        };
        run().map_err(|e| format!("cannot read the ledger: {e}"))
    }
}

/// The columns an `Entry` is read from (a ledger of schema 1 has no UUIDs).
fn columns(has_uuid: bool) -> String {
    let uuid = if has_uuid { "u.uuid" } else { "NULL" };
    format!(
        "u.run, u.line, u.call, u.referenced, u.changes, r.input_sha256, r.file, u.at, u.status, {uuid} \
         FROM updates u JOIN runs r ON r.run = u.run"
    )
}

fn entry_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let (run, line): (String, u64) = (row.get(0)?, row.get::<_, i64>(1)? as u64);
    Ok(Entry {
        uuid: row.get(9)?,
        reference: row.get::<_, bool>(3)?.then(|| format!("{run}-{line}")),
        run,
        line,
        call: row.get(2)?,
        changes: row.get(4)?,
        input_sha256: row.get(5)?,
        file: row.get(6)?,
        at: row.get::<_, i64>(7)? as u64,
        status: Recorded::parse(&row.get::<_, String>(8)?),
    })
}

/// See `Reader::repeat`; the writer runs it inside the transaction that
/// records the intent.
fn find_repeat(
    conn: &Connection,
    has_uuid: bool,
    call: &str,
    actions: &[(String, String)],
    check: &Check,
    now_ms: u64,
) -> rusqlite::Result<Option<Repeat>> {
    if actions.is_empty() {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} WHERE u.call = ?1 AND u.at >= ?2 AND u.run <> ?3 ORDER BY u.at, u.run, u.line",
        columns(has_uuid)
    ))?;
    let rows = stmt.query_map(params![call, check.since(now_ms) as i64, check.run], entry_of)?;
    for earlier in rows {
        let earlier = earlier?;
        let same = same_actions(&earlier.changes, actions);
        if !same.is_empty() {
            return Ok(Some(Repeat { earlier, same }));
        }
    }
    Ok(None)
}

/// The acting changes an earlier update (its `changes` JSON) shares with
/// `actions`, as `param value`.
fn same_actions(changes: &str, actions: &[(String, String)]) -> Vec<String> {
    let Ok(body) = serde_json::from_str::<Map<String, Json>>(changes) else { return Vec::new() };
    let earlier = actions_of(&body);
    actions.iter().filter(|a| earlier.contains(a)).map(|(param, value)| format!("{param} {value}")).collect()
}

fn record(conn: &Connection, run: &str, update: &Update, status: Recorded) -> rusqlite::Result<()> {
    // A resumed run records a row's intent again: its first time stays.
    conn.prepare_cached(
        "INSERT INTO updates (run, line, call, referenced, changes, at, status, uuid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (run, line) DO UPDATE SET
             call = excluded.call, referenced = excluded.referenced, changes = excluded.changes,
             status = excluded.status, uuid = excluded.uuid",
    )?
    .execute(params![
        run,
        update.line as i64,
        update.call,
        update.referenced,
        update.changes,
        update.at as i64,
        status.as_str(),
        update.uuid
    ])?;
    Ok(())
}

/// Records what became of an update: the whole `update` when given (its
/// intent may be missing: it is recorded anyway, its first time kept), else
/// the status of its intent.
fn settle(conn: &Connection, run: &str, line: u64, status: Recorded, update: Option<&Update>) -> rusqlite::Result<()> {
    if let Some(update) = update {
        return record(conn, run, update, status);
    }
    conn.prepare_cached("UPDATE updates SET status = ?3 WHERE run = ?1 AND line = ?2")?.execute(params![
        run,
        line as i64,
        status.as_str()
    ])?;
    Ok(())
}

fn forget(conn: &Connection, run: &str, line: u64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM updates WHERE run = ?1 AND line = ?2")?.execute(params![run, line as i64])?;
    Ok(())
}

/// Milliseconds since the Unix epoch, by this machine's clock (the ledger
/// compares its own times only).
fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
