//! Names instead of ids: the company's call dispositions, buyers and traffic
//! sources, read once per run from the API's lists, and the resolving of a
//! row's `call_disposition`, `buyer` and `traffic_source` cells into ids.
//! Resolution is pure; fetching the lists is in `trackdrive::lookup`.

use std::collections::HashMap;

use serde_json::Value;

use crate::input::columns::{Field, Schema, edit_distance};
use crate::input::fields::{CallField, Value as FieldValue};
use crate::input::rejection::{RejectKind, Rejection};
use crate::input::update::{CallUpdate, Change};

/// Which list a record comes from: each names its records its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Dispositions,
    /// By `name` or the operator's own `user_buyer_id`.
    Buyers,
    /// Traffic sources have no name field: TrackDrive shows
    /// `{afid} - {first} {last}` (the afid is `user_traffic_source_id`).
    TrafficSources,
}

/// One record of a list: its id, what a row may call it, and for
/// dispositions whether notes are required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    /// What TrackDrive shows for it.
    pub name: String,
    /// Every text a row may call it by (the name first).
    pub keys: Vec<String>,
    pub notes_required: bool,
}

impl Entry {
    /// Reads an entry from an item of a `kind` list.
    pub fn from_json(item: &Value, kind: ListKind) -> Option<Entry> {
        let text = |k: &str| match item.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.split_whitespace().collect::<Vec<_>>().join(" ")),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let id = text("id")?;
        let mut keys: Vec<String> = text("name").into_iter().collect();
        match kind {
            ListKind::Dispositions => {}
            ListKind::Buyers => keys.extend(text("user_buyer_id")),
            ListKind::TrafficSources => {
                let afid = text("user_traffic_source_id");
                let person: Vec<String> = [text("first_name"), text("last_name")].into_iter().flatten().collect();
                let company = text("company_name");
                let full = if person.is_empty() { company.clone() } else { Some(person.join(" ")) };
                if let (Some(afid), Some(full)) = (&afid, &full) {
                    // As the dropdown shows it, first: the name to say back.
                    keys.insert(0, format!("{afid} - {full}"));
                }
                keys.extend(full.into_iter().chain(company).chain(afid));
            }
        }
        keys.dedup();
        Some(Entry {
            id,
            name: keys.first().cloned().unwrap_or_default(),
            keys,
            notes_required: item.get("notes_required").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Case, surrounding and repeated spaces do not matter in a name.
fn key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// One list, indexed by name (and alias).
#[derive(Debug, Default, Clone)]
pub struct List {
    entries: Vec<Entry>,
    by_key: HashMap<String, Vec<usize>>,
}

impl List {
    pub fn new(entries: Vec<Entry>) -> List {
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for k in e.keys.iter().filter(|k| !k.is_empty()) {
                let slot = by_key.entry(key(k)).or_default();
                if !slot.contains(&i) {
                    slot.push(i);
                }
            }
        }
        List { entries, by_key }
    }

    pub fn by_id(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The one entry a cell names, or why there is none.
    pub fn find(&self, what: &str, cell: &str) -> Result<&Entry, String> {
        match self.by_key.get(&key(cell)).map(Vec::as_slice) {
            Some([i]) => Ok(&self.entries[*i]),
            Some(many) => {
                let ids: Vec<&str> = many.iter().map(|i| self.entries[*i].id.as_str()).collect();
                Err(format!("{what} {cell:?} is ambiguous: it names ids {}; use the id column instead", ids.join(", ")))
            }
            None => Err(format!("unknown {what} {cell:?}{}", self.suggest(what, cell))),
        }
    }
}

/// The most names an unknown name's message suggests, and the most of a
/// list it shows whole when none is near.
const SUGGESTED: usize = 3;
const SHOWN_WHOLE: usize = 12;

impl List {
    /// The account's nearest names to `cell`, or its names, as the end of
    /// the message that refuses it.
    fn suggest(&self, what: &str, cell: &str) -> String {
        let names: Vec<&str> = self.nearest(cell);
        let plural = match what {
            "traffic source" => "traffic sources".to_string(),
            what => format!("{what}s"),
        };
        let command = format!("tdrecon names {}", plural.replace(' ', "-"));
        match names.as_slice() {
            [one] => format!(" (did you mean {one:?}?)"),
            [_, ..] => {
                let shown: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                format!(" (nearest: {}; `{command}` lists them all)", shown.join(", "))
            }
            [] if self.entries.is_empty() => format!(" (the account has no {plural})"),
            [] if self.entries.len() <= SHOWN_WHOLE => {
                let all: Vec<String> = self.entries.iter().map(|e| format!("{:?}", e.name)).collect();
                format!(" (the account's {plural}: {})", all.join(", "))
            }
            [] => format!(" (`{command}` lists the account's {})", self.entries.len()),
        }
    }

    /// Names like `cell`, nearest first: a few letters off; one holding the
    /// other's words (`Callback Requested` and `Callback`); its initials
    /// (`DNC` for `Do Not Call`); a word in common.
    fn nearest(&self, cell: &str) -> Vec<&str> {
        let k = key(cell);
        let words =
            |s: &str| s.split([' ', '-', '_', '/']).filter(|w| w.len() >= 3).map(str::to_string).collect::<Vec<_>>();
        let (cell_words, compact) = (words(&k), k.replace(' ', ""));
        let mut scored: Vec<(usize, usize, &str)> = self
            .entries
            .iter()
            .filter_map(|e| {
                let n = key(&e.name);
                let distance = edit_distance(&k, &n);
                let initials: String = n.split(' ').filter_map(|w| w.chars().next()).collect();
                let name_words = words(&n);
                let rank = if distance <= (n.len() / 3).max(2) {
                    0
                } else if initials.len() > 1 && initials == compact {
                    1
                } else if (!n.is_empty() && k.contains(&n)) || (!k.is_empty() && n.contains(&k)) {
                    2
                } else if cell_words.iter().any(|w| name_words.contains(w)) {
                    3
                } else {
                    return None;
                };
                Some((rank, distance, e.name.as_str()))
            })
            .collect();
        scored.sort();
        scored.dedup_by(|a, b| a.2 == b.2);
        scored.into_iter().take(SUGGESTED).map(|(_, _, name)| name).collect()
    }
}

/// The three lists a run may need.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    pub dispositions: List,
    pub buyers: List,
    pub traffic_sources: List,
}

impl Directory {
    /// Turns the row's names into ids, and checks that a disposition whose
    /// `notes_required` is set comes with notes.
    /// Rejections name the columns as the file's header does.
    pub fn resolve(&self, update: &mut CallUpdate, schema: &Schema) -> Result<(), Rejection> {
        let reject = |field: Field, value: &str, reason: String| Rejection {
            kind: RejectKind::InvalidValue,
            column: schema.header_of(&field),
            value: value.to_string(),
            reason,
        };
        if let Some(name) = update.names.disposition.take() {
            let e =
                self.dispositions.find("disposition", &name).map_err(|r| reject(Field::DispositionName, &name, r))?;
            update.set(CallField::DispositionId, Change::Set(FieldValue::Text(e.id.clone())));
        }
        if let Some(name) = update.names.buyer.take() {
            let e = self.buyers.find("buyer", &name).map_err(|r| reject(Field::BuyerName, &name, r))?;
            update.set(CallField::BuyerId, Change::Set(FieldValue::Text(e.id.clone())));
        }
        if let Some(name) = update.names.traffic_source.take() {
            let e = self
                .traffic_sources
                .find("traffic source", &name)
                .map_err(|r| reject(Field::TrafficSourceName, &name, r))?;
            update.set(CallField::TrafficSourceId, Change::Set(FieldValue::Text(e.id.clone())));
        }
        if let Some(id) = update.text(CallField::DispositionId).filter(|id| !id.is_empty())
            && let Some(e) = self.dispositions.by_id(id)
            && e.notes_required
            && update.text(CallField::DispositionNotes).is_none_or(str::is_empty)
        {
            return Err(reject(
                Field::Call(CallField::DispositionNotes, false),
                "",
                format!(
                    "disposition {:?} requires notes: fill {}",
                    e.name,
                    schema.named(&Field::Call(CallField::DispositionNotes, false))
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::columns::HeaderOptions;
    use crate::input::values::CallRef;
    use serde_json::json;

    fn directory() -> Directory {
        let d = |id: u64, name: &str, notes: bool| {
            Entry::from_json(&json!({"id": id, "name": name, "notes_required": notes}), ListKind::Dispositions).unwrap()
        };
        let b = |id: u64, name: &str, user: &str| {
            Entry::from_json(&json!({"id": id, "name": name, "user_buyer_id": user}), ListKind::Buyers).unwrap()
        };
        let t = |id: u64, first: &str, last: &str, company: &str| {
            let item = json!({"id": id, "first_name": first, "last_name": last, "company_name": company,
                              "user_traffic_source_id": format!("TS-{id}")});
            Entry::from_json(&item, ListKind::TrafficSources).unwrap()
        };
        Directory {
            dispositions: List::new(vec![
                d(1, "Sale", false),
                d(2, "Callback", true),
                d(3, "Duplicate", false),
                d(4, "duplicate", false),
            ]),
            buyers: List::new(vec![b(7, "Acme Insurance", "B-7"), b(8, "Bolt Auto", "B-8")]),
            traffic_sources: List::new(vec![t(101, "Ava", "Reed", "Google Ads"), t(102, "Ben", "Ortiz", "")]),
        }
    }

    /// A file whose disposition column is headed as a buyer report heads it.
    fn schema() -> Schema {
        let headers = ["Call ID", "Disposition", "Notes", "Reassign Buyer"].map(String::from).to_vec();
        let opts = HeaderOptions {
            maps: vec![
                HeaderOptions::parse_map("Disposition=call_disposition").unwrap(),
                HeaderOptions::parse_map("Notes=agent_call_disposition_notes").unwrap(),
            ],
            ..HeaderOptions::default()
        };
        Schema::from_headers(headers, &opts).unwrap()
    }

    fn update() -> CallUpdate {
        CallUpdate::new(CallRef::Id(1))
    }

    #[test]
    fn names_become_ids() {
        let mut u = update();
        u.names.disposition = Some("  sale ".into());
        u.names.buyer = Some("B-8".into());
        directory().resolve(&mut u, &schema()).unwrap();
        assert_eq!((u.text(CallField::DispositionId), u.text(CallField::BuyerId)), (Some("1"), Some("8")));
        assert!(u.names.is_empty());
        let mut u = update();
        u.names.buyer = Some("acme   INSURANCE".into());
        directory().resolve(&mut u, &schema()).unwrap();
        assert_eq!(u.text(CallField::BuyerId), Some("7"));
    }

    #[test]
    fn unknown_ambiguous_and_notes_required() {
        let mut u = update();
        u.names.disposition = Some("Sael".into());
        let r = directory().resolve(&mut u, &schema()).unwrap_err();
        assert_eq!(r.column, "Disposition", "the header as the file writes it");
        assert!(r.reason.contains(r#"unknown disposition "Sael" (did you mean "Sale"?)"#), "{r:?}");
        let mut u = update();
        u.names.disposition = Some("DUPLICATE".into());
        assert!(directory().resolve(&mut u, &schema()).unwrap_err().reason.contains("ambiguous: it names ids 3, 4"));
        let mut u = update();
        u.names.disposition = Some("Callback".into());
        let r = directory().resolve(&mut u, &schema()).unwrap_err();
        assert!(
            r.reason.ends_with("requires notes: fill Notes [agent_call_disposition_notes]") && r.column == "Notes",
            "{r:?}"
        );
        let mut u = update()
            .with(CallField::DispositionId, Change::Set(FieldValue::Text("2".into())))
            .with(CallField::DispositionNotes, Change::Set(FieldValue::Text("call Monday".into())));
        assert!(directory().resolve(&mut u, &schema()).is_ok(), "notes given");
        let mut u = update();
        u.names.traffic_source = Some("Anything".into());
        assert!(directory().resolve(&mut u, &schema()).unwrap_err().reason.contains("unknown traffic source"));
    }

    /// A traffic source by its afid, its full name, its company, or the
    /// label TrackDrive's dropdown shows: `{afid} - {full name}`.
    #[test]
    fn traffic_sources_by_every_name_trackdrive_shows() {
        for (cell, id) in [
            ("TS-101 - Ava Reed", "101"),
            ("ts-101  -  ava reed", "101"),
            ("Ava Reed", "101"),
            ("Google Ads", "101"),
            ("TS-101", "101"),
            ("TS-102 - Ben Ortiz", "102"),
        ] {
            let mut u = update();
            u.names.traffic_source = Some(cell.into());
            directory().resolve(&mut u, &schema()).unwrap_or_else(|r| panic!("{cell}: {r:?}"));
            assert_eq!(u.text(CallField::TrafficSourceId), Some(id), "{cell}");
        }
        let mut u = update();
        u.names.traffic_source = Some("TS-101 - Ava Red".into());
        let r = directory().resolve(&mut u, &schema()).unwrap_err();
        assert!(r.reason.contains("did you mean \"TS-101 - Ava Reed\"?"), "{r:?}");
    }
}

#[cfg(test)]
mod suggestions {
    use super::*;
    use serde_json::json;

    fn list(names: &[&str]) -> List {
        let entry = |(i, n): (usize, &&str)| {
            Entry::from_json(&json!({"id": i + 1, "name": n}), ListKind::Dispositions).unwrap()
        };
        List::new(names.iter().enumerate().map(entry).collect())
    }

    #[test]
    fn an_unknown_name_is_told_the_accounts_nearest() {
        let account = list(&["Sale", "Callback", "Do Not Call", "Duplicate Call", "Not Interested", "Wrong Number"]);
        let cases = [
            ("Callbak", r#"unknown disposition "Callbak" (did you mean "Callback"?)"#),
            ("Callback Requested", r#"unknown disposition "Callback Requested" (did you mean "Callback"?)"#),
            ("DNC", r#"unknown disposition "DNC" (did you mean "Do Not Call"?)"#),
            (
                "Call",
                r#"unknown disposition "Call" (nearest: "Sale", "Callback", "Do Not Call"; `tdrecon names dispositions` lists them all)"#,
            ),
            (
                "Voicemail",
                r#"unknown disposition "Voicemail" (the account's dispositions: "Sale", "Callback", "Do Not Call", "Duplicate Call", "Not Interested", "Wrong Number")"#,
            ),
        ];
        for (cell, want) in cases {
            assert_eq!(account.find("disposition", cell).unwrap_err(), want, "{cell}");
        }
        let many = list(
            &(0..30)
                .map(|i| format!("Reason {i:02}"))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            many.find("traffic source", "Facebook").unwrap_err(),
            r#"unknown traffic source "Facebook" (`tdrecon names traffic-sources` lists the account's 30)"#
        );
        assert!(list(&[]).find("buyer", "Acme").unwrap_err().ends_with("(the account has no buyers)"));
    }
}
