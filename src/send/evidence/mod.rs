//! Settling doubt from TrackDrive's audit log. `GET /api/v1/calls/:id/events`
//! lists a call's events, in pages; an `AuditLog` entry records an API
//! request that changed the call: its `request_path`, `request_method`,
//! `response_status`, `params` (as strings in the documented example; a
//! real account may type them otherwise or nest them under `call`) and
//! `created_at` (by the server's clock).
//!
//! Each update tdrecon sends carries its own reference (`REFERENCE_PARAM`,
//! `<run>-<line>`), so a row in doubt is settled by finding its reference:
//! no clock and no earlier identical add can mislead that. Absence of
//! evidence never resends an add. A row is *not applied* only on evidence:
//! its reference missing from a complete log of an account whose log is
//! known to record references (and either the call's values still as they
//! were before, or long enough since the intent for any entry to be there);
//! or, where references are not recorded, the call's values still as they
//! were before and no entry in the log that could be this update at all.
//! Where references are not recorded and the server's clock is known (from
//! its `Date` header), entries like this update made since the intent, by
//! the server's clock, show it applied. Anything else is unclear. Pure: the
//! reads are `send`'s.

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::input::fields::REFERENCE_PARAM;
use crate::input::update::CallUpdate;
pub use crate::trackdrive::snapshot::parse_time;

/// How far an audit entry's time may lie before the intent (on the server's
/// clock) and still be the row's: a `Date` header has one-second resolution.
const CLOCK_SLACK_MS: i64 = 2_000;

/// What a call's values or its audit log say about an update that may or
/// may not have been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Applied this many times (more than once: before tdrecon could tell).
    Applied(usize),
    /// Not applied: safe to send once more.
    NotApplied,
    /// The evidence cannot tell, and why.
    Unclear(String),
}

/// What was requested, to recognise its audit entry.
pub struct Request<'a> {
    /// `PUT`, `POST` or `PATCH`.
    pub method: &'a str,
    /// The call as the request named it (an id or a UUID).
    pub call: String,
    /// The fields sent (or, for an earlier run, the row's fields: those that
    /// change state are sent whatever `--reconcile` read).
    pub update: &'a CallUpdate,
    /// The reference the request carried, if it carried one.
    pub reference: Option<&'a str>,
}

/// What else is known when the log is weighed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Knowledge {
    /// The account's log was seen recording this run's references.
    pub echoed: bool,
    /// The call's values are still those read before the update was sent
    /// (`None`: not known: nothing was read before).
    pub values_unchanged: Option<bool>,
    /// Milliseconds since the intent, by this machine's clock.
    pub since_intent_ms: u64,
    /// Every attempt of the update was answered or had its connection
    /// closed: none can still be running on the server.
    pub finished: bool,
    /// The intent's time on the server's clock (this machine's, corrected
    /// by the skew its `Date` headers show), when the skew is known.
    pub intent_on_server_ms: Option<i64>,
    /// How long after its intent an update is taken to have landed and to
    /// be in the log, by this machine's clock (`--audit-lag`): a request
    /// may still be applied after its client gave up, and a log may lag
    /// behind the write it records.
    pub lag_ms: u64,
}

impl Knowledge {
    /// No attempt of the update can still land: each was answered or had its
    /// connection closed, or long enough has passed since the intent. Values
    /// still as they were before do not say this: a request that timed out
    /// may be applied after they were read.
    pub fn no_write_in_flight(&self) -> bool {
        self.finished || self.since_intent_ms >= self.lag_ms
    }
}

/// A call's audit log, read from all its pages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Log {
    /// The `AuditLog` entries.
    entries: Vec<Map<String, Value>>,
    /// The call's id and UUID, as the events document names it.
    names: Vec<String>,
    /// Every page was read, none cut short.
    pub complete: bool,
}

impl Log {
    /// Reads the pages of a call's events (`complete`: the last page says it
    /// is the last, and no page was cut short).
    pub fn read(pages: &[Value], complete: bool) -> Result<Log, String> {
        let mut log = Log { complete, ..Log::default() };
        for page in pages {
            let Value::Object(doc) = page else { return Err("the events response is not a JSON object".into()) };
            let events = doc.get("events").and_then(Value::as_array).ok_or("the events response has no events list")?;
            for name in ["id", "uuid"].iter().filter_map(|k| doc.get(*k)).filter_map(scalar) {
                if !log.names.contains(&name) {
                    log.names.push(name);
                }
            }
            let audits = events
                .iter()
                .filter_map(Value::as_object)
                .filter(|e| e.get("type").and_then(Value::as_str) == Some("AuditLog"));
            log.entries.extend(audits.cloned());
        }
        Ok(log)
    }

    /// Whether any entry carries a reference of this run (`<run>-…`).
    pub fn shows_run(&self, run: &str) -> bool {
        let prefix = format!("{run}-");
        self.entries.iter().any(|e| reference_of(e).is_some_and(|r| r.starts_with(&prefix)))
    }

    /// Whether any entry carries a reference at all (tdrecon's, of any
    /// run): the account's log records the parameter.
    pub fn shows_references(&self) -> bool {
        self.entries.iter().any(|e| reference_of(e).is_some())
    }

    /// How many entries carry exactly `reference`.
    pub fn count_reference(&self, reference: &str) -> usize {
        self.entries.iter().filter(|e| reference_of(e).as_deref() == Some(reference)).count()
    }
}

/// Weighs a call's audit log for `request`, sent by a row in doubt.
pub fn weigh(log: &Log, request: &Request<'_>, knowledge: &Knowledge) -> Evidence {
    if let Some(reference) = request.reference {
        match log.count_reference(reference) {
            0 => {}
            n => return Evidence::Applied(n),
        }
        // Missing from a complete log that records references, and no
        // attempt can still land: the server said it was done with each, or
        // long enough has passed for any to have landed and been logged.
        if knowledge.echoed && log.complete && knowledge.no_write_in_flight() {
            return Evidence::NotApplied;
        }
    }
    // Entries that could be this update: this call, this method, 2xx, the
    // same params, and no reference of anyone else's.
    let mut names = vec![request.call.clone()];
    names.extend(log.names.iter().cloned());
    let Ok(sent) = serde_json::from_slice::<Map<String, Value>>(&request.update.body_bytes()) else {
        return Evidence::Unclear("the update's body is not an object".into());
    };
    let must = request.update.non_idempotent_fields();
    let like: Vec<&Map<String, Value>> = log
        .entries
        .iter()
        .filter(|e| same_request(e, request.method, &names))
        .filter(|e| reference_of(e).is_none_or(|r| Some(r.as_str()) == request.reference))
        .filter(|e| params_match(&params_of(e), &sent, &must))
        .collect();
    // Nothing like it in a complete log, the values as they were before,
    // and no attempt that could still land: not applied.
    if like.is_empty() && log.complete && knowledge.values_unchanged == Some(true) && knowledge.no_write_in_flight() {
        return Evidence::NotApplied;
    }
    // References not seen recorded: entries like it since the intent, by
    // the server's clock (its `Date` headers), show it applied.
    if !knowledge.echoed
        && let Some(intent) = knowledge.intent_on_server_ms
    {
        let since = like.iter().filter_map(|e| entry_time(e)).filter(|at| *at >= intent - CLOCK_SLACK_MS).count();
        if since > 0 {
            return Evidence::Applied(since);
        }
    }
    Evidence::Unclear(unclear_why(log, request, knowledge, like.len()))
}

/// An earlier update in a call's log that made the same change a row would
/// make (the same add, the same webhook fired, a transcription asked for).
#[derive(Debug, Clone, PartialEq)]
pub struct SameChange {
    /// The earlier update's tdrecon reference, when it carried one.
    pub reference: Option<String>,
    /// When the log says it was applied, as the log writes it.
    pub at: Option<String>,
    /// The changes both make, as `param value`.
    pub same: Vec<String>,
}

impl SameChange {
    /// Why the row is refused, naming the earlier run (from its reference),
    /// the time and `--allow-repeat`.
    pub fn reason(&self, call: &str, zone: &jiff::tz::TimeZone) -> String {
        let what = self.same.join(", ");
        // The log's time, in the report's zone when it reads as an instant.
        let shown = |t: &str| match t.parse::<jiff::Timestamp>() {
            Ok(ts) => crate::text::local_time(ts.as_millisecond(), zone),
            Err(_) => t.to_string(),
        };
        let at = self.at.as_deref().map(|t| format!(" at {}", shown(t))).unwrap_or_default();
        match &self.reference {
            Some(reference) => {
                let run = reference.rsplit_once('-').map_or(reference.as_str(), |(run, _)| run);
                format!(
                    "repeats an update TrackDrive's audit log shows applied to call {call}{at} by tdrecon run {run} \
                     (reference {reference}, from this or another machine): {what}; --allow-repeat sends it again"
                )
            }
            None => format!(
                "repeats a change TrackDrive's audit log shows applied to call {call}{at}: {what} (sent without a \
                 reference, so it may be someone else's); --allow-repeat sends it anyway"
            ),
        }
    }
}

/// The first update in `log` that made the same change as `request` (any of
/// its adds, webhooks fired or transcription): applied (a 2xx write to this
/// call) at or after `since_ms` on the server's clock (an entry whose time
/// cannot be read counts), other than `request`'s own reference. With
/// `referenced_only`, only updates that carry a tdrecon reference count
/// (updates by people or other tools are not tdrecon's to refuse).
pub fn same_change(log: &Log, request: &Request<'_>, since_ms: i64, referenced_only: bool) -> Option<SameChange> {
    let actions = request.update.actions();
    if actions.is_empty() {
        return None;
    }
    let mut names = vec![request.call.clone()];
    names.extend(log.names.iter().cloned());
    log.entries.iter().filter(|e| is_write_to(e, &names)).find_map(|e| {
        let reference = reference_of(e);
        if reference.is_some() && reference.as_deref() == request.reference {
            return None;
        }
        if referenced_only && reference.is_none() {
            return None;
        }
        if entry_time(e).is_some_and(|at| at < since_ms) {
            return None;
        }
        let params = params_of(e);
        let same: Vec<String> = actions
            .iter()
            .filter(|(param, value)| params.get(param).is_some_and(|logged| holds(logged, value)))
            .map(|(param, value)| format!("{param} {value}"))
            .collect();
        (!same.is_empty()).then(|| SameChange {
            reference,
            at: e.get("created_at").and_then(scalar).filter(|t| !t.is_empty()),
            same,
        })
    })
}

/// A successful write (any method) to this call's path.
fn is_write_to(entry: &Map<String, Value>, names: &[String]) -> bool {
    ["PUT", "POST", "PATCH"].iter().any(|m| same_request(entry, m, names))
}

/// Whether a logged param holds one acting value: the value itself, or one
/// of a list of webhook ids (an array, or a list written as text).
fn holds(logged: &Value, value: &str) -> bool {
    let one = |v: &Value| same_value(v, &Value::String(value.to_string()));
    match logged {
        Value::Array(items) => items.iter().any(one),
        Value::String(text) if text.trim_start().starts_with('[') => {
            serde_json::from_str::<Value>(text).is_ok_and(|parsed| holds(&parsed, value))
        }
        Value::String(text) if text.contains(',') => {
            text.split(',').any(|part| one(&Value::String(part.trim().to_string())))
        }
        // A flag sent as `true` may be logged `"1"`: compare as a flag.
        other => one(other) || value.parse::<bool>().is_ok_and(|flag| same_value(other, &Value::Bool(flag))),
    }
}

/// Why the log cannot settle the row, in words for the results' error.
fn unclear_why(log: &Log, request: &Request<'_>, k: &Knowledge, like: usize) -> String {
    let mut why = Vec::new();
    if !log.complete {
        why.push("the log's pages could not all be read".to_string());
    }
    match (request.reference, k.echoed) {
        (None, _) => why.push("the update carried no reference".into()),
        (Some(_), false) => why.push("this account's log was not seen recording references".into()),
        (Some(_), true) => {
            why.push("its reference is not in the log yet, and a request that timed out may still be applied".into())
        }
    }
    if like > 0 {
        why.push(format!("{like} entries look like this update and cannot be told apart by time"));
    }
    if k.values_unchanged.is_none() {
        why.push("the call was not read before it was sent".into());
    }
    why.join("; ")
}

/// The entry's params, with those nested under `call` (as Rails logs them)
/// brought up.
fn params_of(entry: &Map<String, Value>) -> Map<String, Value> {
    let mut params = entry.get("params").and_then(Value::as_object).cloned().unwrap_or_default();
    if let Some(Value::Object(nested)) = params.remove("call") {
        for (k, v) in nested {
            params.entry(k).or_insert(v);
        }
    }
    params
}

/// The reference an entry's params carry, if any.
fn reference_of(entry: &Map<String, Value>) -> Option<String> {
    params_of(entry).get(REFERENCE_PARAM).and_then(scalar).filter(|r| !r.is_empty())
}

/// The entry is a successful request of this method to this call's path.
fn same_request(entry: &Map<String, Value>, method: &str, names: &[String]) -> bool {
    let text = |k: &str| entry.get(k).and_then(scalar).unwrap_or_default();
    let path = text("request_path");
    let path = path.split('?').next().unwrap_or_default().trim_end_matches('/');
    let call = path.rsplit_once("/api/v1/calls/").map(|(_, c)| c);
    text("request_method").eq_ignore_ascii_case(method)
        && text("response_status").starts_with('2')
        && call.is_some_and(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c)))
}

/// Every field that changes state each time is in `params` with the value
/// sent, and no field sent is there with another value.
fn params_match(params: &Map<String, Value>, sent: &Map<String, Value>, must: &[&str]) -> bool {
    must.iter().all(|k| params.contains_key(*k))
        && sent.iter().all(|(k, v)| params.get(k).is_none_or(|p| same_value(p, v)))
}

/// Equal however the log types it: every scalar as text, amounts as
/// decimals (`"2.0"` = `"2.00"` = `2`), flags by any documented spelling
/// (`"1"` = `true`), an object or a list written as a JSON string.
fn same_value(logged: &Value, sent: &Value) -> bool {
    match (logged, sent) {
        (Value::String(text), Value::Object(_) | Value::Array(_)) => {
            serde_json::from_str::<Value>(text).is_ok_and(|parsed| same_value(&parsed, sent))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same_value(a, b)))
        }
        (logged, Value::Bool(b)) => {
            scalar(logged).is_some_and(|t| crate::input::values::parse_flag(&t).is_ok_and(|f| f == *b))
        }
        _ => match (scalar(logged), scalar(sent)) {
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

fn entry_time(entry: &Map<String, Value>) -> Option<i64> {
    let at = entry.get("created_at").and_then(Value::as_str).and_then(parse_time)?;
    i64::try_from(at).ok()
}

#[cfg(test)]
mod tests;
