//! The rollback file: for every applied row, a row in tdrecon's own input
//! format that puts the call back as it was read before the write. Its
//! columns come from the table of fields: every field a call shows, under
//! its update parameter (and its add form, for amounts).

use std::collections::BTreeMap;

use crate::input::fields::{CallField, FIELDS, Kind};
use crate::input::update::{CallUpdate, Change};
use crate::input::validate::CLEAR;

use crate::trackdrive::Snapshot;

/// The columns of a rollback file (tdrecon's own input format).
pub fn rollback_header() -> Vec<&'static str> {
    let mut header = vec!["id"];
    for spec in FIELDS.iter().filter(|s| restorable(s.field)) {
        header.push(spec.param);
        header.extend(spec.add);
    }
    header
}

/// A field a rollback row can put back: one a call shows and that does not
/// act each time it is sent.
fn restorable(field: CallField) -> bool {
    let spec = field.spec();
    !spec.read.is_empty() && !spec.acts
}

/// The rollback row that returns a call to `before`, for an applied `sent`
/// (the fields actually sent), or `None` when nothing can be undone.
/// Adds are undone by their negative; what the API cannot blank (a buyer, a
/// traffic source, a contact field that did not exist) is left as it is, and
/// so is a field the call read did not show.
pub fn rollback_cells(sent: &CallUpdate, before: &Snapshot) -> Option<Vec<String>> {
    let mut cells = vec![sent.call.to_string()];
    for field in CallField::all().filter(|f| restorable(*f)) {
        let spec = field.spec();
        let (set, add) = match (field, sent.get(field)) {
            (CallField::Tokens, _) => (tokens_cell(sent, before), None),
            (_, Some(Change::Add(x))) => (String::new(), Some((-*x).to_string())),
            (_, Some(Change::Set(_))) => (restore(field, before), None),
            _ => (String::new(), None),
        };
        cells.push(set);
        if spec.add.is_some() {
            cells.push(add.unwrap_or_default());
        } else if spec.kind == Kind::Money {
            unreachable!("every amount has an add form");
        }
    }
    cells[1..].iter().any(|c| !c.is_empty()).then_some(cells)
}

/// The cell that sets `field` back to what `before` held.
fn restore(field: CallField, before: &Snapshot) -> String {
    if !before.knows(field) {
        return String::new();
    }
    match before.get(field) {
        Some(v) => v.to_cell(),
        None if field.spec().blank => CLEAR.to_string(),
        None => String::new(),
    }
}

/// The contact fields the row set that the call had before, as they were.
fn tokens_cell(sent: &CallUpdate, before: &Snapshot) -> String {
    let tokens: BTreeMap<&str, &String> = sent
        .tokens
        .names()
        .filter_map(|name| before.tokens.get_key_value(name).map(|(k, v)| (k.as_str(), v)))
        .collect();
    if tokens.is_empty() { String::new() } else { serde_json::to_string(&tokens).expect("a map of strings serialises") }
}

/// Opens the rollback file (tdrecon's input format) with its header row; a
/// resumed run adds to the one it started.
pub fn open_rollback(
    path: &std::path::Path,
    resuming: bool,
) -> Result<csv::Writer<std::io::BufWriter<std::fs::File>>, crate::exit::Fatal> {
    use crate::exit::Fatal;
    use anyhow::Context;
    let append = resuming && std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(Fatal::usage)?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    if !append {
        w.write_record(rollback_header())
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Fatal::usage)?;
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::fields::Value;
    use crate::input::update::Tokens;
    use crate::trackdrive::snapshot::testing::{d, snapshot, update};
    use CallField::*;

    #[test]
    fn rollback_rows() {
        let before = snapshot();
        let sent = update()
            .with(Revenue, Change::Set(Value::Money(d("99"))))
            .with(Payout, Change::Add(d("1.25")))
            .with(BuyerConverted, Change::Set(Value::Flag(true)))
            .with(DispositionNotes, Change::Set(Value::Text("x".into())))
            .with(TrafficSourceId, Change::Set(Value::Text("5".into())))
            .with_tokens(Tokens::from_iter([("zip", "1"), ("new", "2")]));
        let cells = rollback_cells(&sent, &before).unwrap();
        let header = rollback_header();
        let row: Vec<(&str, &str)> =
            header.iter().zip(&cells).filter(|(_, c)| !c.is_empty()).map(|(h, c)| (*h, c.as_str())).collect();
        assert_eq!(
            row,
            [
                ("id", "1"),
                ("revenue", "10.00"),
                ("add_payout", "-1.25"),
                ("buyer_converted", "false"),
                ("agent_call_disposition_notes", "#clear"),
                ("post_call_tokens", r#"{"zip":"9"}"#),
            ],
            "the traffic source was empty and cannot be blanked"
        );
        let actions_only = update().with(Webhooks, Change::Fire(vec![1]));
        assert_eq!(rollback_cells(&actions_only, &before), None);
        // A field the call read did not show cannot be put back.
        let unread = Snapshot::parse(r#"{"revenue":"1.00"}"#).unwrap();
        let notes = update().with(DispositionNotes, Change::Set(Value::Text("x".into())));
        assert_eq!(rollback_cells(&notes, &unread), None);
        assert_eq!(
            header,
            [
                "id",
                "revenue",
                "add_revenue",
                "payout",
                "add_payout",
                "buyer_converted",
                "offer_converted",
                "trackdrive_buyer_id",
                "trackdrive_traffic_source_id",
                "call_disposition_id",
                "agent_call_disposition_notes",
                "contact_field_type",
                "post_call_tokens"
            ]
        );
    }
}
