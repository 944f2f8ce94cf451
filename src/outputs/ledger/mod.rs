//! The ledger: every update tdrecon sent to an account, across runs, in an
//! SQLite database in the state directory (`outputs::state`), one per
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

mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Map, Value as Json};

use crate::input::update::actions_of;
use crate::outputs::state::{account_key, state_dir};
pub use writer::{Ledger, Refused};

/// How long a run waits for another run's transaction to end.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// The schema's version (`PRAGMA user_version`).
const VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    run TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    input_sha256 TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS updates (
    run TEXT NOT NULL,
    line INTEGER NOT NULL,
    call TEXT NOT NULL,
    referenced INTEGER NOT NULL,
    changes TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (run, line)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS updates_call ON updates (call, at);
";

/// Where an account's ledger lives, if there is a state directory.
pub fn path_for(base_url: &str, public_key: &str) -> Option<PathBuf> {
    Some(state_dir("ledgers")?.join(format!("ledger-{}.sqlite", account_key(base_url, public_key))))
}

/// A run as the ledger names it: once per run, not per row.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The run's name, kept across its resumes.
    pub run: String,
    /// The input, as an absolute path (`-` for standard input).
    pub file: String,
    pub input_sha256: String,
}

/// One update as a run records it (the run is the ledger's).
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub line: u64,
    /// The call as the row named it (an id or a UUID).
    pub call: String,
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
    /// The call as the row named it (an id or a UUID).
    pub call: String,
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
    /// Why the row is refused, for errors.csv or results.csv.
    pub fn reason(&self) -> String {
        let e = &self.earlier;
        let when = jiff::Timestamp::from_millisecond(e.at as i64).map(|t| t.to_string()).unwrap_or_default();
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

/// Keeps each statement's plan: the bundled SQLite is built with STAT4,
/// under which a new value bound to an indexed column's parameter may
/// recompile the statement on its next step (a profile showed the parser
/// run for every row's lookup).
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map(|_| ())
}

/// Opens (creating) a ledger with its schema, for writing.
fn open_rw(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    stable_plans(&conn)?;
    // WAL: readers never block the writer, and one run's commit does not
    // wait for another's readers (it persists: set once, by whoever opens
    // the ledger first). FULL: a commit is on disk before its intents are
    // answered, so a power cut cannot forget an add that went out (the
    // journal covers this file's resume, but a copy sent later relies on
    // the ledger). A commit is shared by the intents of 2 ms; one of
    // outcomes alone is NORMAL (the writer sets it per commit).
    until_free(|| {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
        }
        Ok(())
    })?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let version: i64 = until_free(|| conn.pragma_query_value(None, "user_version", |r| r.get(0)))?;
    if version > VERSION {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the ledger {} was written by a newer tdrecon (schema {version})",
            path.display()
        )));
    }
    // In a transaction taken before it reads (the busy timeout applies):
    // two runs creating one ledger at once take turns.
    until_free(|| {
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {VERSION}; COMMIT;")).inspect_err(
            |_| {
                let _ = conn.execute_batch("ROLLBACK");
            },
        )
    })?;
    Ok(conn)
}

/// Runs `step` again while another connection holds the lock it needs: a
/// journal-mode change and a schema read answer "locked" at once, without
/// the busy timeout (two runs opening a new ledger together met it).
fn until_free<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// A ledger opened to read (`plan`, `history`, the reader's early check).
/// A ledger not yet created holds nothing.
pub struct Reader {
    conn: Option<Connection>,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, String> {
        if !path.exists() {
            return Ok(Reader { conn: None });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)
            .and_then(|c| c.busy_timeout(BUSY_TIMEOUT).and_then(|()| stable_plans(&c)).map(|()| c))
            .map_err(|e| format!("cannot open the ledger {}: {e}", path.display()))?;
        Ok(Reader { conn: Some(conn) })
    }

    /// The earliest update of another run within the window that `actions`
    /// (an update's acting changes, `CallUpdate::actions`) would repeat.
    pub fn repeat(&self, call: &str, actions: &[(String, String)], check: &Check) -> Result<Option<Repeat>, String> {
        let Some(conn) = &self.conn else { return Ok(None) };
        find_repeat(conn, call, actions, check, now_ms()).map_err(|e| format!("ledger: {e}"))
    }

    /// Every update of `call`, oldest first.
    pub fn of_call(&self, call: &str) -> Result<Vec<Entry>, String> {
        self.select("WHERE u.call = ?1 ORDER BY u.at, u.run, u.line", call)
    }

    /// Every update recorded at or after `since` (ms), oldest first.
    pub fn since(&self, since: i64) -> Result<Vec<Entry>, String> {
        self.select("WHERE u.at >= ?1 ORDER BY u.at, u.run, u.line", since)
    }

    fn select(&self, tail: &str, arg: impl rusqlite::ToSql) -> Result<Vec<Entry>, String> {
        let Some(conn) = &self.conn else { return Ok(Vec::new()) };
        let run = || -> rusqlite::Result<Vec<Entry>> {
            let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} {tail}"))?;
            stmt.query_map([arg], entry_of)?.collect()
        };
        run().map_err(|e| format!("cannot read the ledger: {e}"))
    }
}

const COLUMNS: &str = "u.run, u.line, u.call, u.referenced, u.changes, r.input_sha256, r.file, u.at, u.status \
                       FROM updates u JOIN runs r ON r.run = u.run";

fn entry_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let (run, line): (String, u64) = (row.get(0)?, row.get::<_, i64>(1)? as u64);
    Ok(Entry {
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
    call: &str,
    actions: &[(String, String)],
    check: &Check,
    now_ms: u64,
) -> rusqlite::Result<Option<Repeat>> {
    if actions.is_empty() {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} WHERE u.call = ?1 AND u.at >= ?2 AND u.run <> ?3 ORDER BY u.at, u.run, u.line"
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
        "INSERT INTO updates (run, line, call, referenced, changes, at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (run, line) DO UPDATE SET
             call = excluded.call, referenced = excluded.referenced, changes = excluded.changes,
             status = excluded.status",
    )?
    .execute(params![
        run,
        update.line as i64,
        update.call,
        update.referenced,
        update.changes,
        update.at as i64,
        status.as_str()
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

/// Names the run, once.
fn register(conn: &Connection, info: &RunInfo) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO runs (run, file, input_sha256) VALUES (?1, ?2, ?3)
         ON CONFLICT (run) DO UPDATE SET file = excluded.file, input_sha256 = excluded.input_sha256",
        params![info.run, info.file, info.input_sha256],
    )?;
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
