//! `results.csv`: one line per row that reached the uploader, written as
//! outcomes arrive (so in completion order; `line` ties each to the input,
//! and `in_order` puts them back in it at the end), with the call's values
//! before and after for every field the row touches (the reported fields of
//! the table of fields, by their update parameters).

use std::io::Write;

use crate::input::fields::{CallField, FIELDS, Value};
use crate::input::update::CallUpdate;
use crate::outcome::RowOutcome;
use crate::text::{neutralise, neutralise_owned};
use crate::trackdrive::Snapshot;

/// The fields whose before and after values are reported, from the table
/// of fields, under their update parameters (`revenue_before`…).
fn reported() -> impl Iterator<Item = CallField> {
    CallField::all().filter(|f| f.spec().reported)
}

/// Columns before the before/after pairs.
const LEADING: [&str; 7] = ["line", "id", "status", "http_status", "attempts", "latency_ms", "error"];
/// Columns after them.
const TRAILING: [&str; 4] = ["request_body", "buyer_label", "revenue_change", "payout_change"];

pub fn header() -> Vec<String> {
    let mut h: Vec<String> = LEADING.iter().map(|s| s.to_string()).collect();
    for f in reported() {
        h.push(format!("{}_before", f.param()));
        h.push(format!("{}_after", f.param()));
    }
    h.extend(TRAILING.iter().map(|s| s.to_string()));
    h
}

/// Index of a column in `header()`.
pub fn column(name: &str) -> Option<usize> {
    header().iter().position(|c| c == name)
}

/// Whether `update` touches reported `field`. Revenue, payout and the
/// buyer are always reported when known: the totals read them.
fn touches(update: Option<&CallUpdate>, field: CallField) -> bool {
    if matches!(field, CallField::Revenue | CallField::Payout | CallField::BuyerId) {
        return true;
    }
    match (update, field) {
        (Some(u), CallField::Tokens) => !u.tokens.is_empty(),
        (Some(u), f) => u.get(f).is_some(),
        (None, _) => false,
    }
}

/// Reported `field` of a call, as text (tokens: those the row touches).
fn value(s: &Snapshot, field: CallField, update: Option<&CallUpdate>) -> String {
    if field != CallField::Tokens {
        return s.get(field).map(Value::to_cell).unwrap_or_default();
    }
    let names = update.into_iter().flat_map(|u| u.tokens.names());
    let touched: std::collections::BTreeMap<_, _> = names.filter_map(|n| s.tokens.get_key_value(n)).collect();
    if touched.is_empty() { String::new() } else { serde_json::to_string(&touched).unwrap_or_default() }
}

/// `-12.50`, `0`, `3.1`: an optional minus, digits, an optional fraction.
fn plain_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A reported field's cell as results.csv (and a plan) writes it.
fn cell(s: &Snapshot, field: CallField, update: Option<&CallUpdate>) -> String {
    let cell = value(s, field, update);
    // An amount is written by us as a plain number (`-2.25`): no
    // spreadsheet runs it as a formula, so it keeps its sign bare and stays
    // a number. Anything else a server sent is guarded.
    let amount = field.spec().kind == crate::input::fields::Kind::Money && plain_number(&cell);
    if amount { cell } else { neutralise_owned(cell) }
}

/// The `<field>_before` cells of the fields `update` changes, for the call
/// `s`, as results.csv and a plan write them: what a signed plan is
/// compared with.
pub fn touched_cells(s: &Snapshot, update: &CallUpdate) -> Vec<(String, String)> {
    reported()
        .filter(|&f| match f {
            CallField::Tokens => !update.tokens.is_empty(),
            f => update.get(f).is_some(),
        })
        .map(|f| (format!("{}_before", f.param()), cell(s, f, Some(update))))
        .collect()
}

/// Every `<field>_after` cell of a row that changes `update`'s fields, for
/// the call as it would be after (`after`), as results.csv and a plan
/// write them (an untouched field's cell empty, as there).
pub fn after_cells(after: &Snapshot, update: &CallUpdate) -> Vec<(String, String)> {
    reported()
        .map(|f| {
            let shown = if touches(Some(update), f) { cell(after, f, Some(update)) } else { String::new() };
            (format!("{}_after", f.param()), shown)
        })
        .collect()
}

/// One outcome as the cells of a results row. Numbers we format ourselves
/// are left alone; text from the input or a server response is neutralised
/// against formula injection.
pub fn fields(o: &RowOutcome) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut cells = Vec::with_capacity(LEADING.len() + 2 * FIELDS.len() + TRAILING.len());
    cells.extend([
        o.line.to_string(),
        o.call.to_string(),
        o.status.as_str().to_string(),
        opt(o.exchange.http_status.map(|s| s.to_string())),
        o.exchange.attempts.to_string(),
        opt(o.exchange.latency.map(|l| l.as_millis().to_string())),
        neutralise(&o.error).into_owned(),
    ]);
    for field in reported() {
        let shown = touches(o.update.as_ref(), field);
        for snapshot in [&o.before, &o.after] {
            cells.push(match snapshot {
                Some(s) if shown => cell(s, field, o.update.as_ref()),
                _ => String::new(),
            });
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
    cells.push(change(Snapshot::revenue));
    cells.push(change(Snapshot::payout));
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
    use crate::outcome::Status;
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
        assert_eq!(lines[1], "12,100000001,ok,200,2,41,,,12.50,,-1.00,,,,,,,,,,,,,,,,,,");
        assert_eq!(lines[2], "13,5,rejected,,0,,\"'=422: {\"\"errors\"\":{}}\",,,,,,,,,,,,,,,,,,,,,,");
    }

    #[test]
    fn before_and_after_for_touched_fields_only() {
        let update = CallUpdate::new(CallRef::Id(1))
            .with(CallField::BuyerConverted, crate::input::update::Change::Set(Value::Flag(true)));
        let mut o = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
        o.update = Some(update);
        o.before = Snapshot::parse(r#"{"revenue":"1.00","buyer_converted":false,"traffic_source_converted":false}"#);
        o.after = Snapshot::parse(r#"{"revenue":"1.00","buyer_converted":true,"traffic_source_converted":false}"#);
        let f = fields(&o);
        let at = |name: &str| column(name).unwrap_or_else(|| panic!("no column {name}"));
        assert_eq!(f.len(), header().len());
        assert_eq!(f[at("buyer_converted_before")], "false");
        assert_eq!(f[at("buyer_converted_after")], "true");
        assert_eq!(f[at("offer_converted_after")], "", "not touched");
        assert_eq!(f[at("revenue_before")], "1.00");
    }
}
