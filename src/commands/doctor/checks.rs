//! What `tdrecon doctor` concludes from what it read: each assumption of
//! ../shared/TRACKDRIVE-API.md, checked against a response, as OK or WARN
//! with what was seen. Pure: the reads are `doctor::run`'s.

use serde_json::Value;

use crate::input::fields::CallField;
use crate::resolve::names::{Entry, ListKind};
use crate::trackdrive::pages;

/// Whether an assumption holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
}

/// One assumption checked, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub saw: String,
}

fn ok(name: &str, saw: impl Into<String>) -> Check {
    Check { name: name.to_string(), verdict: Verdict::Ok, saw: saw.into() }
}

fn warn(name: &str, saw: impl Into<String>) -> Check {
    Check { name: name.to_string(), verdict: Verdict::Warn, saw: saw.into() }
}

/// The first authenticated read: 2xx means the keys work.
pub fn keys(status: u16, body: &str) -> Check {
    match status {
        200..=299 => ok("keys", format!("{status}: the keys may read calls")),
        401 | 403 => warn("keys", format!("{status}: refused; check the keys and their permissions")),
        other => warn("keys", format!("{other}: {}", excerpt(body))),
    }
}

/// The list's envelope: `{"calls": [...], "metadata": {...}}`.
pub fn envelope(doc: &Value) -> Check {
    match doc {
        Value::Object(m) if m.get("calls").is_some_and(Value::is_array) => {
            let keys: Vec<&str> = m
                .get("metadata")
                .and_then(Value::as_object)
                .map_or(Vec::new(), |m| m.keys().map(String::as_str).collect());
            if keys.is_empty() {
                warn("calls list envelope", "calls under `calls`, but no metadata (pages are followed by their size)")
            } else {
                ok("calls list envelope", format!("calls under `calls`, metadata with {}", keys.join(", ")))
            }
        }
        Value::Array(_) => warn("calls list envelope", "a bare array without root=false (tolerated)"),
        other => warn("calls list envelope", format!("neither calls nor an array: {}", excerpt(&other.to_string()))),
    }
}

/// For each field tdrecon reads, which name the calls carry it by.
pub fn fields(calls: &[Value]) -> Vec<Check> {
    if calls.is_empty() {
        return vec![warn("call fields", "the list holds no call to look at")];
    }
    let has = |name: &str| calls.iter().any(|c| c.get(name).is_some());
    let mut checks = Vec::new();
    for name in ["id", "uuid", "created_at", "caller_number"] {
        checks.push(if has(name) {
            ok(&format!("field {name}"), "present")
        } else {
            warn(&format!("field {name}"), "absent: calls cannot be found by it")
        });
    }
    for field in CallField::readable() {
        let spec = field.spec();
        let label = format!("field {}", spec.param);
        let found: Vec<&str> = spec.read.iter().copied().filter(|n| has(n)).collect();
        checks.push(match found.first() {
            Some(first) if *first == spec.read[0] => ok(&label, format!("read as `{first}`")),
            Some(other) => {
                warn(&label, format!("read as `{other}`, not the documented `{}` (tolerated)", spec.read[0]))
            }
            None => warn(
                &label,
                format!(
                    "calls carry neither {}: tdrecon cannot compare, plan or roll back this field",
                    spec.read.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" nor ")
                ),
            ),
        });
    }
    checks
}

fn ids(doc: &Value) -> Vec<String> {
    pages::items(doc, "calls").unwrap_or_default().iter().filter_map(|c| c.get("id")).map(Value::to_string).collect()
}

/// Cursor paging: a second page by cursor holds other calls than the
/// first; by `page`, the same as by cursor.
pub fn paging(first: &Value, by_cursor: Option<&Value>, by_page: Option<&Value>) -> Check {
    let name = "cursor and pages";
    let next = first.pointer("/metadata/next_cursor");
    let (Some(cursor_doc), Some(next)) = (by_cursor, next) else {
        return match first.pointer("/metadata/total_pages") {
            Some(total) => ok(name, format!("no next_cursor; total_pages {total} (followed by page)")),
            None if ids(first).len() < 2 => ok(name, "too few calls to need a second page"),
            None => warn(name, "no next_cursor and no total_pages: pages are followed until a short one"),
        };
    };
    let (a, b) = (ids(first), ids(cursor_doc));
    if b.is_empty() || a.iter().any(|id| b.contains(id)) {
        return warn(name, format!("next_cursor {next} did not give the next calls (first {a:?}, then {b:?})"));
    }
    match by_page.map(ids) {
        Some(p) if p == b => ok(name, format!("next_cursor {next} gives the next calls; page=2 gives the same")),
        Some(p) => ok(name, format!("next_cursor {next} gives the next calls; page=2 gave {p:?} (cursor is used)")),
        None => ok(name, format!("next_cursor {next} gives the next calls")),
    }
}

/// `columns=` asked for `asked`: honoured, ignored, or refused.
pub fn columns(status: u16, doc: Option<&Value>, asked: &[&str]) -> Check {
    let name = "columns=";
    if !(200..300).contains(&status) {
        return warn(name, format!("refused with {status}: tdrecon reads the window with every field"));
    }
    let calls = doc.and_then(|d| pages::items(d, "calls")).unwrap_or_default();
    let extra: Vec<String> = calls
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|c| c.keys())
        .filter(|k| !asked.contains(&k.as_str()))
        .cloned()
        .collect();
    match (calls.is_empty(), extra.first()) {
        (true, _) => ok(name, "accepted (no call to look at)"),
        (false, None) => ok(name, format!("honoured: only {}", asked.join(","))),
        (false, Some(k)) => {
            warn(name, format!("accepted but not honoured (also `{k}`): pages are larger, nothing else"))
        }
    }
}

/// The largest page served when asked for `asked`.
pub fn largest_page(doc: &Value, asked: usize) -> Check {
    let n = pages::items(doc, "calls").map_or(0, <[Value]>::len);
    let more = pages::next(doc, 1, n, n) != pages::Next::Done;
    match (n, more) {
        (0, _) => ok("largest page", "no calls to count"),
        (n, true) if n < asked => ok("largest page", format!("{n} calls a page when {asked} are asked (capped)")),
        (n, _) => ok("largest page", format!("{n} calls a page served when {asked} are asked")),
    }
}

/// A call's events: the envelope, and its AuditLog entries' shape.
pub fn events(doc: &Value) -> Check {
    let name = "events and audit log";
    let Some(events) = doc.get("events").and_then(Value::as_array) else {
        return warn(name, format!("no events list: {}", excerpt(&doc.to_string())));
    };
    let paged = doc.get("metadata").map(|m| format!("; paged ({m})")).unwrap_or_default();
    let audits: Vec<&Value> =
        events.iter().filter(|e| e.get("type").and_then(Value::as_str) == Some("AuditLog")).collect();
    let Some(audit) = audits.first() else {
        return ok(name, format!("{} events, no AuditLog entry on this call to check{paged}", events.len()));
    };
    let missing: Vec<&str> = ["request_path", "request_method", "response_status", "params", "created_at"]
        .into_iter()
        .filter(|k| audit.get(*k).is_none())
        .collect();
    let status_string = audit.get("response_status").is_some_and(Value::is_string);
    if !missing.is_empty() {
        return warn(name, format!("an AuditLog entry lacks {}: settling from it falls back", missing.join(", ")));
    }
    let typed = if status_string { "response_status a string" } else { "response_status not a string (tolerated)" };
    ok(name, format!("{} events, {} AuditLog entries; {typed}{paged}", events.len(), audits.len()))
}

/// A name list: it answers, how it pages, and whether its records can be
/// named.
pub fn name_list(path: &str, doc: &Value, kind: ListKind) -> Check {
    let name = format!("list {path}");
    let Some(items) = pages::items(doc, path) else {
        return warn(&name, format!("no {path} list: {}", excerpt(&doc.to_string())));
    };
    let entries: Vec<Entry> = items.iter().filter_map(|i| Entry::from_json(i, kind)).collect();
    let nameless = entries.iter().filter(|e| e.keys.is_empty()).count();
    let paging = match doc.pointer("/metadata/total_pages") {
        Some(t) => format!("total_pages {t}"),
        None => "no total_pages (followed until a short page)".into(),
    };
    let example = entries.first().map(|e| format!(", e.g. {:?}", e.name)).unwrap_or_default();
    if nameless > 0 {
        warn(&name, format!("{} records, {nameless} with nothing to name them by; {paging}", items.len()))
    } else {
        ok(&name, format!("{} records on the first page{example}; {paging}", items.len()))
    }
}

/// Rate-limit headers seen on any response.
pub fn rate_headers(headers: &[(String, String)]) -> Check {
    let seen: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.contains("ratelimit") || k.contains("rate-limit") || k == "retry-after")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if seen.is_empty() {
        ok("rate-limit headers", "none seen (--rate auto finds the limit from 429s)")
    } else {
        ok("rate-limit headers", seen.join("; "))
    }
}

fn excerpt(text: &str) -> String {
    let t: String = text.chars().take(80).collect();
    if text.chars().count() > 80 { format!("{t}…") } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verdicts(checks: &[Check]) -> Vec<(String, Verdict)> {
        checks.iter().map(|c| (c.name.clone(), c.verdict)).collect()
    }

    #[test]
    fn each_assumption_ok_or_warn() {
        assert_eq!(keys(200, "").verdict, Verdict::Ok);
        assert_eq!(keys(401, "").verdict, Verdict::Warn);
        assert_eq!(envelope(&json!({"calls": [], "metadata": {"next_cursor": 0}})).verdict, Verdict::Ok);
        assert_eq!(envelope(&json!([])).verdict, Verdict::Warn);
        assert_eq!(envelope(&json!({"data": []})).verdict, Verdict::Warn);
        let documented = json!({"id": 1, "uuid": "u", "created_at": "t", "caller_number": "+1", "revenue": "1",
            "payout": "0", "buyer_converted": true, "traffic_source_converted": false, "buyer_id": null,
            "traffic_source_id": null, "disposition_id": null, "disposition_notes": null, "contact_field_type": null,
            "token_values": {}});
        let all = fields(std::slice::from_ref(&documented));
        assert!(all.iter().all(|c| c.verdict == Verdict::Ok), "{all:?}");
        let update_names = json!({"id": 1, "uuid": "u", "created_at": "t", "caller_number": "+1", "revenue": "1",
            "payout": "0", "buyer_converted": true, "offer_converted": false, "call_disposition_id": null});
        let checks = fields(&[update_names]);
        let warned: Vec<String> =
            verdicts(&checks).into_iter().filter(|(_, v)| *v == Verdict::Warn).map(|(n, _)| n).collect();
        assert!(warned.contains(&"field offer_converted".to_string()), "{warned:?}");
        assert!(warned.contains(&"field agent_call_disposition_notes".to_string()), "{warned:?}");
        let notes = checks.iter().find(|c| c.name == "field agent_call_disposition_notes").unwrap();
        assert!(notes.saw.contains("neither `disposition_notes` nor `agent_call_disposition_notes`"), "{notes:?}");
        assert_eq!(fields(&[]).len(), 1);
    }

    #[test]
    fn paging_columns_events_lists() {
        let first = json!({"calls": [{"id": 1}, {"id": 2}], "metadata": {"next_cursor": 3}});
        let second = json!({"calls": [{"id": 3}, {"id": 4}], "metadata": {"next_cursor": 0}});
        assert_eq!(paging(&first, Some(&second), Some(&second)).verdict, Verdict::Ok);
        assert_eq!(paging(&first, Some(&first), None).verdict, Verdict::Warn, "the same page again");
        assert_eq!(paging(&json!({"calls": [{"id": 1}, {"id": 2}]}), None, None).verdict, Verdict::Warn);
        let asked = ["id", "revenue"];
        assert_eq!(columns(200, Some(&json!({"calls": [{"id": 1, "revenue": "1"}]})), &asked).verdict, Verdict::Ok);
        assert_eq!(columns(200, Some(&json!({"calls": [{"id": 1, "payout": "1"}]})), &asked).verdict, Verdict::Warn);
        assert_eq!(columns(422, None, &asked).verdict, Verdict::Warn);
        let audit = json!({"type": "AuditLog", "request_path": "/api/v1/calls/1", "request_method": "PUT",
            "response_status": "200", "params": {}, "created_at": "t"});
        assert_eq!(events(&json!({"events": [audit]})).verdict, Verdict::Ok);
        assert_eq!(events(&json!({"events": [{"type": "AuditLog"}]})).verdict, Verdict::Warn);
        assert_eq!(events(&json!({"call": {}})).verdict, Verdict::Warn);
        let sources = json!({"traffic_sources": [{"id": 1, "first_name": "A", "last_name": "B", "user_traffic_source_id": "T1"}]});
        let check = name_list("traffic_sources", &sources, ListKind::TrafficSources);
        assert!(check.verdict == Verdict::Ok && check.saw.contains("\"T1 - A B\""), "{check:?}");
        assert_eq!(name_list("buyers", &json!({"buyers": [{"id": 1}]}), ListKind::Buyers).verdict, Verdict::Warn);
        assert!(rate_headers(&[("x-ratelimit-limit".into(), "60".into())]).saw.contains("60"));
    }
}
