//! `tdrecon history CALL` and `tdrecon history --since TIME`: what the
//! account's ledger (`records::ledger`) holds, as CSV on stdout: when each
//! update's intent was recorded, what became of it, the call, the changes,
//! and the file, line and run it came from. Read-only; it sends nothing.

use anyhow::anyhow;
use serde_json::{Map, Value};

use crate::exit::{Exit, Fatal};
use crate::records::ledger::{self, Entry, Reader, Recorded};
use crate::trackdrive::credentials::Credentials;

#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub base_url: String,
    pub credentials: Credentials,
    /// One call (as the rows named it), or every update since a time (ms).
    pub call: Option<String>,
    pub since: Option<i64>,
}

pub fn run(opts: HistoryOptions) -> Result<Exit, Fatal> {
    let located = ledger::locate(&opts.base_url, &opts.credentials.public).map_err(|e| Fatal::usage(anyhow!(e)))?;
    let path = located.path;
    if located.provenance == ledger::Provenance::Lost {
        crate::console::warn(&format!(
            "warning: the ledger this machine kept for {} is gone (deleted or emptied): {} holds only what was \
             sent since; TrackDrive's audit log holds every update",
            located.account,
            path.display()
        ));
    }
    let reader = Reader::open(&path).map_err(|e| Fatal::usage(anyhow!(e)))?;
    let entries = match (&opts.call, opts.since) {
        (Some(call), since) => {
            let mut all = reader.of_call(call).map_err(|e| Fatal::usage(anyhow!(e)))?;
            all.retain(|e| since.is_none_or(|s| e.at as i64 >= s));
            all
        }
        (None, Some(since)) => reader.since(since).map_err(|e| Fatal::usage(anyhow!(e)))?,
        (None, None) => return Err(Fatal::usage(anyhow!("say what to show: a call id, or --since TIME"))),
    };
    crate::console::out(&render(&entries).map_err(|e| Fatal::aborted(anyhow!(e)))?);
    if entries.is_empty() {
        let what = opts.call.as_deref().map_or("in that time".to_string(), |c| format!("for call {c}"));
        crate::console::warn(&format!("the ledger {} holds no update {what}", path.display()));
    }
    Ok(Exit::Ok)
}

const HEADER: [&str; 9] = ["at", "status", "call", "uuid", "changes", "file", "line", "run", "reference"];

/// The entries as CSV, one per update.
fn render(entries: &[Entry]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for e in entries {
        let at = jiff::Timestamp::from_millisecond(e.at as i64).map(|t| t.to_string()).unwrap_or_default();
        let status = match e.status {
            Recorded::Ok => "ok",
            Recorded::Unknown => "unknown",
            Recorded::Sent => "sent, no outcome recorded",
        };
        let line = e.line.to_string();
        let reference = e.reference.as_deref().unwrap_or("");
        let uuid = e.uuid.as_deref().unwrap_or("");
        w.write_record([&at, status, &e.call, uuid, &changes(&e.changes), &e.file, &line, &e.run, reference])?;
    }
    Ok(String::from_utf8_lossy(&w.into_inner().map_err(|e| e.into_error())?).into_owned())
}

/// `add_revenue=-25.00 buyer_converted=false`: a body in words.
fn changes(json: &str) -> String {
    let Ok(body) = serde_json::from_str::<Map<String, Value>>(json) else { return json.to_string() };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    body.iter().map(|(k, v)| format!("{k}={}", text(v))).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_render_as_csv() {
        let e = Entry {
            run: "tdr-1".into(),
            line: 3,
            call: "7".into(),
            uuid: Some("c3b20b12-3b3b-4322-b15d-0f1c5f653479".into()),
            reference: Some("tdr-1-3".into()),
            changes: r#"{"add_revenue":"-25.00","buyer_converted":false}"#.into(),
            input_sha256: "x".into(),
            file: "/r/night.csv".into(),
            at: 1_764_547_200_000,
            status: Recorded::Sent,
        };
        let text = render(&[e]).unwrap();
        assert_eq!(
            text,
            "at,status,call,uuid,changes,file,line,run,reference\n\
             2025-12-01T00:00:00Z,\"sent, no outcome recorded\",7,c3b20b12-3b3b-4322-b15d-0f1c5f653479,\
             add_revenue=-25.00 buyer_converted=false,/r/night.csv,3,tdr-1,tdr-1-3\n"
        );
    }
}
