//! Names instead of ids: the company's call dispositions, buyers and traffic
//! sources, read once per run from the API's lists, and the resolving of a
//! row's `call_disposition`, `buyer` and `traffic_source` cells into ids.
//! Resolution is pure; fetching the lists is in `upload::lookup`.

use std::collections::HashMap;

use serde_json::Value;

use crate::input::columns::{Field, Schema, edit_distance};
use crate::input::rejection::{RejectKind, Rejection};
use crate::input::update::CallUpdate;

/// One record of a list: its id, what a row may call it, and for
/// dispositions whether notes are required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub name: String,
    /// `user_buyer_id` / `user_traffic_source_id`: the operator's own id.
    pub alias: Option<String>,
    pub notes_required: bool,
}

impl Entry {
    /// Reads an entry from a list item; `alias_key` names the operator's id.
    pub fn from_json(item: &Value, alias_key: Option<&str>) -> Option<Entry> {
        let text = |v: &Value| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Some(Entry {
            id: text(item.get("id")?)?,
            name: item.get("name").and_then(text).unwrap_or_default(),
            alias: alias_key.and_then(|k| item.get(k)).and_then(text),
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
            for k in std::iter::once(&e.name).chain(e.alias.iter()).filter(|k| !k.is_empty()) {
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

    /// The one entry a cell names, or why there is none.
    fn find(&self, what: &str, cell: &str) -> Result<&Entry, String> {
        match self.by_key.get(&key(cell)).map(Vec::as_slice) {
            Some([i]) => Ok(&self.entries[*i]),
            Some(many) => {
                let ids: Vec<&str> = many.iter().map(|i| self.entries[*i].id.as_str()).collect();
                Err(format!("{what} {cell:?} is ambiguous: it names ids {}; use the id column instead", ids.join(", ")))
            }
            None => {
                let k = key(cell);
                let nearest = self
                    .entries
                    .iter()
                    .map(|e| (edit_distance(&k, &key(&e.name)), &e.name))
                    .filter(|(d, name)| *d <= (name.len() / 3).max(2))
                    .min();
                let hint = nearest.map(|(_, n)| format!(" (did you mean {n:?}?)")).unwrap_or_default();
                Err(format!("unknown {what} {cell:?}{hint}"))
            }
        }
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
            update.call_disposition_id = Some(e.id.clone());
        }
        if let Some(name) = update.names.buyer.take() {
            let e = self.buyers.find("buyer", &name).map_err(|r| reject(Field::BuyerName, &name, r))?;
            update.trackdrive_buyer_id = Some(e.id.clone());
        }
        if let Some(name) = update.names.traffic_source.take() {
            let e = self
                .traffic_sources
                .find("traffic source", &name)
                .map_err(|r| reject(Field::TrafficSourceName, &name, r))?;
            update.trackdrive_traffic_source_id = Some(e.id.clone());
        }
        if let Some(id) = update.call_disposition_id.as_deref().filter(|id| !id.is_empty())
            && let Some(e) = self.dispositions.by_id(id)
            && e.notes_required
            && update.agent_call_disposition_notes.as_deref().is_none_or(str::is_empty)
        {
            return Err(reject(
                Field::DispositionNotes,
                "",
                format!("disposition {:?} requires notes: fill agent_call_disposition_notes", e.name),
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
            Entry::from_json(&json!({"id": id, "name": name, "notes_required": notes}), None).unwrap()
        };
        let b = |id: u64, name: &str, user: &str| {
            Entry::from_json(&json!({"id": id, "name": name, "user_buyer_id": user}), Some("user_buyer_id")).unwrap()
        };
        Directory {
            dispositions: List::new(vec![
                d(1, "Sale", false),
                d(2, "Callback", true),
                d(3, "Duplicate", false),
                d(4, "duplicate", false),
            ]),
            buyers: List::new(vec![b(7, "Acme Insurance", "B-7"), b(8, "Bolt Auto", "B-8")]),
            traffic_sources: List::new(vec![]),
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
        assert_eq!((u.call_disposition_id.as_deref(), u.trackdrive_buyer_id.as_deref()), (Some("1"), Some("8")));
        assert!(u.names.is_empty());
        let mut u = update();
        u.names.buyer = Some("acme   INSURANCE".into());
        directory().resolve(&mut u, &schema()).unwrap();
        assert_eq!(u.trackdrive_buyer_id.as_deref(), Some("7"));
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
        assert!(r.reason.contains("requires notes") && r.column == "Notes", "{r:?}");
        let mut u = update();
        u.call_disposition_id = Some("2".into());
        u.agent_call_disposition_notes = Some("call Monday".into());
        assert!(directory().resolve(&mut u, &schema()).is_ok(), "notes given");
        let mut u = update();
        u.names.traffic_source = Some("Anything".into());
        assert!(directory().resolve(&mut u, &schema()).unwrap_err().reason.contains("unknown traffic source"));
    }
}
