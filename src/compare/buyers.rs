//! Whose report it is: the buyers a night's discrepancies are judged for,
//! from `--buyer NAME|ID` (repeatable) and the report's own `Buyer` labels,
//! each resolved through lists of buyers in order: the window's calls name
//! theirs, so usually no other list is read; `trackdrive::lookup` reads
//! TrackDrive's when a name is not among them. Pure.
//!
//! With `--buyer`, only those buyers are judged: a labelled row speaks for
//! its label's buyer if that is one of them (else for another buyer), an
//! unlabelled row for all of them together. Without it, every buyer a label
//! names is judged, and a row whose label names nobody, or that has none,
//! speaks for an unknown buyer.

use std::collections::{BTreeSet, HashMap};

use super::discrepancy::{Side, Speaks};
use crate::resolve::names::List;

/// The sides of a night and which rows speak for which.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub sides: Vec<Side>,
    /// Whom each label speaks for, as the report spells it.
    labels: HashMap<String, Speaks>,
    /// Whom rows without a label speak for.
    unlabelled: Speaks,
    /// What could not be resolved, for the summary.
    pub notes: Vec<String>,
}

impl Judged {
    /// Whom a row with this label (or none) speaks for.
    pub fn speaks(&self, label: Option<&str>) -> Speaks {
        match label.map(str::trim).filter(|l| !l.is_empty()) {
            Some(label) => self.labels.get(label).copied().unwrap_or(Speaks::Unknown),
            None => self.unlabelled,
        }
    }
}

/// A buyer named: `(id, name to show)`, or why none. The first list that
/// knows the text decides (the window's before TrackDrive's, so a name the
/// night's calls show is never taken for a namesake). Digits are an id
/// only when a list holds it: a buyer's own code of digits is not taken
/// for TrackDrive's id of somebody else.
fn resolve(lists: &[&List], text: &str) -> Result<(String, String), String> {
    let mut why = format!("unknown buyer {text:?}");
    for list in lists {
        let entry = match list.find("buyer", text) {
            Ok(entry) => entry,
            Err(e) => match list.by_id(text) {
                Some(entry) => entry,
                None => {
                    why = e;
                    continue;
                }
            },
        };
        let name = if entry.name.is_empty() { entry.id.clone() } else { entry.name.clone() };
        return Ok((entry.id.clone(), name));
    }
    Err(why)
}

/// The names that `lists` do not know, among `flags` and `labels`: the
/// caller reads TrackDrive's list of buyers when there are any.
pub fn unknown<'a>(flags: &'a [String], labels: &'a BTreeSet<String>, lists: &[&List]) -> Vec<&'a str> {
    flags.iter().chain(labels).map(|s| s.trim()).filter(|s| resolve(lists, s).is_err()).collect()
}

/// The sides for `flags` (`--buyer`) and the report's `labels`.
pub fn judged(flags: &[String], labels: &BTreeSet<String>, lists: &[&List]) -> Judged {
    let mut judged =
        Judged { sides: Vec::new(), labels: HashMap::new(), unlabelled: Speaks::Unknown, notes: Vec::new() };
    let mut side_of_buyer: HashMap<String, usize> = HashMap::new();
    let mut add_side = |judged: &mut Judged, id: &str, name: &str| {
        *side_of_buyer.entry(id.to_string()).or_insert_with(|| {
            judged.sides.push(Side { name: name.to_string(), buyers: vec![id.to_string()] });
            judged.sides.len() - 1
        })
    };
    let mut flagged = Vec::new();
    for flag in flags {
        match resolve(lists, flag.trim()) {
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
        let speaks = match resolve(lists, label.trim()) {
            Ok((id, name)) if flags.is_empty() => Speaks::For(add_side(&mut judged, &id, &name)),
            // With --buyer, only its buyers are judged.
            Ok((id, _)) => flagged
                .iter()
                .copied()
                .find(|s| judged.sides[*s].buyers == [id.clone()])
                .map_or(Speaks::Another, Speaks::For),
            Err(why) => {
                let fix = match flags.is_empty() {
                    true => "map it with --value-map, or name the buyer with --buyer",
                    false => "map it with --value-map",
                };
                judged.notes.push(format!("the Buyer column: {why}: its rows were not judged ({fix})"));
                Speaks::Unknown
            }
        };
        judged.labels.insert(label.trim().to_string(), speaks);
    }
    judged.unlabelled = match flagged.as_slice() {
        [] => Speaks::Unknown,
        [one] => Speaks::For(*one),
        many => {
            let name = many.iter().map(|s| judged.sides[*s].name.as_str()).collect::<Vec<_>>().join(" + ");
            let buyers = many.iter().flat_map(|s| judged.sides[*s].buyers.clone()).collect();
            judged.sides.push(Side { name, buyers });
            Speaks::For(judged.sides.len() - 1)
        }
    };
    judged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::names::{Entry, ListKind};
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
    /// unlabelled row speak for ("another": a buyer not judged; "unknown":
    /// nobody known).
    #[test]
    fn sides_from_flags_and_labels() {
        type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], &'a [(Option<&'a str>, &'a str)]);
        let cases: &[Case] = &[
            // Labels alone: each label's buyer, spelled any way the list knows.
            (
                &[],
                &["acme  insurance", "B-8"],
                // In the labels' order, sorted.
                &["Bolt Auto", "Acme Insurance"],
                &[(Some("acme  insurance"), "Acme Insurance"), (Some("B-8"), "Bolt Auto"), (None, "unknown")],
            ),
            // One --buyer: unlabelled rows are its; other labels another's.
            (
                &["Acme Insurance"],
                &["Bolt Auto"],
                &["Acme Insurance"],
                &[(None, "Acme Insurance"), (Some("Bolt Auto"), "another")],
            ),
            // By id; an id no list holds is nobody (said in a note).
            (
                &["8", "9", "12"],
                &[],
                &["Bolt Auto", "Delta Solar", "Bolt Auto + Delta Solar"],
                &[(None, "Bolt Auto + Delta Solar")],
            ),
            // A label that names no buyer, or digits no list holds: unknown.
            (
                &[],
                &["Acme Insurance", "Nobody", "99"],
                &["Acme Insurance"],
                &[(Some("Nobody"), "unknown"), (Some("99"), "unknown"), (Some("Acme Insurance"), "Acme Insurance")],
            ),
        ];
        for (f, l, names, rows) in cases {
            let judged = judged(&flags(f), &labels(l), &[&list()]);
            let got: Vec<&str> = judged.sides.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(&got, names, "{f:?} {l:?}");
            for (label, want) in *rows {
                let speaks = match judged.speaks(*label) {
                    Speaks::For(s) => judged.sides[s].name.as_str(),
                    Speaks::Another => "another",
                    Speaks::Unknown | Speaks::Outside => "unknown",
                };
                assert_eq!(speaks, *want, "{f:?} {l:?}: {label:?}");
            }
        }
    }

    /// The window's list is asked first: a name its calls show is never
    /// taken for a namesake in TrackDrive's list; TrackDrive's list answers
    /// what the window does not know.
    #[test]
    fn the_windows_buyers_come_first() {
        let b = |id: u64, name: &str| Entry::from_json(&json!({"id": id, "name": name}), ListKind::Buyers).unwrap();
        let window = List::new(vec![b(7, "Acme")]);
        let read = List::new(vec![b(7, "Acme Insurance"), b(12, "Acme"), b(8, "Bolt Auto")]);
        let judged = judged(&[], &labels(&["Acme", "Bolt Auto"]), &[&window, &read]);
        let sides: Vec<(&str, &[String])> =
            judged.sides.iter().map(|s| (s.name.as_str(), s.buyers.as_slice())).collect();
        assert_eq!(sides, [("Acme", &["7".to_string()][..]), ("Bolt Auto", &["8".to_string()][..])]);
        // A buyer the window shows without a name is shown by its id.
        let nameless = List::new(vec![Entry::from_json(&json!({"id": 5}), ListKind::Buyers).unwrap()]);
        assert_eq!(judged_names(&["5"], &[&nameless]), ["5"]);
    }

    fn judged_names(f: &[&str], lists: &[&List]) -> Vec<String> {
        judged(&flags(f), &BTreeSet::new(), lists).sides.into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn names_not_known_are_said() {
        let judged = judged(&flags(&["Acme Insurence", "12"]), &labels(&["Nobody"]), &[&list()]);
        assert!(judged.sides.is_empty());
        assert!(judged.notes[0].contains("did you mean \"Acme Insurance\""), "{:?}", judged.notes);
        assert!(judged.notes[1].contains("\"12\""), "{:?}", judged.notes);
        assert!(judged.notes[2].contains("\"Nobody\""), "{:?}", judged.notes);
        assert_eq!(
            unknown(&flags(&["Acme Insurence", "8", "12"]), &labels(&["Bolt Auto"]), &[&list()]),
            ["Acme Insurence", "12"]
        );
    }
}
