//! The ledger's schema and how a ledger file is opened: ordered migrations
//! (the version in `PRAGMA user_version`), applied in one `BEGIN IMMEDIATE`
//! transaction so two runs opening a ledger at once take turns; the
//! ledger's identity (`meta`: the account it is for and a random id, which
//! tells a ledger this machine kept from one started fresh); and the
//! adoption of a ledger named the earlier way (by URL and API key).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::records::state::with_suffix;

/// How long a run waits for another run's transaction to end.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Each version's step from the one before, in order: the schema's version
/// is how many have been applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: updates by run and line, runs named once.
    "CREATE TABLE IF NOT EXISTS runs (
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
    CREATE INDEX IF NOT EXISTS updates_call ON updates (call, at);",
    // 2: the ledger's identity, and the UUID a row named its call by (the
    // call itself is always its numeric id from now on).
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    ALTER TABLE updates ADD COLUMN uuid TEXT;",
    // 3: what each run was: when it started and finished, who ran it
    // (user@host), and what it did (a JSON object: `runs::Outcome`).
    "ALTER TABLE runs ADD COLUMN started INTEGER;
    ALTER TABLE runs ADD COLUMN who TEXT;
    ALTER TABLE runs ADD COLUMN finished INTEGER;
    ALTER TABLE runs ADD COLUMN outcome TEXT;",
];

/// The schema's version once every migration is applied.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Keeps each statement's plan: the bundled SQLite is built with STAT4,
/// under which a new value bound to an indexed column's parameter may
/// recompile the statement on its next step (a profile showed the parser
/// run for every row's lookup).
pub(super) fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map(|_| ())
}

/// Opens (creating) a ledger for writing, its schema brought up to date
/// and its identity set (`account`, for a new ledger).
pub(super) fn open_rw(path: &Path, account: &str) -> rusqlite::Result<Connection> {
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
    // In a transaction taken before it reads (the busy timeout applies):
    // two runs upgrading one ledger at once take turns, and the second
    // finds the first's work done.
    until_free(|| {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let migrated = migrate(&conn, path, account);
        conn.execute_batch(if migrated.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        migrated
    })?;
    Ok(conn)
}

/// Applies the migrations this ledger lacks and sets its identity; inside
/// the caller's transaction.
fn migrate(conn: &Connection, path: &Path, account: &str) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > VERSION {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the ledger {} was written by a newer tdrecon (schema {version})",
            path.display()
        )));
    }
    for step in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        conn.execute_batch(step)?;
    }
    conn.pragma_update(None, "user_version", VERSION)?;
    let id = format!("{:016x}", crate::splitmix::splitmix64(now_nanos() ^ u64::from(std::process::id())));
    let created = now_nanos() / 1_000_000;
    for (key, value) in [("id", id), ("account", account.to_string()), ("created_ms", created.to_string())] {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            params![key, value],
        )?;
    }
    Ok(())
}

fn now_nanos() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

/// The random id a ledger was given when it was made (`None`: a ledger of
/// schema 1 not opened since, or no ledger).
pub(super) fn ledger_id(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let has_meta: bool = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |_| Ok(true))
        .optional()?
        .unwrap_or(false);
    if !has_meta {
        return Ok(None);
    }
    conn.query_row("SELECT value FROM meta WHERE key = 'id'", [], |r| r.get(0)).optional()
}

/// Runs `step` again while another connection holds the lock it needs: a
/// journal-mode change and a schema read answer "locked" at once, without
/// the busy timeout (two runs opening a new ledger together met it).
pub(super) fn until_free<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
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

/// The files of an SQLite database besides the database itself.
const SIBLINGS: [&str; 2] = ["-wal", "-shm"];

/// Brings the history of a ledger named the earlier way (`earlier`) into
/// the account's (`current`): moved when the account has none yet, else
/// copied in (what both hold is kept once) and the earlier file set aside
/// as `…merged`. `Ok(true)` when there was one to adopt.
pub(super) fn adopt(earlier: &Path, current: &Path, account: &str) -> Result<bool, String> {
    let failed = |e: &dyn std::fmt::Display| format!("cannot adopt the ledger {}: {e}", earlier.display());
    if earlier == current || !earlier.exists() {
        return Ok(false);
    }
    if crate::records::state::adopt(earlier, current, &SIBLINGS).map_err(|e| failed(&e))? {
        return Ok(true);
    }
    let conn = open_rw(current, account).map_err(|e| failed(&e))?;
    let merged = (|| -> rusqlite::Result<()> {
        conn.execute("ATTACH DATABASE ?1 AS earlier", [earlier.display().to_string()])?;
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO runs (run, file, input_sha256) SELECT run, file, input_sha256 FROM earlier.runs
                 WHERE true ON CONFLICT (run) DO NOTHING;
             INSERT INTO updates (run, line, call, referenced, changes, at, status)
                 SELECT run, line, call, referenced, changes, at, status FROM earlier.updates
                 WHERE true ON CONFLICT (run, line) DO NOTHING;
             COMMIT;",
        )?;
        conn.execute_batch("DETACH DATABASE earlier")
    })();
    if let Err(e) = merged {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(failed(&e));
    }
    drop(conn);
    let aside = with_suffix(earlier, ".merged");
    for suffix in SIBLINGS {
        let from = with_suffix(earlier, suffix);
        if from.exists() {
            std::fs::rename(&from, with_suffix(&aside, suffix)).map_err(|e| failed(&e))?;
        }
    }
    std::fs::rename(earlier, &aside).map_err(|e| failed(&e))?;
    Ok(true)
}
