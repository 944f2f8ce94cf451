//! What a run did so that nothing it sent is applied twice across runs and
//! machines: the calls it read to know the id of a call a row named by
//! UUID, the audit logs it read before rows that act (and the rows they
//! refused), and whether the ledger held this machine's history. Said in
//! the summary and its JSON.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::records::ledger::Provenance;
use crate::text::count;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct NeverTwice {
    /// Reads of calls named by UUID, to key them by id.
    pub ids_read: u64,
    /// Rows that act whose call's audit log was read before they were sent,
    /// and of those, the rows refused because it showed the same change.
    pub log_checks: u64,
    pub log_refused: u64,
    /// The account's ledger, and whether it held this machine's history.
    pub ledger: Option<(PathBuf, String, Provenance)>,
}

impl NeverTwice {
    /// The summary's lines, if there is anything to say.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut did = Vec::new();
        if self.log_checks > 0 {
            did.push(format!(
                "{} checked against {} audit log before it was sent ({} refused by the log)",
                count(self.log_checks, "row that acts", "rows that act"),
                if self.log_checks == 1 { "its call's" } else { "their calls'" },
                self.log_refused
            ));
        }
        if self.ids_read > 0 {
            did.push(format!("{} read to key rows named by UUID by id", count(self.ids_read, "call", "calls")));
        }
        if !did.is_empty() {
            out.push_str(&format!("never twice: {}\n", did.join("; ")));
        }
        if let Some((path, _, Provenance::Shared)) = &self.ledger {
            out.push_str(&format!("ledger: the team's, {} (every machine's runs)\n", path.display()));
        }
        if let Some((path, account, Provenance::Lost)) = &self.ledger {
            out.push_str(&format!(
                "LEDGER LOST: the ledger was started fresh (the one this machine kept for {account} is gone: \
                 deleted, emptied or replaced; now {}); adds were checked against TrackDrive's audit log\n",
                path.display()
            ));
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let ledger = self.ledger.as_ref().map(|(path, account, provenance)| {
            let state = match provenance {
                Provenance::New => "new",
                Provenance::Kept => "kept",
                Provenance::Lost => "lost",
                Provenance::Shared => "shared",
            };
            json!({"path": path.display().to_string(), "account": account, "state": state})
        });
        json!({
            "ids_read": self.ids_read,
            "log_checks": self.log_checks,
            "log_refused": self.log_refused,
            "ledger": ledger,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_it_did_and_a_lost_ledger() {
        assert_eq!(NeverTwice::default().render(), "");
        let said = NeverTwice {
            ids_read: 2,
            log_checks: 40,
            log_refused: 3,
            ledger: Some(("/s/ledger-x.sqlite".into(), "https://acme.trackdrive.com:443".into(), Provenance::Lost)),
        };
        let text = said.render();
        assert!(text.starts_with("never twice: 40 rows that act checked against their calls' audit log"), "{text}");
        assert!(text.contains("3 refused") && text.contains("2 calls read"), "{text}");
        assert!(text.contains("the ledger was started fresh") && text.contains("adds were checked against"), "{text}");
        assert_eq!(said.to_json()["ledger"]["state"], "lost");
    }
}
