//! What the ledger keeps of each run as a whole (`tdrecon history --runs`):
//! when it started (its first start: a resume keeps the run's name) and
//! when it last ended, who ran it, the file and its digest, and what it did
//! (`Outcome`: rows by status, money, the exit code). A run that never
//! recorded its end (killed, or stopped before its summary) shows none.

use std::path::Path;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::schema::BUSY_TIMEOUT;
use super::{RunInfo, now_ms};

/// What a run did, as its summary said it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The process's exit code.
    pub exit: i32,
    /// Rows by their status in results.csv (`ok`, `already_applied`, …),
    /// and the rows refused before sending (errors.csv).
    pub statuses: BTreeMap<String, u64>,
    pub invalid: u64,
    /// Money the applied rows sent (added, and set where the call was not
    /// read), and moved (where it was read, before and after), as decimals.
    pub revenue_added: String,
    pub payout_added: String,
    pub revenue_set: String,
    pub payout_set: String,
    pub revenue_moved: String,
    pub payout_moved: String,
}

/// A run as the ledger holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run: String,
    pub file: String,
    pub input_sha256: String,
    /// When it first started (ms; a run recorded by an earlier version: its
    /// first update's time), and when it last ended (`None`: it did not
    /// record an end).
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub who: Option<String>,
    pub outcome: Option<Outcome>,
}

/// Who runs this process: `user@host`, from the environment and the
/// kernel's host name (a part that cannot be read is `?`).
pub fn who() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .or_else(user_of_process)
        .unwrap_or_else(|| "?".into());
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()))
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "?".into());
    format!("{}@{host}", user.trim())
}

/// The name of the user this process runs as (cron sets no `USER`): the
/// owner of `/proc/self`, looked up in `/etc/passwd`, else `uid N`.
fn user_of_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

/// Names the run: its first start is kept, its file and who ran it are the
/// latest's.
pub(super) fn register(conn: &Connection, info: &RunInfo) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO runs (run, file, input_sha256, started, who) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (run) DO UPDATE SET file = excluded.file, input_sha256 = excluded.input_sha256,
             who = excluded.who, started = coalesce(runs.started, excluded.started)",
        params![info.run, info.file, info.input_sha256, now_ms() as i64, info.who],
    )?;
    Ok(())
}

/// Records how `run` ended in the ledger file at `path` (after its writer
/// has finished: a connection of its own).
pub(super) fn finish_in_file(path: &Path, run: &str, json: &str) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute("UPDATE runs SET finished = ?2, outcome = ?3 WHERE run = ?1", params![run, now_ms() as i64, json])?;
    Ok(())
}

/// Every run of a ledger file (`has_runs`: schema 3 on) that started at or
/// after `since` (ms), oldest first.
pub(super) fn runs_in_file(conn: &Connection, has_runs: bool, since: Option<i64>) -> Result<Vec<RunRecord>, String> {
    let extra = if has_runs {
        "r.started AS started, r.who AS who, r.finished AS finished, r.outcome AS outcome"
    } else {
        "NULL AS started, NULL AS who, NULL AS finished, NULL AS outcome"
    };
    let sql = format!(
        "SELECT run, file, input_sha256, coalesce(started, first), who, finished, outcome FROM (
             SELECT r.run AS run, r.file AS file, r.input_sha256 AS input_sha256,
                 (SELECT min(u.at) FROM updates u WHERE u.run = r.run) AS first, {extra}
             FROM runs r)
         WHERE coalesce(started, first, 0) >= ?1 ORDER BY coalesce(started, first), run"
    );
    let read = || -> rusqlite::Result<Vec<RunRecord>> {
        let mut stmt = conn.prepare(&sql)?;
        stmt.query_map([since.unwrap_or(i64::MIN)], |row| {
            let outcome: Option<String> = row.get(6)?;
            Ok(RunRecord {
                run: row.get(0)?,
                file: row.get(1)?,
                input_sha256: row.get(2)?,
                started: row.get(3)?,
                who: row.get(4)?,
                finished: row.get(5)?,
                outcome: outcome.and_then(|j| serde_json::from_str(&j).ok()),
            })
        })?
        .collect()
    };
    read().map_err(|e| format!("cannot read the ledger's runs: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_has_a_user_without_the_environment() {
        let user = super::user_of_process().expect("a /proc/self");
        assert!(!user.is_empty() && !user.contains(':') && !user.contains('\n'), "{user:?}");
        assert!(super::who().contains('@'));
    }
}
