//! `results.csv`: one line per row that reached the uploader, written as
//! outcomes arrive (so in completion order; `line` ties each to the input),
//! with the call's values before and after for every field the row touches.

use std::io::Write;

use crate::input::update::CallUpdate;
use crate::outputs::errors::{neutralise, neutralise_owned};
use crate::outputs::outcome::RowOutcome;
use crate::reconcile::Snapshot;

/// The fields whose before and after values are reported.
pub const REPORTED: [&str; 9] = [
    "revenue",
    "payout",
    "buyer_converted",
    "offer_converted",
    "call_disposition_id",
    "agent_call_disposition_notes",
    "trackdrive_buyer_id",
    "trackdrive_traffic_source_id",
    "post_call_tokens",
];

/// Columns before the before/after pairs.
const LEADING: [&str; 7] = ["line", "id", "status", "http_status", "attempts", "latency_ms", "error"];

pub fn header() -> Vec<String> {
    let mut h: Vec<String> = LEADING.iter().map(|s| s.to_string()).collect();
    for f in REPORTED {
        h.push(format!("{f}_before"));
        h.push(format!("{f}_after"));
    }
    h.push("request_body".into());
    h.push("buyer_label".into());
    h.push("revenue_change".into());
    h.push("payout_change".into());
    h
}

/// Index of a column in `header()`, worked out without building it: the
/// summary looks columns up for every row.
pub fn column(name: &str) -> usize {
    let pair = |field: &str| REPORTED.iter().position(|f| *f == field).map(|i| LEADING.len() + 2 * i);
    LEADING
        .iter()
        .position(|c| *c == name)
        .or_else(|| name.strip_suffix("_before").and_then(pair))
        .or_else(|| name.strip_suffix("_after").and_then(pair).map(|i| i + 1))
        .or_else(|| (name == "request_body").then_some(LEADING.len() + 2 * REPORTED.len()))
        .or_else(|| (name == "buyer_label").then_some(LEADING.len() + 2 * REPORTED.len() + 1))
        .or_else(|| (name == "revenue_change").then_some(LEADING.len() + 2 * REPORTED.len() + 2))
        .or_else(|| (name == "payout_change").then_some(LEADING.len() + 2 * REPORTED.len() + 3))
        .unwrap_or_else(|| panic!("{name:?} is not a results column"))
}

/// Whether `update` touches reported field `i`. Revenue, payout and the
/// buyer are always reported when known: the summary's totals read them.
fn touches(update: Option<&CallUpdate>, i: usize) -> bool {
    let Some(u) = update else { return matches!(i, 0 | 1 | 6) };
    match i {
        0 | 1 | 6 => true,
        2 => u.buyer_converted.is_some(),
        3 => u.offer_converted.is_some(),
        4 => u.call_disposition_id.is_some(),
        5 => u.agent_call_disposition_notes.is_some(),
        7 => u.trackdrive_traffic_source_id.is_some(),
        _ => !u.post_call_tokens.is_empty(),
    }
}

/// Reported field `i` of a call, as text (tokens: those the row touches).
fn value(s: &Snapshot, i: usize, update: Option<&CallUpdate>) -> String {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    match i {
        0 => s.revenue.map(|d| d.to_string()).unwrap_or_default(),
        1 => s.payout.map(|d| d.to_string()).unwrap_or_default(),
        2 => s.buyer_converted.map(|b| b.to_string()).unwrap_or_default(),
        3 => s.offer_converted.map(|b| b.to_string()).unwrap_or_default(),
        4 => text(&s.call_disposition_id),
        5 => text(&s.agent_call_disposition_notes),
        6 => text(&s.trackdrive_buyer_id),
        7 => text(&s.trackdrive_traffic_source_id),
        _ => {
            let names = update.into_iter().flat_map(|u| u.post_call_tokens.names());
            let touched: std::collections::BTreeMap<_, _> =
                names.filter_map(|n| s.post_call_tokens.get_key_value(n)).collect();
            if touched.is_empty() { String::new() } else { serde_json::to_string(&touched).unwrap_or_default() }
        }
    }
}

/// One outcome as the cells of a results row. Numbers we format ourselves
/// are left alone; text from the input or a server response is neutralised
/// against formula injection.
pub fn fields(o: &RowOutcome) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut cells = Vec::with_capacity(7 + 2 * REPORTED.len() + 4);
    cells.extend([
        o.line.to_string(),
        o.call.to_string(),
        o.status.as_str().to_string(),
        opt(o.exchange.http_status.map(|s| s.to_string())),
        o.exchange.attempts.to_string(),
        opt(o.exchange.latency.map(|l| l.as_millis().to_string())),
        neutralise(&o.error).into_owned(),
    ]);
    for i in 0..REPORTED.len() {
        let shown = touches(o.update.as_ref(), i);
        for snapshot in [&o.before, &o.after] {
            let cell = match snapshot {
                Some(s) if shown => value(s, i, o.update.as_ref()),
                _ => String::new(),
            };
            cells.push(neutralise_owned(cell));
        }
    }
    cells.push(neutralise(o.request_body.as_deref().unwrap_or_default()).into_owned());
    let label = o.update.as_ref().and_then(|u| u.buyer_label.as_deref());
    cells.push(neutralise(label.unwrap_or_default()).into_owned());
    // What the row moved (or, for `plan`, would move): after less before.
    let change = |pick: fn(&Snapshot) -> Option<rust_decimal::Decimal>| match (&o.before, &o.after) {
        (Some(b), Some(a)) => match (pick(b), pick(a)) {
            (Some(b), Some(a)) => (a - b).to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    cells.push(change(|s| s.revenue));
    cells.push(change(|s| s.payout));
    cells
}

pub struct ResultsWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> ResultsWriter<W> {
    pub fn new(out: W) -> csv::Result<ResultsWriter<W>> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(header())?;
        Ok(ResultsWriter { csv })
    }

    /// Writes one row's outcome.
    pub fn write(&mut self, outcome: &RowOutcome) -> csv::Result<()> {
        self.csv.write_record(fields(outcome))
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.csv.flush()
    }

    pub fn into_inner(self) -> std::io::Result<W> {
        self.csv.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::values::CallRef;
    use crate::outputs::outcome::Status;
    use std::time::Duration;

    #[test]
    fn rows() {
        let mut w = ResultsWriter::new(Vec::new()).unwrap();
        let mut o = RowOutcome::new(12, CallRef::Id(100000001), Status::Ok);
        o.exchange.http_status = Some(200);
        o.exchange.attempts = 2;
        o.exchange.latency = Some(Duration::from_millis(41));
        o.after = Snapshot::parse(r#"{"call":{"revenue":"12.50","payout":"-1.00","buyer_converted":true}}"#);
        w.write(&o).unwrap();
        let mut r = RowOutcome::new(13, CallRef::Id(5), Status::Rejected);
        r.error = "=422: {\"errors\":{}}".into();
        w.write(&r).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("line,id,status,http_status,attempts,latency_ms,error,revenue_before,revenue_after,payout_before,payout_after,buyer_converted_before"));
        assert!(lines[0].ends_with("request_body,buyer_label,revenue_change,payout_change"));
        assert_eq!(lines[1], "12,100000001,ok,200,2,41,,,12.50,,'-1.00,,,,,,,,,,,,,,,,,,");
        assert_eq!(lines[2], "13,5,rejected,,0,,\"'=422: {\"\"errors\"\":{}}\",,,,,,,,,,,,,,,,,,,,,,");
    }

    #[test]
    fn before_and_after_for_touched_fields_only() {
        let update = CallUpdate { buyer_converted: Some(true), ..CallUpdate::new(CallRef::Id(1)) };
        let mut o = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
        o.update = Some(update);
        o.before = Snapshot::parse(r#"{"revenue":"1.00","buyer_converted":false,"offer_converted":false}"#);
        o.after = Snapshot::parse(r#"{"revenue":"1.00","buyer_converted":true,"offer_converted":false}"#);
        let f = fields(&o);
        for (i, name) in header().iter().enumerate() {
            assert_eq!(column(name), i, "{name}");
        }
        assert_eq!(f[column("buyer_converted_before")], "false");
        assert_eq!(f[column("buyer_converted_after")], "true");
        assert_eq!(f[column("offer_converted_after")], "", "not touched");
        assert_eq!(f[column("revenue_before")], "1.00");
    }
}
