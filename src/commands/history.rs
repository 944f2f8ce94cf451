//! `tdrecon history CALL`, `tdrecon history --since TIME` and `tdrecon
//! history --runs`: what the account's ledger (`records::ledger`) holds, as
//! CSV on stdout: each update (when its intent was recorded, what became of
//! it, the call, the changes, and the file, line and run it came from), or
//! each run (when and by whom, the file, rows by status, money, the exit
//! code). Read-only; it sends nothing.

use anyhow::anyhow;
use serde_json::{Map, Value};

use crate::exit::{Exit, Fatal};
use crate::records::ledger::{self, Entry, Reader, Recorded, RunRecord};
use crate::trackdrive::credentials::Credentials;

#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub base_url: String,
    pub credentials: Credentials,
    /// One call (as the rows named it), or every update since a time (ms).
    pub call: Option<String>,
    pub since: Option<i64>,
    /// List runs, not updates.
    pub runs: bool,
    /// The team's shared ledger, if the runs kept one.
    pub ledger: Option<ledger::PgTarget>,
}

pub fn run(opts: HistoryOptions) -> Result<Exit, Fatal> {
    let located = ledger::locate(&opts.base_url, &opts.credentials.public, opts.ledger.as_ref())
        .map_err(|e| Fatal::usage(anyhow!(e)))?;
    let path = &located.at;
    if located.provenance == ledger::Provenance::Lost {
        crate::console::warn(&format!(
            "warning: the ledger this machine kept for {} is gone (deleted or emptied): {} holds only what was \
             sent since; TrackDrive's audit log holds every update",
            located.account, path
        ));
    }
    let reader = Reader::open(path, &located.account).map_err(|e| Fatal::usage(anyhow!(e)))?;
    if opts.runs {
        let runs = reader.runs(opts.since).map_err(|e| Fatal::usage(anyhow!(e)))?;
        let zone = jiff::tz::TimeZone::system();
        crate::console::out(&render_runs(&runs, &zone).map_err(|e| Fatal::aborted(anyhow!(e)))?);
        if runs.is_empty() {
            crate::console::warn(&format!("the ledger {path} holds no run in that time"));
        }
        return Ok(Exit::Ok);
    }
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
        crate::console::warn(&format!("the ledger {path} holds no update {what}"));
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

const RUN_HEADER: [&str; 14] = [
    "started",
    "finished",
    "who",
    "run",
    "file",
    "input_sha256",
    "exit",
    "rows",
    "revenue_added",
    "payout_added",
    "revenue_set",
    "payout_set",
    "revenue_moved",
    "payout_moved",
];

/// The runs as CSV, one per run, times in `zone` with their offset (a run
/// that recorded no end has no `finished` and no `exit`).
fn render_runs(runs: &[RunRecord], zone: &jiff::tz::TimeZone) -> Result<String, csv::Error> {
    let time = |ms: Option<i64>| {
        ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
            .unwrap_or_default()
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(RUN_HEADER)?;
    for r in runs {
        let o = r.outcome.as_ref();
        let rows = o.map(|o| {
            let mut parts: Vec<String> = o.statuses.iter().map(|(s, n)| format!("{s}={n}")).collect();
            if o.invalid > 0 {
                parts.push(format!("invalid={}", o.invalid));
            }
            parts.join(" ")
        });
        let money = |pick: fn(&ledger::Outcome) -> &String| o.map(pick).cloned().unwrap_or_default();
        w.write_record([
            time(r.started),
            time(r.finished),
            r.who.clone().unwrap_or_default(),
            r.run.clone(),
            r.file.clone(),
            r.input_sha256.clone(),
            o.map(|o| o.exit.to_string()).unwrap_or_default(),
            rows.unwrap_or_default(),
            money(|o| &o.revenue_added),
            money(|o| &o.payout_added),
            money(|o| &o.revenue_set),
            money(|o| &o.payout_set),
            money(|o| &o.revenue_moved),
            money(|o| &o.payout_moved),
        ])?;
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
    fn runs_render_as_csv_in_the_zone_given() {
        let done = RunRecord {
            run: "tdr-1".into(),
            file: "/r/night.csv".into(),
            input_sha256: "ab".into(),
            started: Some(1_764_547_200_000),
            finished: Some(1_764_547_260_000),
            who: Some("ana@night".into()),
            outcome: Some(ledger::Outcome {
                exit: 1,
                statuses: [("already_applied".to_string(), 2), ("ok".to_string(), 8)].into_iter().collect(),
                invalid: 1,
                revenue_added: "-200.00".into(),
                payout_added: "0".into(),
                revenue_set: "0".into(),
                payout_set: "0".into(),
                revenue_moved: "0".into(),
                payout_moved: "0".into(),
            }),
        };
        let killed = RunRecord { run: "tdr-2".into(), finished: None, outcome: None, ..done.clone() };
        let chicago = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let text = render_runs(&[done, killed], &chicago).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "2025-11-30T18:00:00-06:00,2025-11-30T18:01:00-06:00,ana@night,tdr-1,/r/night.csv,ab,1,\
             already_applied=2 ok=8 invalid=1,-200.00,0,0,0,0,0"
        );
        assert_eq!(lines[2], "2025-11-30T18:00:00-06:00,,ana@night,tdr-2,/r/night.csv,ab,,,,,,,,");
    }

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
