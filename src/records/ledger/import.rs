//! `tdrecon ledger import`: this machine's SQLite ledgers copied into a
//! team's shared one, every account's under its own name, in one
//! transaction per ledger. What the shared ledger holds already (the same
//! account, run and line) is left as it is, so an import made twice, or
//! after a run through the shared ledger, copies nothing twice.

use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::postgres::store::{self, Imported, Worker};
use super::{From, PgTarget, Reader};
use crate::records::state::state_dir;

/// One ledger file's import.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub file: PathBuf,
    /// The account it is for (`None`: a ledger of schema 1, which does not
    /// say, is left out).
    pub account: Option<String>,
    pub copied: Imported,
}

/// Imports every ledger in this machine's state directory into `target`.
pub fn import(target: &PgTarget) -> Result<Vec<Import>, String> {
    let dir = state_dir("ledgers").ok_or("no state directory (set TDRECON_STATE_DIR or HOME)")?;
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sqlite"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    files.sort();
    let worker = Worker::start(target)?;
    let mut done = Vec::new();
    for file in files {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot import {}: {e}", file.display());
        let Some(account) = account_of(&file).map_err(|e| cannot(&e))? else {
            done.push(Import { file, account: None, copied: Imported::default() });
            continue;
        };
        let reader = Reader::open(&super::LedgerAt::File(file.clone()), &crate::records::state::Account::of(&account))
            .map_err(|e| cannot(&e))?;
        if !matches!(reader.from, From::File { .. }) {
            continue;
        }
        let runs = reader.runs(None).map_err(|e| cannot(&e))?;
        let entries = reader.since(i64::MIN).map_err(|e| cannot(&e))?;
        let named = account.clone();
        let copied = worker.call(move |c| store::import(c, &named, &runs, &entries)).map_err(|e| cannot(&e))?;
        done.push(Import { file, account: Some(account), copied });
    }
    Ok(done)
}

/// The account a ledger file names in its `meta` (schema 2 on).
fn account_of(path: &std::path::Path) -> rusqlite::Result<Option<String>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(super::schema::BUSY_TIMEOUT)?;
    let has_meta = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |_| Ok(()))
        .optional()?
        .is_some();
    if !has_meta {
        return Ok(None);
    }
    conn.query_row("SELECT value FROM meta WHERE key = 'account'", [], |r| r.get(0)).optional()
}
