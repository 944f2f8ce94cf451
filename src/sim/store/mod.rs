//! The simulator's in-memory calls, and how an update body changes one.
//!
//! A call keeps its fields as the table of fields names them
//! (`input::fields`), and is served under TrackDrive's resource names
//! (`traffic_source_converted`, `disposition_id`, `token_values`…), never the
//! update parameters; an update is read by its parameters. Values in a body
//! are read with the same parsers the job's validator uses (`money`,
//! `values`), so the two sides agree on what a valid amount, flag or id is.
//! The update is checked whole before anything changes: a 422 leaves the call
//! exactly as it was.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::input::fields::{CallField, Kind, Value as FieldValue};
use crate::input::money::{Sign, parse_money};
use crate::input::values::{CallRef, parse_flag, parse_record_id};
use crate::sim::audit::AuditStyle;
use crate::trackdrive::Snapshot;

/// One call as the simulator keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: u64,
    pub uuid: u128,
    /// The call's fields (every readable one known).
    pub fields: Snapshot,
    pub webhooks_fired: u64,
    pub transcriptions: u64,
    pub updates_applied: u64,
    /// Update requests that reached this call, for `--fail-first`.
    pub requests_seen: u64,
    /// The call's event log as `/calls/:id/events` serves it: an `AuditLog`
    /// entry for every update applied, among events of other types.
    pub events: Vec<Value>,
    /// When the call came in (milliseconds since the epoch), and from whom
    /// (E.164: `+1` and ten digits).
    pub created_at_ms: i64,
    pub caller_number: String,
}

impl Call {
    pub fn new(id: u64, uuid: u128) -> Call {
        let mut fields = Snapshot::default();
        for field in CallField::readable() {
            let start = match field.spec().kind {
                Kind::Money => Some(FieldValue::Money(Decimal::new(0, 2))),
                Kind::Flag => Some(FieldValue::Flag(false)),
                _ => None,
            };
            fields.set(field, start);
        }
        Call {
            id,
            uuid,
            fields,
            webhooks_fired: 0,
            transcriptions: 0,
            updates_applied: 0,
            requests_seen: 0,
            events: vec![json!({"type": "CallStarted", "created_at": "2026-01-01T00:00:00Z"})],
            created_at_ms: 0,
            caller_number: caller_for(id),
        }
    }

    pub fn revenue(&self) -> Decimal {
        self.fields.revenue().unwrap_or_default()
    }

    pub fn payout(&self) -> Decimal {
        self.fields.payout().unwrap_or_default()
    }

    /// Sets a field (`None`: empty).
    pub fn set(&mut self, field: CallField, value: Option<FieldValue>) {
        self.fields.set(field, value);
    }

    /// `created_at` as the API writes it (ISO 8601, UTC).
    pub fn created_at(&self) -> String {
        jiff::Timestamp::from_millisecond(self.created_at_ms).map(|t| t.to_string()).unwrap_or_default()
    }

    /// Records an applied update as TrackDrive's audit log does: the
    /// request's path, method and status, its parameters (every value a
    /// string, unless `style` says otherwise), and when (`now`, by the
    /// simulator's clock).
    pub fn audit(&mut self, path: &str, method: &str, body: &Map<String, Value>, now: &str, style: &AuditStyle) {
        let params = super::audit::params(body, style, self.id);
        self.events.push(json!({
            "type": "AuditLog",
            "request_path": path,
            "request_method": method,
            "response_status": "200",
            "params": params,
            "created_at": now,
        }));
        // Other event types come and go between updates, as on a real call.
        self.events.push(json!({"type": "CallUpdated", "created_at": now}));
    }

    /// `GET /calls/:id/events`: every event, or with `per_page` one page
    /// of them from `start`, with `metadata.next_cursor` (`0` on the last).
    pub fn events_json(&self, per_page: usize, start: usize) -> Value {
        let mut doc = json!({
            "id": self.id,
            "uuid": CallRef::Uuid(self.uuid).to_string(),
            "created_at": "2026-01-01T00:00:00Z",
        });
        if per_page == 0 {
            doc["events"] = Value::Array(self.events.clone());
            return doc;
        }
        let page: Vec<Value> = self.events.iter().skip(start).take(per_page).cloned().collect();
        let next = if start + per_page < self.events.len() { start + per_page + 1 } else { 0 };
        doc["events"] = Value::Array(page);
        doc["metadata"] = json!({"next_cursor": next, "per_page": per_page, "total_count": self.events.len()});
        doc
    }

    /// The call's revenue less its payout.
    pub fn profit(&self) -> Decimal {
        self.revenue() - self.payout()
    }

    /// The call as `/__sim/state` shows it: the API's `call` format plus
    /// the counters a test checks.
    pub fn state_json(&self) -> Value {
        let mut call = self.api_json(Serializer::Call)["call"].take();
        if let Some(fields) = call.as_object_mut() {
            fields.insert("webhooks_fired".into(), self.webhooks_fired.into());
            fields.insert("transcriptions".into(), self.transcriptions.into());
            fields.insert("updates_applied".into(), self.updates_applied.into());
        }
        call
    }

    /// The call as the API returns it, `{"call": {...}}`, under the call
    /// resource's names: each readable field of the table under its first
    /// read name, and what TrackDrive shows beside them (names of the buyer,
    /// traffic source and disposition, the revenue and payout under their
    /// second names too). `call_grid` leaves out the contact fields.
    pub fn api_json(&self, serializer: Serializer) -> Value {
        let mut call = Map::new();
        call.insert("id".into(), self.id.into());
        call.insert("uuid".into(), CallRef::Uuid(self.uuid).to_string().into());
        call.insert("created_at".into(), self.created_at().into());
        call.insert("caller_number".into(), self.caller_number.clone().into());
        call.insert("status".into(), "completed".into());
        for field in CallField::readable() {
            let spec = field.spec();
            let value = match field {
                CallField::Tokens if serializer == Serializer::CallGrid => continue,
                CallField::Tokens => serde_json::to_value(&self.fields.tokens).unwrap_or_default(),
                _ => self.fields.get(field).map_or(Value::Null, FieldValue::to_json),
            };
            // The resource's own second names (`buyer_revenue`…), not the update's.
            for name in spec.read.iter().filter(|n| crate::input::fields::PICK_LIST.contains(n)) {
                call.insert((*name).to_string(), value.clone());
            }
        }
        let id_of = |f: CallField| self.fields.text(f).and_then(|t| t.parse::<u64>().ok());
        let name = |list: &str, id: Option<u64>| id.and_then(|id| display_name(list, id));
        call.insert("buyer".into(), name("buyers", id_of(CallField::BuyerId)).into());
        call.insert("user_buyer_id".into(), id_of(CallField::BuyerId).map(|id| format!("B-{id}")).into());
        call.insert("traffic_source".into(), name("traffic_sources", id_of(CallField::TrafficSourceId)).into());
        call.insert(
            "user_traffic_source_id".into(),
            id_of(CallField::TrafficSourceId).map(|id| format!("TS-{id}")).into(),
        );
        call.insert("disposition_name".into(), name("call_dispositions", id_of(CallField::DispositionId)).into());
        json!({ "call": call })
    }
}

/// The API's `serializer` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serializer {
    Call,
    CallGrid,
}

impl Serializer {
    pub fn parse(text: Option<&str>) -> Result<Serializer, String> {
        match text.map(str::trim) {
            None | Some("") | Some("call") => Ok(Serializer::Call),
            Some("call_grid") => Ok(Serializer::CallGrid),
            Some(other) => Err(format!("{other} is not in the pick list: call, call_grid")),
        }
    }
}

/// The call dispositions the simulator knows; any other id is a 422, as on
/// TrackDrive where a disposition must exist.
pub const DISPOSITION_IDS: std::ops::RangeInclusive<u64> = 1..=20;

/// The company's call dispositions, ids 1–20; some require notes.
pub const DISPOSITIONS: [(&str, bool); 20] = [
    ("Sale", false),
    ("Voicemail", false),
    ("Not Interested", false),
    ("Callback", true),
    ("Wrong Number", false),
    ("Do Not Call", false),
    ("Language Barrier", false),
    ("Hung Up", false),
    ("Transferred", false),
    ("Quote Given", false),
    ("Already Insured", false),
    ("Too Expensive", false),
    ("Duplicate Call", false),
    ("Spam", false),
    ("Appointment Set", false),
    ("Follow Up", true),
    ("No Answer", false),
    ("Disconnected", false),
    ("Test Call", false),
    ("Escalated", true),
];

/// Buyers, ids 7–16, with the operator's own ids `B-7`…
pub const BUYERS: [&str; 10] = [
    "Acme Insurance",
    "Bolt Auto Warranty",
    "Cedar Health",
    "Delta Solar",
    "Evergreen Legal",
    "Falcon Home Security",
    "Granite Debt Relief",
    "Harbor Medicare",
    "Ivy Pest Control",
    "Juniper Moving",
];

/// Traffic sources, ids 101–130, with `TS-101`… as their afid
/// (`user_traffic_source_id`): a person and a company each, and no single
/// name field, as TrackDrive's list has none (its UI shows
/// `{afid} - {first} {last}`). Thirty, so the list takes two pages of 25.
pub const TRAFFIC_SOURCES: [(&str, &str, &str); 30] = [
    ("Ava", "Reed", "Google Ads"),
    ("Ben", "Ortiz", "Facebook"),
    ("Cleo", "Park", "TikTok"),
    ("Dan", "Moss", "Bing"),
    ("Eve", "Lang", "Taboola"),
    ("Finn", "Hart", "Outbrain"),
    ("Gia", "Cole", "Radio"),
    ("Hal", "Berg", "TV"),
    ("Ida", "Voss", "Email"),
    ("Jon", "Pike", "Affiliate Network"),
    ("Kai", "Snow", "Lead Lake"),
    ("Lea", "Frost", "Callbridge"),
    ("Max", "Dunn", "Quote Quarry"),
    ("Nia", "Shaw", "Dial Direct"),
    ("Oto", "Hale", "Ring Route"),
    ("Pia", "Wolfe", "Click Harbor"),
    ("Quin", "Yates", "Lead Forge"),
    ("Rae", "Irwin", "Call Canopy"),
    ("Sol", "Kerr", "Phone Field"),
    ("Tia", "Nash", "Pay Per Peak"),
    ("Uma", "Lowe", "Inbound Isle"),
    ("Vic", "Rowe", "Signal Ridge"),
    ("Wes", "Tate", "Lead Lantern"),
    ("Xia", "Ford", "Dial Dune"),
    ("Yul", "Gray", "Call Current"),
    ("Zoe", "Hunt", "Ring Reef"),
    ("Abe", "Knox", "Quote Cove"),
    ("Bea", "Lund", "Lead Ledge"),
    ("Cy", "Marsh", "Phone Pines"),
    ("Di", "Noble", "Call Crest"),
];

/// The first traffic source's id.
pub const FIRST_TRAFFIC_SOURCE: u64 = 101;

/// A list endpoint's records, in the shape the API returns them.
pub fn list(name: &str) -> Option<(&'static str, Vec<Value>)> {
    match name {
        "call_dispositions" => Some((
            "call_dispositions",
            DISPOSITIONS
                .iter()
                .zip(DISPOSITION_IDS)
                .map(|((n, notes), id)| json!({"id": id, "name": n, "notes_required": notes}))
                .collect(),
        )),
        "buyers" => Some((
            "buyers",
            BUYERS
                .iter()
                .zip(7u64..)
                .map(|(n, id)| json!({"id": id, "name": n, "user_buyer_id": format!("B-{id}")}))
                .collect(),
        )),
        "traffic_sources" => Some((
            "traffic_sources",
            TRAFFIC_SOURCES
                .iter()
                .zip(FIRST_TRAFFIC_SOURCE..)
                .map(|((first, last, company), id)| {
                    json!({"id": id, "first_name": first, "last_name": last, "company_name": company,
                           "user_traffic_source_id": format!("TS-{id}")})
                })
                .collect(),
        )),
        _ => None,
    }
}

/// What TrackDrive shows for a record of a list: a buyer's or a
/// disposition's name, a traffic source's `{afid} - {first} {last}`.
pub fn display_name(list: &str, id: u64) -> Option<String> {
    match list {
        "buyers" => BUYERS.get(usize::try_from(id.checked_sub(7)?).ok()?).map(|n| n.to_string()),
        "call_dispositions" => DISPOSITIONS.get(usize::try_from(id.checked_sub(1)?).ok()?).map(|(n, _)| n.to_string()),
        "traffic_sources" => {
            let (first, last, _) = TRAFFIC_SOURCES.get(usize::try_from(id.checked_sub(FIRST_TRAFFIC_SOURCE)?).ok()?)?;
            Some(format!("TS-{id} - {first} {last}"))
        }
        _ => None,
    }
}

/// A deterministic caller number for a seeded call: `+1`, an area code
/// from 201 to 989, and seven digits.
pub fn caller_for(seed: u64) -> String {
    let n = crate::splitmix::splitmix64(seed ^ 0x0000_6361_6c6c_6572);
    format!("+1{}{:07}", 201 + n % 789, (n >> 20) % 10_000_000)
}

/// A deterministic version-4 UUID for a seeded call id.
pub fn uuid_for(id: u64) -> u128 {
    let hi = crate::splitmix::splitmix64(id ^ 0x5444_5245_434f_4e00) as u128;
    let lo = crate::splitmix::splitmix64(hi as u64 ^ id) as u128;
    let raw = (hi << 64) | lo;
    // Version 4, variant 10xx.
    (raw & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
}

/// All calls, found by id or by UUID.
#[derive(Debug, Default)]
pub struct Store {
    calls: HashMap<u64, Call>,
    by_uuid: HashMap<u128, u64>,
}

impl Store {
    pub fn insert(&mut self, call: Call) {
        self.by_uuid.insert(call.uuid, call.id);
        self.calls.insert(call.id, call);
    }

    /// `count` calls with ids from `first_id` upward, spread evenly over the
    /// 24 hours before now; about one caller in five calls more than once.
    pub fn seeded(first_id: u64, count: u64) -> Store {
        let now = jiff::Timestamp::now().as_millisecond();
        Store::seeded_at(first_id, count, now)
    }

    /// `seeded`, with the 24 hours ending at `now_ms`.
    pub fn seeded_at(first_id: u64, count: u64, now_ms: i64) -> Store {
        let mut store = Store::default();
        let day = 24 * 3600 * 1000i64;
        let step = day / count.max(1) as i64;
        let callers = (count * 4 / 5).max(1);
        for (i, id) in (first_id..first_id.saturating_add(count)).enumerate() {
            let mut call = Call::new(id, uuid_for(id));
            call.created_at_ms = now_ms - day + i as i64 * step;
            call.caller_number = caller_for(first_id + (id - first_id) % callers);
            store.insert(call);
        }
        store
    }

    /// The calls made from `from_ms` to `to_ms` (both included), by time.
    pub fn in_window(&self, from_ms: Option<i64>, to_ms: Option<i64>) -> Vec<&Call> {
        let mut calls: Vec<&Call> = self
            .calls
            .values()
            .filter(|c| from_ms.is_none_or(|f| c.created_at_ms >= f) && to_ms.is_none_or(|t| c.created_at_ms <= t))
            .collect();
        calls.sort_by_key(|c| (c.created_at_ms, c.id));
        calls
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The call a path segment names, by numeric id or UUID.
    pub fn find_mut(&mut self, key: &str) -> Option<&mut Call> {
        let id = match CallRef::parse(key).ok()? {
            CallRef::Id(id) => id,
            CallRef::Uuid(uuid) => *self.by_uuid.get(&uuid)?,
        };
        self.calls.get_mut(&id)
    }

    /// Every call, ordered by id.
    pub fn calls(&self) -> Vec<&Call> {
        let mut calls: Vec<&Call> = self.calls.values().collect();
        calls.sort_by_key(|c| c.id);
        calls
    }
}

/// A text value from JSON: strings as they are, numbers by their digits.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag_of(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => text_of(other).ok_or_else(|| "must be a boolean value".to_string()).and_then(|t| parse_flag(&t)),
    }
}

fn amount_of(value: &Value, sign: Sign) -> Result<Decimal, String> {
    let text = text_of(value).ok_or_else(|| "must be a decimal number".to_string())?;
    parse_money(&text, sign).map_err(|e| format!("must be a decimal number ({e})"))
}

/// An id that may be blank (`""` or `null` clears it).
fn blankable_id(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        other => text_of(other).ok_or_else(|| "must be an id".to_string()).and_then(|t| parse_record_id(&t)).map(Some),
    }
}

/// Applies an update body to a call. Every field is checked first; on any
/// error the call is untouched and the errors name each bad field.
/// Parameters the API does not know are ignored, like the real API's (the
/// audit log still records them), and so is `ignored` (a fault: a 200 that
/// ignores a field).
pub fn apply(
    call: &mut Call,
    body: &Map<String, Value>,
    ignored: Option<&str>,
) -> Result<(), BTreeMap<String, String>> {
    let mut next = call.clone();
    let mut errors = BTreeMap::new();
    for (key, value) in body {
        let Some((field, adds)) = CallField::of_param(key) else { continue };
        if ignored == Some(key.as_str()) {
            continue;
        }
        if let Err(message) = apply_one(&mut next, field, adds, value) {
            errors.insert(key.clone(), message);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    next.updates_applied += 1;
    *call = next;
    Ok(())
}

/// One parameter's effect, by its field's kind.
fn apply_one(call: &mut Call, field: CallField, adds: bool, value: &Value) -> Result<(), String> {
    let spec = field.spec();
    match (spec.kind, field) {
        (Kind::Money, _) if adds => {
            let now = call.fields.get(field).and_then(FieldValue::money).unwrap_or_default();
            call.set(field, Some(FieldValue::Money(now + amount_of(value, Sign::Any)?)));
        }
        (Kind::Money, _) => call.set(field, Some(FieldValue::Money(amount_of(value, Sign::NonNegative)?))),
        (Kind::Flag, CallField::ManualTranscribe) => call.transcriptions += u64::from(flag_of(value)?),
        (Kind::Flag, _) => call.set(field, Some(FieldValue::Flag(flag_of(value)?))),
        (Kind::Id, _) => {
            let id = blankable_id(value)?;
            if id.is_none() && !spec.blank {
                return Err("must be an id".into());
            }
            if field == CallField::DispositionId
                && id.as_deref().is_some_and(|id| !id.parse().is_ok_and(|n| DISPOSITION_IDS.contains(&n)))
            {
                return Err("is not a call disposition of this company".into());
            }
            call.set(field, id.map(FieldValue::Text));
        }
        (Kind::Text, _) => {
            let text = match value {
                Value::Null => None,
                Value::String(s) if s.is_empty() && spec.blank => None,
                Value::String(s) => Some(s.clone()),
                other => Some(text_of(other).ok_or("must be a String")?),
            };
            call.set(field, text.map(FieldValue::Text));
        }
        (Kind::Ids, _) => {
            let ids = value.as_array().ok_or("must be an array of decimal values")?;
            for id in ids {
                let ok = id.as_u64().is_some() || id.as_str().is_some_and(|s| s.trim().parse::<u64>().is_ok());
                if !ok {
                    return Err("must be an array of decimal values".into());
                }
            }
            call.webhooks_fired += ids.len() as u64;
        }
        (Kind::Tokens, _) => {
            let tokens = value.as_object().ok_or("must be a Hash")?;
            for (name, v) in tokens {
                let text = match v {
                    Value::Null => String::new(),
                    other => text_of(other).ok_or("values must be strings")?,
                };
                call.fields.tokens.insert(name.clone(), text);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
