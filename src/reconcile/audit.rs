//! Settling doubt from TrackDrive's audit log. `GET /api/v1/calls/:id/events`
//! lists a call's events; an `AuditLog` entry records an API request that
//! changed the call: its `request_path`, `request_method`, `response_status`
//! (a string), `params` (values as strings) and `created_at`. A row whose
//! send may or may not have been applied was applied if such an entry, made
//! after the row's intent, matches what the row sends; if none does, it was
//! not. Pure: the HTTP is in `upload::row`.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::Evidence;
use crate::input::update::CallUpdate;

/// How far an audit entry's time may lie before the intent's and still be
/// the row's: the server's clock and this machine's may disagree by this much.
pub const CLOCK_SKEW_MS: u64 = 120_000;

/// What was requested, to recognise its audit entry.
pub struct Request<'a> {
    /// `PUT`, `POST` or `PATCH`.
    pub method: &'a str,
    /// The call as the request named it (an id or a UUID).
    pub call: String,
    /// The fields sent (or, for an earlier run, the row's fields: those that
    /// change state are sent whatever `--reconcile` read).
    pub update: &'a CallUpdate,
    /// When the row's intent was recorded, in milliseconds since the epoch.
    pub since_ms: u64,
}

/// Reads an events document and weighs its audit entries for `request`:
/// applied as many times as entries after the intent match it, not applied
/// when none does, unclear when the log cannot tell (not the events
/// document, or a matching entry whose time cannot be read).
pub fn weigh(body: &str, request: &Request<'_>) -> Evidence {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(body) else {
        return Evidence::Unclear("the events response is not a JSON object".into());
    };
    let Some(events) = doc.get("events").and_then(Value::as_array) else {
        return Evidence::Unclear("the events response has no events list".into());
    };
    // The log may name the call by id or UUID whichever the request used.
    let mut names = vec![request.call.clone()];
    names.extend(["id", "uuid"].iter().filter_map(|k| doc.get(*k)).filter_map(scalar));
    let sent = match serde_json::from_slice::<Value>(&request.update.body_bytes()) {
        Ok(Value::Object(m)) => m,
        _ => return Evidence::Unclear("the update's body is not an object".into()),
    };
    let must = request.update.non_idempotent_fields();
    let mut applied = 0;
    for entry in events.iter().filter_map(Value::as_object) {
        if entry.get("type").and_then(Value::as_str) != Some("AuditLog") || !same_request(entry, request, &names) {
            continue;
        }
        let Some(params) = entry.get("params").and_then(Value::as_object) else { continue };
        if !params_match(params, &sent, &must) {
            continue;
        }
        match entry.get("created_at").and_then(Value::as_str).and_then(parse_time) {
            Some(at) if at.saturating_add(CLOCK_SKEW_MS) >= request.since_ms => applied += 1,
            Some(_) => {}
            None => return Evidence::Unclear("a matching audit entry has no readable time".into()),
        }
    }
    if applied == 0 { Evidence::NotApplied } else { Evidence::Applied(applied) }
}

/// The entry is a successful request of this method to this call's path.
fn same_request(entry: &Map<String, Value>, request: &Request<'_>, names: &[String]) -> bool {
    let text = |k: &str| entry.get(k).and_then(scalar).unwrap_or_default();
    let path = text("request_path");
    let path = path.split('?').next().unwrap_or_default().trim_end_matches('/');
    let call = path.rsplit_once("/api/v1/calls/").map(|(_, c)| c);
    text("request_method").eq_ignore_ascii_case(request.method)
        && text("response_status").starts_with('2')
        && call.is_some_and(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c)))
}

/// Every field that changes state each time is in `params` with the value
/// sent, and no field sent is there with another value.
fn params_match(params: &Map<String, Value>, sent: &Map<String, Value>, must: &[&str]) -> bool {
    must.iter().all(|k| params.contains_key(*k))
        && sent.iter().all(|(k, v)| params.get(k).is_none_or(|p| same_value(p, v)))
}

/// Equal once every scalar is text, amounts compared as decimals
/// (`"2.0"` = `"2.00"`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same_value(a, b)))
        }
        _ => match (scalar(a), scalar(b)) {
            (Some(x), Some(y)) => {
                x == y || matches!((x.parse::<Decimal>(), y.parse::<Decimal>()), (Ok(p), Ok(q)) if p == q)
            }
            _ => false,
        },
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// An event time, as ISO 8601 (`2026-11-28T14:03:36-05:00`) or as
/// TrackDrive writes times elsewhere (`2026-11-28 14:03:36 -0500`), in
/// milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let at = text
        .parse::<jiff::Timestamp>()
        .ok()
        .or_else(|| jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", text).ok()?.to_timestamp().ok())?;
    u64::try_from(at.as_millisecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::fields::{CallField, Value as FieldValue};
    use crate::input::update::Change;
    use crate::input::values::CallRef;
    use serde_json::json;

    fn add(amount: &str) -> CallUpdate {
        CallUpdate::new(CallRef::Id(1234))
            .with(CallField::Revenue, Change::Add(amount.parse().unwrap()))
            .with(CallField::BuyerConverted, Change::Set(FieldValue::Flag(true)))
    }

    fn entry(path: &str, method: &str, status: &str, params: Value, at: &str) -> Value {
        json!({"type": "AuditLog", "request_path": path, "request_method": method,
               "response_status": status, "params": params, "created_at": at})
    }

    fn weigh_with(update: &CallUpdate, events: Vec<Value>) -> Evidence {
        let body = json!({"id": 1234, "uuid": "8c5d0e8e-0000-4000-8000-000000000001", "events": events}).to_string();
        let since = parse_time("2026-11-28T12:00:00Z").unwrap();
        weigh(&body, &Request { method: "PUT", call: "1234".into(), update, since_ms: since })
    }

    #[test]
    fn evidence_table() {
        let u = add("2.00");
        let params = json!({"id": "1234", "add_revenue": "2.00", "buyer_converted": "true"});
        let after = "2026-11-28T12:00:05Z";
        let other = json!({"type": "CallUpdated", "created_at": after});
        let cases: Vec<(&str, Vec<Value>, Evidence)> = vec![
            (
                "matching entry after the intent",
                vec![other.clone(), entry("/api/v1/calls/1234", "PUT", "200", params.clone(), after)],
                Evidence::Applied(1),
            ),
            (
                "twice",
                vec![
                    entry("/api/v1/calls/1234", "PUT", "200", params.clone(), after),
                    entry("/api/v1/calls/1234", "PUT", "200", params.clone(), after),
                ],
                Evidence::Applied(2),
            ),
            ("only other event types", vec![other.clone()], Evidence::NotApplied),
            (
                "before the intent (beyond the clock skew)",
                vec![entry("/api/v1/calls/1234", "PUT", "200", params.clone(), "2026-11-28T11:50:00Z")],
                Evidence::NotApplied,
            ),
            (
                "within the clock skew",
                vec![entry("/api/v1/calls/1234", "PUT", "200", params.clone(), "2026-11-28 06:59:30 -0500")],
                Evidence::Applied(1),
            ),
            (
                "another amount",
                vec![entry("/api/v1/calls/1234", "PUT", "200", json!({"add_revenue": "3.00"}), after)],
                Evidence::NotApplied,
            ),
            (
                "same amount written differently",
                vec![entry("/api/v1/calls/1234", "PUT", "200", json!({"add_revenue": "2.0"}), after)],
                Evidence::Applied(1),
            ),
            (
                "a set-only request",
                vec![entry("/api/v1/calls/1234", "PUT", "200", json!({"buyer_converted": "true"}), after)],
                Evidence::NotApplied,
            ),
            ("refused", vec![entry("/api/v1/calls/1234", "PUT", "422", params.clone(), after)], Evidence::NotApplied),
            (
                "another method",
                vec![entry("/api/v1/calls/1234", "POST", "200", params.clone(), after)],
                Evidence::NotApplied,
            ),
            (
                "another call",
                vec![entry("/api/v1/calls/12345", "PUT", "200", params.clone(), after)],
                Evidence::NotApplied,
            ),
            (
                "by UUID",
                vec![entry(
                    "/api/v1/calls/8c5d0e8e-0000-4000-8000-000000000001?serializer=call",
                    "PUT",
                    "200",
                    params.clone(),
                    after,
                )],
                Evidence::Applied(1),
            ),
        ];
        for (name, events, want) in cases {
            assert_eq!(weigh_with(&u, events), want, "{name}");
        }
        let no_time = vec![entry("/api/v1/calls/1234", "PUT", "200", params, "yesterday")];
        assert!(matches!(weigh_with(&u, no_time), Evidence::Unclear(_)));
        let since = 0;
        let req = Request { method: "PUT", call: "1".into(), update: &u, since_ms: since };
        assert!(matches!(weigh("<html>", &req), Evidence::Unclear(_)));
        assert!(matches!(weigh("{\"call\":{}}", &req), Evidence::Unclear(_)));
    }
}
