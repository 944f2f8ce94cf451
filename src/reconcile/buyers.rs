//! Whose report it is: the buyers a night's discrepancies are judged for,
//! from `--buyer NAME|ID` (repeatable) and the report's own `Buyer` labels,
//! each resolved through a list of buyers (the window's calls name theirs,
//! so usually no list is read; `upload::lookup` reads TrackDrive's when a
//! name is not among them). Pure.
//!
//! With `--buyer`, only those buyers are judged: a labelled row speaks for
//! its label's buyer if that is one of them, an unlabelled row for all of
//! them together. Without it, every buyer a label names is judged.

use std::collections::{BTreeSet, HashMap};

use super::discrepancy::Side;
use crate::input::names::List;

/// The sides of a night and which rows speak for which.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judged {
    pub sides: Vec<Side>,
    /// The side of each label as the report spells it (`None`: not judged).
    labels: HashMap<String, Option<usize>>,
    /// The side of rows without a label.
    unlabelled: Option<usize>,
    /// What could not be resolved, for the summary.
    pub notes: Vec<String>,
}

impl Judged {
    /// The side a row with this label (or none) speaks for.
    pub fn side_of(&self, label: Option<&str>) -> Option<usize> {
        match label.map(str::trim).filter(|l| !l.is_empty()) {
            Some(label) => self.labels.get(label).copied().flatten(),
            None => self.unlabelled,
        }
    }
}

/// A buyer named: `(id, name to show)`, or why none.
fn resolve(list: &List, text: &str) -> Result<(String, String), String> {
    match list.find("buyer", text) {
        Ok(entry) => Ok((entry.id.clone(), entry.name.clone())),
        // Digits name TrackDrive's own id, whether or not a call shows it.
        Err(_) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            let name = list.by_id(text).map_or_else(|| format!("buyer {text}"), |e| e.name.clone());
            Ok((text.to_string(), name))
        }
        Err(why) => Err(why),
    }
}

/// The names that `list` does not know, among `flags` and `labels`: the
/// caller reads TrackDrive's list of buyers when there are any.
pub fn unknown<'a>(flags: &'a [String], labels: &'a BTreeSet<String>, list: &List) -> Vec<&'a str> {
    flags.iter().chain(labels).map(|s| s.trim()).filter(|s| resolve(list, s).is_err()).collect()
}

/// The sides for `flags` (`--buyer`) and the report's `labels`.
pub fn judged(flags: &[String], labels: &BTreeSet<String>, list: &List) -> Judged {
    let mut judged = Judged::default();
    let mut side_of_buyer: HashMap<String, usize> = HashMap::new();
    let mut add_side = |judged: &mut Judged, id: &str, name: &str| {
        *side_of_buyer.entry(id.to_string()).or_insert_with(|| {
            judged.sides.push(Side { name: name.to_string(), buyers: vec![id.to_string()] });
            judged.sides.len() - 1
        })
    };
    let mut flagged = Vec::new();
    for flag in flags {
        match resolve(list, flag.trim()) {
            Ok((id, name)) => {
                let side = add_side(&mut judged, &id, &name);
                if !flagged.contains(&side) {
                    flagged.push(side);
                }
            }
            Err(why) => judged.notes.push(format!("--buyer: {why}: no discrepancies for it")),
        }
    }
    for label in labels {
        let side = match resolve(list, label.trim()) {
            Ok((id, name)) if flags.is_empty() => Some(add_side(&mut judged, &id, &name)),
            // With --buyer, only its buyers are judged.
            Ok((id, _)) => flagged.iter().copied().find(|s| judged.sides[*s].buyers == [id.clone()]),
            Err(why) => {
                judged.notes.push(format!(
                    "the Buyer column: {why}: its rows were not judged (map it with --value-map, or name the \
                     buyer with --buyer)"
                ));
                None
            }
        };
        judged.labels.insert(label.trim().to_string(), side);
    }
    judged.unlabelled = match flagged.as_slice() {
        [] => None,
        [one] => Some(*one),
        many => {
            let name = many.iter().map(|s| judged.sides[*s].name.as_str()).collect::<Vec<_>>().join(" + ");
            let buyers = many.iter().flat_map(|s| judged.sides[*s].buyers.clone()).collect();
            judged.sides.push(Side { name, buyers });
            Some(judged.sides.len() - 1)
        }
    };
    judged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::names::{Entry, ListKind};
    use serde_json::json;

    fn list() -> List {
        let b = |id: u64, name: &str| {
            Entry::from_json(&json!({"id": id, "name": name, "user_buyer_id": format!("B-{id}")}), ListKind::Buyers)
                .unwrap()
        };
        List::new(vec![b(7, "Acme Insurance"), b(8, "Bolt Auto"), b(9, "Delta Solar")])
    }

    fn labels(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn flags(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// (--buyer, labels) → the side names, and whom each label and an
    /// unlabelled row speak for.
    #[test]
    fn sides_from_flags_and_labels() {
        type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], &'a [(Option<&'a str>, Option<&'a str>)]);
        let cases: &[Case] = &[
            // Labels alone: each label's buyer, spelled any way the list knows.
            (
                &[],
                &["acme  insurance", "B-8"],
                // In the labels' order, sorted.
                &["Bolt Auto", "Acme Insurance"],
                &[(Some("acme  insurance"), Some("Acme Insurance")), (Some("B-8"), Some("Bolt Auto")), (None, None)],
            ),
            // One --buyer: unlabelled rows are its; other labels not judged.
            (
                &["Acme Insurance"],
                &["Bolt Auto"],
                &["Acme Insurance"],
                &[(None, Some("Acme Insurance")), (Some("Bolt Auto"), None)],
            ),
            // By id, or an id no call or list shows.
            (
                &["8", "12"],
                &[],
                &["Bolt Auto", "buyer 12", "Bolt Auto + buyer 12"],
                &[(None, Some("Bolt Auto + buyer 12"))],
            ),
            // A label that names no buyer is not judged.
            (&[], &["Acme Insurance", "Nobody"], &["Acme Insurance"], &[(Some("Nobody"), None)]),
        ];
        for (f, l, names, rows) in cases {
            let judged = judged(&flags(f), &labels(l), &list());
            let got: Vec<&str> = judged.sides.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(&got, names, "{f:?} {l:?}");
            for (label, want) in *rows {
                let side = judged.side_of(*label).map(|s| judged.sides[s].name.as_str());
                assert_eq!(side, *want, "{f:?} {l:?}: {label:?}");
            }
        }
    }

    #[test]
    fn names_not_known_are_said() {
        let judged = judged(&flags(&["Acme Insurence"]), &labels(&["Nobody"]), &list());
        assert!(judged.sides.is_empty());
        assert!(judged.notes[0].contains("did you mean \"Acme Insurance\""), "{:?}", judged.notes);
        assert!(judged.notes[1].contains("\"Nobody\""), "{:?}", judged.notes);
        assert_eq!(unknown(&flags(&["Acme Insurence", "8"]), &labels(&["Bolt Auto"]), &list()), ["Acme Insurence"]);
    }
}
