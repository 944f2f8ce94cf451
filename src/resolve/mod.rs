//! What TrackDrive said joins a validated row: disposition, buyer and
//! traffic-source names turned into ids (`names`), a row without an id
//! matched to its call by caller number and time (`matching`), and a call
//! named by a UUID whose id a read told keyed by that id. A step of the job
//! between validating a row and checking it names a call no earlier row
//! does (`input::validate::Validator::one_call`). Pure: the lists and the
//! calls come from `trackdrive`'s reads.

pub mod matching;
pub mod names;
pub mod zone_hint;

use std::collections::HashMap;

use crate::input::columns::Schema;
use crate::input::rejection::Rejection;
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use matching::Matcher;
use names::Directory;

/// What the reads before the rows told, to resolve them by.
#[derive(Debug, Default)]
pub struct Resolver {
    /// The API's lists, to turn names into ids.
    pub directory: Option<Directory>,
    /// The window's calls by caller, to find the call of a row without an id.
    pub matcher: Option<Matcher>,
    /// The ids of calls known by their UUID (a window read, or a read of
    /// the call): a call is its id, however a row names it.
    pub ids_of_uuids: HashMap<u128, u64>,
}

impl Resolver {
    /// Resolves a valid row's names and call: `Err` when a name is not the
    /// account's or no single call matches.
    pub fn resolve(&self, update: &mut CallUpdate, schema: &Schema) -> Result<(), Rejection> {
        if let Some(directory) = &self.directory {
            directory.resolve(update, schema)?;
        }
        if let Some(matcher) = &self.matcher
            && update.call == CallRef::PENDING
        {
            update.call = matcher.find(update, schema)?;
        }
        // A UUID whose id is known is replaced by it (and kept for the record).
        if let CallRef::Uuid(uuid) = update.call
            && let Some(id) = self.ids_of_uuids.get(&uuid)
        {
            update.call = CallRef::Id(*id);
            update.named_uuid = Some(uuid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::columns::HeaderOptions;
    use crate::input::reader::Record;
    use crate::input::rejection::RejectKind;
    use crate::input::validate::Validator;
    use csv::ByteRecord;

    proptest::proptest! {
        /// Fuzz: rows naming calls by id, by UUID (known to the window or
        /// not) or by caller number and time, in any order and with any
        /// values, never panic the reader, and each call (however named)
        /// is accepted on one row only, every later one a repeat naming the
        /// first line.
        #[test]
        fn ids_uuids_and_matches_never_panic_and_one_call_takes_one_row(
            rows in proptest::collection::vec((0u8..4, 0u64..6, 0i64..3, "[0-9.(),$-]{0,6}"), 1..40)
        ) {
            let headers = ["call_id", "caller_number", "call_time", "add_revenue"].map(String::from).to_vec();
            let schema = Schema::from_headers(headers, &HeaderOptions::default()).unwrap();
            let mut v = Validator::new(schema);
            let mut resolver = Resolver::default();
            let uuid = |n: u64| format!("c3b20b12-3b3b-4322-b15d-{:012x}", n);
            let mut matcher = Matcher::new(5 * 60_000);
            let mut ids = HashMap::new();
            for n in 0..6u64 {
                // Calls 0–3 have a known UUID; each has its own caller.
                if n < 4 && let Ok(CallRef::Uuid(u)) = CallRef::parse(&uuid(n)) {
                    ids.insert(u, 100 + n);
                }
                matcher.add(&format!("+1719555010{n}"), 1_000_000, 100 + n);
            }
            resolver.matcher = Some(matcher);
            resolver.ids_of_uuids = ids;
            let mut first: HashMap<String, u64> = HashMap::new();
            for (i, (how, n, minutes, amount)) in rows.iter().enumerate() {
                let line = i as u64 + 2;
                let (id, caller, time) = match how {
                    0 => ((100 + n).to_string(), String::new(), String::new()),
                    1 => (uuid(*n), String::new(), String::new()),
                    2 => (String::new(), format!("+1719555010{n}"), format!("{}", 1_000_000 / 1000 + minutes * 60)),
                    _ => (format!("{n}"), format!("+1719555010{n}"), String::new()),
                };
                let time = if time.is_empty() { time } else {
                    jiff::Timestamp::from_second(time.parse().unwrap()).unwrap().to_string()
                };
                let raw = ByteRecord::from(vec![id, caller, time, amount.clone()]);
                let record = Record { line, end_line: line, raw: &raw, unclosed_quote: false, oversize: None };
                let checked = v.read(&record).and_then(|mut u| {
                    resolver.resolve(&mut u, v.schema())?;
                    v.one_call(&record, &u).map(|()| u)
                });
                match checked {
                    Ok(update) => {
                        // Known UUIDs are their call's id.
                        if *how == 1 && *n < 4 {
                            proptest::prop_assert_eq!(update.call, CallRef::Id(100 + n));
                        }
                        let key = update.call.to_string();
                        proptest::prop_assert!(first.insert(key.clone(), line).is_none(), "{key} accepted twice");
                    }
                    Err(r) if r.kind == RejectKind::Duplicate => {
                        proptest::prop_assert!(r.reason.contains("already appears on line"), "{r:?}");
                    }
                    Err(_) => {}
                }
            }
        }
    }
}
