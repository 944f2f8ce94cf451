//! `tdrecon ledger import --ledger postgres://…`: this machine's ledgers
//! copied into a team's shared one (`records::ledger::import`), said file
//! by file. Sends nothing to TrackDrive.

use anyhow::anyhow;

use crate::exit::{Exit, Fatal};
use crate::records::ledger::{self, PgTarget};

pub fn import(target: &PgTarget) -> Result<Exit, Fatal> {
    let done = ledger::import(target).map_err(|e| Fatal::aborted(anyhow!(e)))?;
    if done.is_empty() {
        crate::console::warn("this machine keeps no ledger to import (nothing in its state directory)");
    }
    for one in &done {
        let c = one.copied;
        crate::console::out(&match &one.account {
            Some(account) => format!(
                "{}: {account}: {} runs and {} updates copied into {}, {} updates it held already\n",
                one.file.display(),
                c.runs,
                c.updates,
                target.shown(),
                c.already
            ),
            None => format!(
                "{}: left out: a ledger of an earlier version that does not say its account (run tdrecon once \
                 against the account to upgrade it, then import again)\n",
                one.file.display()
            ),
        });
    }
    Ok(Exit::Ok)
}
