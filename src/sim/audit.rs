//! The simulator's audit log and clock, as a real account may differ from
//! TrackDrive's documented example: a clock that runs apart from real time
//! (its AuditLog times and its `Date` header), params typed otherwise than
//! as strings (numbers, `"1"` for `true`), nested under `call` as Rails logs
//! them, contact fields as a JSON string, or only the parameters the API
//! knows (a reference tdrecon sends then leaves no trace).

use serde_json::{Map, Value};

use crate::input::fields::CallField;

/// How AuditLog params are written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditStyle {
    pub typed: Typed,
    /// Params nested under `call`, as a Rails controller logs them.
    pub nested: bool,
    /// `post_call_tokens` as a JSON string rather than an object.
    pub tokens_as_text: bool,
    /// Only the parameters the API knows: others (a reference) are dropped.
    pub known_only: bool,
}

/// How a param's value is typed in the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Typed {
    /// Every value a string, as the documented example shows them.
    #[default]
    Strings,
    /// As the request sent them: numbers, booleans.
    AsSent,
    /// Strings, with `"1"` and `"0"` for booleans.
    Ones,
}

/// The params an AuditLog entry records for an update `body` of call `id`.
pub fn params(body: &Map<String, Value>, style: &AuditStyle, id: u64) -> Value {
    fn typed(v: &Value, how: Typed) -> Value {
        match (v, how) {
            (_, Typed::AsSent) => v.clone(),
            (Value::Bool(b), Typed::Ones) => Value::String(if *b { "1" } else { "0" }.into()),
            (Value::String(_), _) => v.clone(),
            (Value::Null, _) => Value::String(String::new()),
            (Value::Bool(_) | Value::Number(_), _) => Value::String(v.to_string()),
            (Value::Array(items), _) => Value::Array(items.iter().map(|i| typed(i, how)).collect()),
            (Value::Object(m), _) => Value::Object(m.iter().map(|(k, v)| (k.clone(), typed(v, how))).collect()),
        }
    }
    let mut params: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| !style.known_only || CallField::of_param(k).is_some())
        .map(|(k, v)| {
            let v = if style.tokens_as_text && k == CallField::Tokens.param() {
                Value::String(v.to_string())
            } else {
                typed(v, style.typed)
            };
            (k.clone(), v)
        })
        .collect();
    let id = Value::String(id.to_string());
    if style.nested {
        let mut outer = Map::new();
        outer.insert("id".into(), id);
        outer.insert("call".into(), Value::Object(params));
        Value::Object(outer)
    } else {
        params.insert("id".into(), id);
        Value::Object(params)
    }
}

/// Now by the simulator's clock: real time and `offset_ms`.
pub fn now(offset_ms: i64) -> jiff::Timestamp {
    let real = jiff::Timestamp::now();
    real.checked_add(jiff::SignedDuration::from_millis(offset_ms)).unwrap_or(real)
}

/// A time as TrackDrive's events write it: milliseconds and the account's
/// offset (`2023-12-11T11:50:45.692-05:00`).
pub fn log_time(at: jiff::Timestamp) -> String {
    let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(-5));
    at.to_zoned_datetime(zone).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Map<String, Value> {
        json!({"add_revenue": "2.00", "buyer_converted": true, "post_call_tokens": {"zip": "9"}, "tdrecon_ref": "r-2"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn styles() {
        let strings = params(&body(), &AuditStyle::default(), 7);
        assert_eq!(
            strings,
            json!({"id": "7", "add_revenue": "2.00", "buyer_converted": "true",
            "post_call_tokens": {"zip": "9"}, "tdrecon_ref": "r-2"})
        );
        let odd = AuditStyle { typed: Typed::Ones, nested: true, tokens_as_text: true, known_only: true };
        assert_eq!(
            params(&body(), &odd, 7),
            json!({"id": "7", "call": {"add_revenue": "2.00",
            "buyer_converted": "1", "post_call_tokens": "{\"zip\":\"9\"}"}})
        );
        let sent = AuditStyle { typed: Typed::AsSent, ..AuditStyle::default() };
        assert_eq!(params(&body(), &sent, 7)["buyer_converted"], json!(true));
        let t = "2026-11-28T14:03:36.692Z".parse().unwrap();
        assert_eq!(log_time(t), "2026-11-28T09:03:36.692-05:00");
    }
}
