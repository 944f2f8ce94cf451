//! Window reads: the calls of a time window, read in pages (`GET
//! /api/v1/calls` with `created_at_from` / `created_at_to`, followed by
//! cursor or by page, `columns=` from the documented pick list to keep the
//! pages small) before anything is sent, so each row is compared with what
//! its call holds without a GET of its own. A night then costs about one
//! request per row that changes, plus a page per `--page-size` calls,
//! instead of a GET and a PUT per row. Calls the window does not hold are
//! read one by one, as before. The same read at the end of a run gives the
//! control totals (`compare::control`): what TrackDrive holds for the
//! window, per buyer, before and after.

use std::collections::HashMap;

use super::api::Api;
use super::pages::{self, Next};
use crate::input::fields::{CallField, pick_list_columns};
use crate::input::values::CallRef;
use crate::resolve::names::{Entry, List, ListKind};
use crate::trackdrive::Snapshot;

/// The most pages read for one window: a guard against an endless cursor.
const MAX_PAGES: u64 = 100_000;
/// The most calls held: a window this large should be narrowed.
const MAX_CALLS: usize = 2_000_000;

/// What a call of the window shows besides the fields of the table: who
/// called, when, and its buyer's name (for discrepancies, `compare::discrepancy`).
#[derive(Debug, Default)]
pub struct CallShown {
    pub caller: Option<String>,
    pub at_ms: Option<i64>,
    pub buyer: Option<String>,
    pub user_buyer_id: Option<String>,
}

/// The calls of a window, by id and by UUID.
#[derive(Debug, Default)]
pub struct Window {
    by_id: HashMap<u64, Snapshot>,
    by_uuid: HashMap<u128, u64>,
    /// `(caller number, created_at ms, id)` of every call that has both.
    callers: Vec<(String, i64, u64)>,
    /// What the discrepancies show of each call besides its snapshot.
    shown: HashMap<u64, CallShown>,
    /// Pages read.
    pub pages: u64,
    /// What the read had to do differently, to say in the summary once.
    pub notes: Vec<String>,
    /// Whether `columns=` was sent (and taken): a read of the same window
    /// again asks the same way.
    pub columns: bool,
}

impl Window {
    /// What the window holds for `call`, if it holds it.
    pub fn get(&self, call: &CallRef) -> Option<&Snapshot> {
        let id = match call {
            CallRef::Id(id) => *id,
            CallRef::Uuid(uuid) => *self.by_uuid.get(uuid)?,
        };
        self.by_id.get(&id)
    }

    /// The window's calls' ids by UUID, so a row naming a call by its UUID
    /// and another by its id are seen to name one call.
    pub fn ids_of_uuids(&self) -> HashMap<u128, u64> {
        self.by_uuid.clone()
    }

    /// The window's calls by caller, to find rows without an id.
    pub fn matcher(&self, window_ms: i64) -> crate::resolve::matching::Matcher {
        let mut matcher = crate::resolve::matching::Matcher::new(window_ms);
        for (caller, at, id) in &self.callers {
            matcher.add(caller, *at, *id);
        }
        matcher
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A window of these calls (as a page of the list shows them), for tests.
    #[cfg(test)]
    pub fn of_calls(calls: &[serde_json::Value]) -> Window {
        let mut window = Window::default();
        window.add(calls);
        window
    }

    /// Every call of the window: its id, its values, and what else it shows.
    pub fn calls(&self) -> impl Iterator<Item = (u64, &Snapshot, Option<&CallShown>)> {
        self.by_id.iter().map(|(id, call)| (*id, call, self.shown.get(id)))
    }

    /// The buyers the window's calls name (id, name, the buyer's own id):
    /// a report's Buyer labels are resolved among them first.
    pub fn buyers(&self) -> List {
        let mut seen = std::collections::BTreeMap::new();
        for (id, call) in &self.by_id {
            let Some(buyer) = call.text(CallField::BuyerId) else { continue };
            let shown = self.shown.get(id);
            // The first call that shows a name (and a code) gives them.
            let (name, code) = seen.entry(buyer).or_insert((None, None));
            if name.is_none() {
                *name = shown.and_then(|s| s.buyer.clone());
            }
            if code.is_none() {
                *code = shown.and_then(|s| s.user_buyer_id.clone());
            }
        }
        let entries = seen.into_iter().filter_map(|(id, (name, code))| {
            Entry::from_json(&serde_json::json!({"id": id, "name": name, "user_buyer_id": code}), ListKind::Buyers)
        });
        List::new(entries.collect())
    }

    /// Adds one page's calls; `false` when none of them was new (a server
    /// that ignores paging sends the same page again). A call without a
    /// readable id is skipped.
    fn add(&mut self, calls: &[serde_json::Value]) -> bool {
        let before = self.by_id.len();
        for call in calls {
            let id = match call.get("id") {
                Some(serde_json::Value::Number(n)) => n.as_u64(),
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            let Some(id) = id else { continue };
            if let Some(CallRef::Uuid(uuid)) =
                call.get("uuid").and_then(|u| u.as_str()).and_then(|u| CallRef::parse(u).ok())
            {
                self.by_uuid.insert(uuid, id);
            }
            let caller = call.get("caller_number").and_then(|c| c.as_str());
            let created =
                call.get("created_at").and_then(|c| c.as_str()).and_then(crate::trackdrive::snapshot::parse_time);
            if let (Some(caller), Some(created)) = (caller, created)
                && let Ok(caller) = crate::input::values::parse_caller_number(caller)
                && !self.by_id.contains_key(&id)
            {
                self.callers.push((caller, i64::try_from(created).unwrap_or(i64::MAX), id));
            }
            let text = |name: &str| match call.get(name) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            self.shown.insert(
                id,
                CallShown {
                    caller: text("caller_number"),
                    at_ms: created.and_then(|c| i64::try_from(c).ok()),
                    buyer: text("buyer"),
                    user_buyer_id: text("user_buyer_id"),
                },
            );
            if let Ok(snapshot) = serde_json::from_value::<Snapshot>(call.clone()) {
                self.by_id.insert(id, snapshot);
            }
        }
        self.by_id.len() > before
    }
}

/// A time as TrackDrive's list takes it: `2016-01-01 12:25:15 +0000`.
fn param_time(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%d %H:%M:%S +0000").to_string()
}

/// Reads every call made from `from_ms` to `to_ms`, `page_size` at a time
/// (the server may send fewer: its pages are followed as they come), with
/// `columns=` when `columns`. A server that refuses `columns=` is asked
/// again without it, once.
pub async fn fetch_window(
    api: &Api,
    from_ms: i64,
    to_ms: i64,
    page_size: u32,
    columns: bool,
) -> Result<Window, String> {
    let mut window = Window { columns, ..Window::default() };
    let mut columns = columns;
    let (mut next, mut page, mut largest) = (Next::Cursor("-1".into()), 1u64, 0usize);
    while window.pages < MAX_PAGES {
        let mut url = api.endpoint.calls_list_url();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("created_at_from", &param_time(from_ms))
                .append_pair("created_at_to", &param_time(to_ms))
                .append_pair("time_zone", "UTC")
                .append_pair("per_page", &page_size.to_string())
                .append_pair("order", "created_at");
            if columns {
                query.append_pair("columns", &pick_list_columns().join(","));
            }
            match &next {
                Next::Cursor(cursor) => query.append_pair("cursor", cursor),
                Next::Page(n) => query.append_pair("page", &n.to_string()),
                Next::Done => unreachable!("the loop ends on Done"),
            };
        }
        let doc = match api.get_json(&url).await {
            Ok(doc) => doc,
            // Refused with `columns=`: the pick list may be enforced
            // differently on this account. Start again without it.
            Err(e) if columns && e.status.is_some_and(|s| (400..500).contains(&s)) && e.status != Some(401) => {
                window.notes.push(format!(
                    "the calls list refused columns= ({}); the window was read with every field",
                    e.why.rsplit(": ").next().unwrap_or_default()
                ));
                columns = false;
                (next, page, largest) = (Next::Cursor("-1".into()), 1, 0);
                // The refused page was a request too.
                let (notes, pages) = (std::mem::take(&mut window.notes), window.pages + 1);
                window = Window { notes, pages, ..Window::default() };
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        window.pages += 1;
        let calls = pages::items(&doc, "calls").ok_or("a calls page holds no calls list")?;
        let new = window.add(calls);
        if window.len() > MAX_CALLS {
            return Err(format!("the window holds more than {MAX_CALLS} calls: narrow it with --since/--until"));
        }
        largest = largest.max(calls.len());
        next = pages::next(&doc, page, calls.len(), largest);
        page += 1;
        if next == Next::Done || !new {
            return Ok(window);
        }
    }
    Err(format!("the window's calls ran past {MAX_PAGES} pages"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_are_found_by_id_and_uuid() {
        let mut w = Window::default();
        assert!(w.add(&[
            json!({"id": 7, "uuid": "c3b20b12-3b3b-4322-b15d-0f1c5f653479", "revenue": "1.50", "buyer_id": 9}),
            json!({"id": "8", "revenue": 2}),
            json!({"uuid": "no id"}),
        ]));
        assert_eq!(w.calls().count(), 2);
        assert_eq!(w.len(), 2);
        let uuid = CallRef::parse("c3b20b12-3b3b-4322-b15d-0f1c5f653479").unwrap();
        assert_eq!(w.get(&uuid).and_then(Snapshot::revenue).map(|d| d.to_string()), Some("1.50".into()));
        assert_eq!(w.get(&CallRef::Id(8)).and_then(Snapshot::revenue).map(|d| d.to_string()), Some("2.00".into()));
        assert!(w.get(&CallRef::Id(9)).is_none());
        assert_eq!(param_time(0), "1970-01-01 00:00:00 +0000");
        assert!(!w.add(&[json!({"id": 7})]), "a page of calls already read adds nothing");
    }
}
