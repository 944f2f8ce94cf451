//! Window reads for `--reconcile`: the calls of a time window, read in pages
//! (`GET /api/v1/calls` with `created_at_from` / `created_at_to`, cursor
//! paging, `columns=` to keep the pages small) before anything is sent, so
//! each row is compared with what its call holds without a GET of its own.
//! A night then costs about one request per row that changes, plus a page
//! per `--page-size` calls, instead of a GET and a PUT per row. Calls the
//! window does not hold are read one by one, as before.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::api::Api;
use crate::input::values::CallRef;
use crate::reconcile::Snapshot;

/// The most pages read for one window: a guard against an endless cursor.
const MAX_PAGES: u64 = 100_000;
/// The most calls held: a window this large should be narrowed.
const MAX_CALLS: usize = 2_000_000;
/// The fields asked for: what a snapshot reads, and what finds the call.
const COLUMNS: &str = "id,uuid,revenue,payout,buyer_converted,offer_converted,call_disposition_id,\
agent_call_disposition_notes,trackdrive_buyer_id,trackdrive_traffic_source_id,contact_field_type,\
post_call_tokens,created_at,caller_number";

/// The calls of a window, by id and by UUID.
#[derive(Debug, Default)]
pub struct Window {
    by_id: HashMap<u64, Snapshot>,
    by_uuid: HashMap<u128, u64>,
    /// `(caller number, created_at ms, id)` of every call that has both.
    callers: Vec<(String, i64, u64)>,
    /// Pages read.
    pub pages: u64,
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

    /// The window's calls by caller, to find rows without an id.
    pub fn matcher(&self, window_ms: i64) -> crate::input::matching::Matcher {
        let mut matcher = crate::input::matching::Matcher::new(window_ms);
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

    /// Adds one page's calls; a call without a readable id is skipped.
    fn add(&mut self, calls: &[serde_json::Value]) {
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
            let created = call.get("created_at").and_then(|c| c.as_str()).and_then(crate::reconcile::audit::parse_time);
            if let (Some(caller), Some(created)) = (caller, created)
                && let Ok(caller) = crate::input::values::parse_caller_number(caller)
            {
                self.callers.push((caller, i64::try_from(created).unwrap_or(i64::MAX), id));
            }
            if let Ok(snapshot) = serde_json::from_value::<Snapshot>(call.clone()) {
                self.by_id.insert(id, snapshot);
            }
        }
    }
}

/// A time as TrackDrive's list takes it: `2016-01-01 12:25:15 +0000`.
fn param_time(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%d %H:%M:%S +0000").to_string()
}

/// Reads every call made from `from_ms` to `to_ms`, `page_size` at a time
/// (the server may send fewer: its pages are followed as they come).
pub async fn fetch_window(api: &Api, from_ms: i64, to_ms: i64, page_size: u32) -> Result<Window, String> {
    let mut window = Window::default();
    let mut cursor = "-1".to_string();
    while window.pages < MAX_PAGES {
        let mut url = api.endpoint.calls_list_url();
        url.query_pairs_mut()
            .append_pair("created_at_from", &param_time(from_ms))
            .append_pair("created_at_to", &param_time(to_ms))
            .append_pair("time_zone", "UTC")
            .append_pair("per_page", &page_size.to_string())
            .append_pair("order", "created_at")
            .append_pair("columns", COLUMNS)
            .append_pair("cursor", &cursor);
        let doc = api.get_json(&url).await?;
        window.pages += 1;
        let calls = doc.get("calls").and_then(|c| c.as_array()).ok_or("a calls page holds no calls list")?;
        window.add(calls);
        if window.len() > MAX_CALLS {
            return Err(format!("the window holds more than {MAX_CALLS} calls: narrow it with --since/--until"));
        }
        let next = match doc.pointer("/metadata/next_cursor") {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => "0".to_string(),
        };
        if next == "0" || calls.is_empty() {
            return Ok(window);
        }
        cursor = next;
    }
    Err(format!("the window's calls ran past {MAX_PAGES} pages"))
}

/// TrackDrive's own revenue and payout totals for a window
/// (`GET /api/v1/calls/stats`, `stat=revenue` and `stat=cost`, summed over
/// its days): the control totals a reconciled night is checked against.
pub async fn fetch_totals(api: &Api, from_ms: i64, to_ms: i64) -> Result<(Decimal, Decimal), String> {
    let mut totals = [Decimal::ZERO; 2];
    for (total, stat) in totals.iter_mut().zip(["revenue", "cost"]) {
        let mut url = api.endpoint.calls_list_url();
        url.path_segments_mut().map_err(|()| "the base URL has no path")?.push("stats");
        url.query_pairs_mut()
            .append_pair("group_by", "created_at_day")
            .append_pair("stat", stat)
            .append_pair("created_at_from", &param_time(from_ms))
            .append_pair("created_at_to", &param_time(to_ms))
            .append_pair("time_zone", "UTC");
        let doc = api.get_json(&url).await?;
        let rows = doc.get("stats").and_then(|s| s.as_array()).ok_or("the stats response holds no stats list")?;
        for row in rows {
            let value = match row.get(stat) {
                Some(serde_json::Value::String(s)) => s.parse::<Decimal>().ok(),
                Some(serde_json::Value::Number(n)) => n.to_string().parse::<Decimal>().ok(),
                _ => None,
            };
            *total += value.ok_or_else(|| format!("a stats row without a readable {stat}"))?;
        }
    }
    Ok((totals[0], totals[1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_are_found_by_id_and_uuid() {
        let mut w = Window::default();
        w.add(&[
            json!({"id": 7, "uuid": "c3b20b12-3b3b-4322-b15d-0f1c5f653479", "revenue": "1.50"}),
            json!({"id": "8", "revenue": 2}),
            json!({"uuid": "no id"}),
        ]);
        assert_eq!(w.len(), 2);
        let uuid = CallRef::parse("c3b20b12-3b3b-4322-b15d-0f1c5f653479").unwrap();
        assert_eq!(w.get(&uuid).and_then(|s| s.revenue).map(|d| d.to_string()), Some("1.50".into()));
        assert_eq!(w.get(&CallRef::Id(8)).and_then(|s| s.revenue).map(|d| d.to_string()), Some("2.00".into()));
        assert!(w.get(&CallRef::Id(9)).is_none());
        assert_eq!(param_time(0), "1970-01-01 00:00:00 +0000");
    }
}
