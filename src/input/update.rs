//! `CallUpdate`: one validated row, and the exact JSON body the calls API takes.
//!
//! A row's changes are held by field (`fields::CallField`); the body is
//! written from the table of fields, so every field's wire form is tested
//! here: amounts as JSON strings holding the normalised decimal, flags as JSON
//! booleans, ids and text as strings, tokens as an object, webhook ids as an
//! array, `#clear` as an empty string. Building it is pure (no I/O).

use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json};

use crate::input::fields::{CallField, FIELDS, Kind, REFERENCE_PARAM, Value};
use crate::input::values::CallRef;

/// Set an amount, or add to it (the API's `revenue` vs `add_revenue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Set(Decimal),
    Add(Decimal),
}

/// What a row does to one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set it to this (an empty text clears a field the API lets be blank).
    Set(Value),
    /// Add this to an amount (`add_revenue`, `add_payout`).
    Add(Decimal),
    /// Fire these webhooks.
    Fire(Vec<u64>),
}

/// Everything one input row asks TrackDrive to change on one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallUpdate {
    pub call: CallRef,
    /// What the row does to each field, by `CallField` (tokens aside).
    changes: [Option<Change>; FIELDS.len()],
    /// Contact fields to set (`post_call_tokens`).
    pub tokens: Tokens,
    /// Names still to be turned into ids (`names::Directory::resolve`);
    /// an update is only sent once these are all `None`.
    pub names: NameRefs,
    /// The buyer as a descriptive column (`Buyer`, `Buyer Name`) gives it:
    /// labels the summary's per-buyer totals, never sent.
    pub buyer_label: Option<String>,
    /// When the call came in (milliseconds since the epoch), from a
    /// `call_time` column: never sent.
    pub call_time: Option<i64>,
    /// The second instant of a `call_time` that happened twice (a local
    /// time in the hour the clocks were set back): a call at either is
    /// this row's.
    pub call_time_later: Option<i64>,
    /// Set columns whose negative amount this row sends as an add
    /// (`--negative-as-add`), for the summary's count of chargebacks.
    pub routed: Vec<CallField>,
    /// Who called (E.164), from a `caller_number` column: never sent. While
    /// `call` is `CallRef::PENDING`, these two are how the call is found.
    pub caller_number: Option<String>,
    /// The UUID the row named its call by, once `call` is the call's id:
    /// the call is one call however a row named it (never sent).
    pub named_uuid: Option<u128>,
}

/// Contact fields to set, by name, kept sorted by name. A row sets one to a
/// handful, so a sorted `Vec` does it with one allocation where a `BTreeMap`
/// took a 500-byte node per row (validation builds a million of these);
/// names and values up to 24 bytes (a zip code, a first name) are kept
/// inline rather than allocated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens(Vec<(CompactString, CompactString)>);

impl Tokens {
    /// Sets `name`, unless it is already set: then returns `false` and
    /// changes nothing (the caller reports the conflict).
    pub fn insert(&mut self, name: &str, value: &str) -> bool {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, (name.into(), value.into()));
                true
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| self.0[i].1.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Names and values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// Keeps only the tokens for which `keep(name, value)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(n, v)| keep(n, v));
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Tokens {
    /// Later pairs do not replace earlier ones of the same name.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut tokens = Tokens::default();
        for (n, v) in pairs {
            tokens.insert(&n.into(), &v.into());
        }
        tokens
    }
}

impl Serialize for Tokens {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (n, v) in &self.0 {
            map.serialize_entry(n.as_str(), v.as_str())?;
        }
        map.end()
    }
}

/// Records named rather than numbered in the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameRefs {
    pub disposition: Option<String>,
    pub buyer: Option<String>,
    pub traffic_source: Option<String>,
}

impl NameRefs {
    pub fn is_empty(&self) -> bool {
        self.disposition.is_none() && self.buyer.is_none() && self.traffic_source.is_none()
    }
}

impl CallUpdate {
    /// An update of `call` that changes nothing yet.
    pub fn new(call: CallRef) -> CallUpdate {
        CallUpdate {
            call,
            changes: Default::default(),
            tokens: Tokens::default(),
            names: NameRefs::default(),
            buyer_label: None,
            call_time: None,
            call_time_later: None,
            routed: Vec::new(),
            caller_number: None,
            named_uuid: None,
        }
    }

    /// What the row does to `field`.
    pub fn get(&self, field: CallField) -> Option<&Change> {
        self.changes[field as usize].as_ref()
    }

    /// Sets what the row does to `field`, replacing what it did.
    pub fn set(&mut self, field: CallField, change: Change) {
        self.changes[field as usize] = Some(change);
    }

    /// `set`, for building an update in one expression.
    pub fn with(mut self, field: CallField, change: Change) -> CallUpdate {
        self.set(field, change);
        self
    }

    /// Sets these contact fields, for building an update in one expression.
    pub fn with_tokens(mut self, tokens: Tokens) -> CallUpdate {
        self.tokens = tokens;
        self
    }

    /// Leaves `field` unchanged after all.
    pub fn clear(&mut self, field: CallField) {
        self.changes[field as usize] = None;
    }

    /// The fields the row changes, with what it does to each, in order.
    pub fn changes(&self) -> impl Iterator<Item = (CallField, &Change)> {
        CallField::all().filter_map(|f| self.get(f).map(|c| (f, c)))
    }

    /// An amount field's change (`revenue`, `payout`).
    pub fn amount(&self, field: CallField) -> Option<Amount> {
        match self.get(field)? {
            Change::Set(Value::Money(d)) => Some(Amount::Set(*d)),
            Change::Add(d) => Some(Amount::Add(*d)),
            _ => None,
        }
    }

    /// A value the row sets `field` to.
    pub fn value(&self, field: CallField) -> Option<&Value> {
        match self.get(field)? {
            Change::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The text (or id) the row sets `field` to.
    pub fn text(&self, field: CallField) -> Option<&str> {
        self.value(field).and_then(Value::text)
    }

    /// The flag the row sets `field` to.
    pub fn flag(&self, field: CallField) -> Option<bool> {
        match self.value(field)? {
            Value::Flag(b) => Some(*b),
            _ => None,
        }
    }

    /// True when the update would change nothing (its body would be `{}`).
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(Option::is_none) && self.tokens.is_empty() && self.names.is_empty()
    }

    /// The parameters that change state every time they are sent. A row
    /// carrying any of them must never be resent after an ambiguous outcome.
    pub fn non_idempotent_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        // Adds first (the order messages have always named them in).
        for (field, change) in self.changes() {
            if let (Change::Add(_), Some(add)) = (change, field.spec().add) {
                fields.push(add);
            }
        }
        fields.extend(self.changes().filter(|(f, _)| f.spec().acts).map(|(f, _)| f.param()));
        fields
    }

    /// The changes that act each time they are sent (adds, webhook fires,
    /// transcription requests), as `(parameter, value)` in wire form: what
    /// the ledger compares across runs.
    pub fn actions(&self) -> Vec<(String, String)> {
        actions_of(&self.body())
    }

    /// Safe to send again when we cannot tell whether the last send applied.
    pub fn is_idempotent(&self) -> bool {
        self.non_idempotent_fields().is_empty()
    }

    /// The JSON object sent as the request body.
    pub fn body(&self) -> Map<String, Json> {
        match serde_json::to_value(Body(self, None)) {
            Ok(Json::Object(m)) => m,
            _ => unreachable!("a body serialises as a JSON object"),
        }
    }

    /// An update read back from its wire body (`body`), as the journal keeps
    /// it; `None` for a key or value `body` never writes.
    pub fn from_body(call: CallRef, body: &Map<String, Json>) -> Option<CallUpdate> {
        let mut u = CallUpdate::new(call);
        for (key, value) in body {
            if key == REFERENCE_PARAM {
                continue;
            }
            if key == CallField::Tokens.param() {
                for (name, v) in value.as_object()? {
                    u.tokens.insert(name, v.as_str()?);
                }
                continue;
            }
            let (field, adds) = CallField::of_param(key)?;
            let change = match (field.spec().kind, adds) {
                (Kind::Money, true) => Change::Add(Decimal::from_str_exact(value.as_str()?).ok()?),
                (Kind::Money, false) => Change::Set(Value::Money(Decimal::from_str_exact(value.as_str()?).ok()?)),
                (Kind::Flag, _) => Change::Set(Value::Flag(value.as_bool()?)),
                (Kind::Id | Kind::Text, _) => Change::Set(Value::Text(value.as_str()?.to_string())),
                (Kind::Ids, _) => Change::Fire(value.as_array()?.iter().map(Json::as_u64).collect::<Option<_>>()?),
                (Kind::Tokens, _) => return None,
            };
            u.set(field, change);
        }
        Some(u)
    }

    /// The body serialised, as sent on the wire: written straight from the
    /// update (this runs once per row sent), keys in alphabetical order.
    pub fn body_bytes(&self) -> Vec<u8> {
        self.body_bytes_with(None)
    }

    /// The body as sent, carrying `reference` (`REFERENCE_PARAM`) too.
    pub fn body_bytes_with(&self, reference: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&Body(self, reference)).expect("a map of strings, bools and numbers always serialises")
    }
}

/// The acting changes of a wire body (see `CallUpdate::actions`): a value
/// as its text, so `"-25.00"` and a body written by another version compare.
pub fn actions_of(body: &Map<String, Json>) -> Vec<(String, String)> {
    let acting = |key: &str| match CallField::of_param(key) {
        Some((_, true)) => true,
        Some((field, false)) => field.spec().acts,
        None => false,
    };
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut actions = Vec::new();
    for (key, value) in body.iter().filter(|(k, _)| acting(k)) {
        match value {
            // Webhooks one by one: `[4,3]` fires 3 again after `[3]`.
            Json::Array(ids) => actions.extend(ids.iter().map(|id| (key.clone(), text(id)))),
            Json::String(ids) if ids.contains(',') => {
                actions.extend(ids.split(',').map(|id| (key.clone(), id.trim().to_string())))
            }
            other => actions.push((key.clone(), text(other))),
        }
    }
    actions
}

/// The wire form of an update: only the fields it sets, under their update
/// parameters, in alphabetical order.
struct Body<'a>(&'a CallUpdate, Option<&'a str>);

/// One entry of a body.
enum Entry<'a> {
    Change(&'a Change),
    Tokens(&'a Tokens),
    Reference(&'a str),
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let mut entries: Vec<(&'static str, Entry<'_>)> = Vec::with_capacity(FIELDS.len());
        for (field, change) in u.changes() {
            let spec = field.spec();
            let key = match change {
                Change::Add(_) => spec.add.unwrap_or(spec.param),
                _ => spec.param,
            };
            entries.push((key, Entry::Change(change)));
        }
        if !u.tokens.is_empty() {
            entries.push((CallField::Tokens.param(), Entry::Tokens(&u.tokens)));
        }
        if let Some(reference) = self.1 {
            entries.push((REFERENCE_PARAM, Entry::Reference(reference)));
        }
        entries.sort_unstable_by_key(|(key, _)| *key);
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (key, entry) in entries {
            match entry {
                Entry::Change(Change::Set(Value::Money(d)) | Change::Add(d)) => {
                    map.serialize_entry(key, &d.to_string())?
                }
                Entry::Change(Change::Set(Value::Flag(b))) => map.serialize_entry(key, b)?,
                Entry::Change(Change::Set(Value::Text(t))) => map.serialize_entry(key, t)?,
                Entry::Change(Change::Fire(ids)) => map.serialize_entry(key, ids)?,
                Entry::Tokens(tokens) => map.serialize_entry(key, tokens)?,
                Entry::Reference(reference) => map.serialize_entry(key, reference)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(s: &str) -> Decimal {
        let mut d = Decimal::from_str_exact(s).unwrap();
        d.rescale(2);
        d
    }

    fn update() -> CallUpdate {
        CallUpdate::new(CallRef::Id(1))
    }

    fn set(v: Value) -> Change {
        Change::Set(v)
    }

    fn text(t: &str) -> Change {
        Change::Set(Value::Text(t.into()))
    }

    #[test]
    fn each_field_on_the_wire() {
        use CallField::{
            BuyerConverted, BuyerId, ContactFieldType, DispositionId, DispositionNotes, ManualTranscribe,
            OfferConverted, Payout, Revenue, TrafficSourceId, Webhooks,
        };
        let cases: Vec<(CallUpdate, Json)> = vec![
            (update().with(Revenue, set(Value::Money(dec("1234.5")))), json!({"revenue": "1234.50"})),
            (update().with(Revenue, Change::Add(dec("-2"))), json!({"add_revenue": "-2.00"})),
            (update().with(Payout, set(Value::Money(dec("0")))), json!({"payout": "0.00"})),
            (update().with(Payout, Change::Add(dec("2.5"))), json!({"add_payout": "2.50"})),
            (update().with(BuyerConverted, set(Value::Flag(true))), json!({"buyer_converted": true})),
            (update().with(OfferConverted, set(Value::Flag(false))), json!({"offer_converted": false})),
            (update().with(ManualTranscribe, set(Value::Flag(true))), json!({"manual_transcribe": true})),
            (update().with(BuyerId, text("77")), json!({"trackdrive_buyer_id": "77"})),
            (update().with(TrafficSourceId, text("88")), json!({"trackdrive_traffic_source_id": "88"})),
            (update().with(DispositionId, text("")), json!({"call_disposition_id": ""})),
            (
                update().with(DispositionNotes, text("called back")),
                json!({"agent_call_disposition_notes": "called back"}),
            ),
            (update().with(ContactFieldType, text("5")), json!({"contact_field_type": "5"})),
            (update().with(Webhooks, Change::Fire(vec![3, 4])), json!({"fire_outgoing_webhook_ids": [3, 4]})),
            (
                CallUpdate { tokens: Tokens::from_iter([("zip", "90210"), ("First", "Jo")]), ..update() },
                json!({"post_call_tokens": {"zip": "90210", "First": "Jo"}}),
            ),
        ];
        for (u, want) in cases {
            assert_eq!(Json::Object(u.body()), want);
            let wire: Json = serde_json::from_slice(&u.body_bytes()).unwrap();
            assert_eq!(wire, want);
        }
    }

    fn everything() -> CallUpdate {
        use CallField::{
            BuyerConverted, BuyerId, ContactFieldType, DispositionId, DispositionNotes, ManualTranscribe,
            OfferConverted, Payout, Revenue, TrafficSourceId, Webhooks,
        };
        update()
            .with(Revenue, Change::Add(dec("1")))
            .with(Payout, set(Value::Money(dec("2"))))
            .with(BuyerConverted, set(Value::Flag(true)))
            .with(OfferConverted, set(Value::Flag(false)))
            .with(ManualTranscribe, set(Value::Flag(true)))
            .with(BuyerId, text("7"))
            .with(TrafficSourceId, text("8"))
            .with(DispositionId, text(""))
            .with(DispositionNotes, text("a \"b\""))
            .with(ContactFieldType, text("5"))
            .with(Webhooks, Change::Fire(vec![3]))
            .with_tokens(Tokens::from_iter([("zip", "1"), ("a", "2")]))
    }

    #[test]
    fn every_field_at_once_in_alphabetical_order() {
        assert_eq!(
            String::from_utf8(everything().body_bytes()).unwrap(),
            r#"{"add_revenue":"1.00","agent_call_disposition_notes":"a \"b\"","buyer_converted":true,"#.to_owned()
                + r#""call_disposition_id":"","contact_field_type":"5","fire_outgoing_webhook_ids":[3],"#
                + r#""manual_transcribe":true,"offer_converted":false,"payout":"2.00","#
                + r#""post_call_tokens":{"a":"2","zip":"1"},"trackdrive_buyer_id":"7","#
                + r#""trackdrive_traffic_source_id":"8"}"#
        );
    }

    #[test]
    fn a_body_carries_its_reference_in_order() {
        let u = update().with(CallField::Revenue, Change::Add(dec("1")));
        assert_eq!(
            String::from_utf8(u.body_bytes_with(Some("tdr-1-2"))).unwrap(),
            r#"{"add_revenue":"1.00","tdrecon_ref":"tdr-1-2"}"#
        );
        let body: Map<String, Json> = serde_json::from_slice(&u.body_bytes_with(Some("tdr-1-2"))).unwrap();
        assert_eq!(CallUpdate::from_body(u.call, &body), Some(u), "the reference is not a field");
    }

    #[test]
    fn an_update_reads_back_from_its_body() {
        let u = everything();
        assert_eq!(CallUpdate::from_body(u.call, &u.body()), Some(u.clone()));
        assert_eq!(CallUpdate::from_body(u.call, &update().body()), Some(update()));
        let odd: Map<String, Json> = serde_json::from_str(r#"{"revenue": 5}"#).unwrap();
        assert_eq!(CallUpdate::from_body(u.call, &odd), None, "amounts are written as strings");
        let unknown: Map<String, Json> = serde_json::from_str(r#"{"nope": "1"}"#).unwrap();
        assert_eq!(CallUpdate::from_body(u.call, &unknown), None);
    }

    #[test]
    fn a_token_is_set_once() {
        let mut t = Tokens::default();
        assert!(t.insert("zip", "1"));
        assert!(t.insert("a", "2"));
        assert!(!t.insert("zip", "3"), "a second value for a name is refused");
        assert_eq!(t.get("zip"), Some("1"));
        assert_eq!(t.names().collect::<Vec<_>>(), ["a", "zip"]);
        t.retain(|n, _| n != "a");
        assert_eq!(t.iter().collect::<Vec<_>>(), [("zip", "1")]);
    }

    #[test]
    fn empty_and_idempotency() {
        use CallField::{BuyerConverted, ManualTranscribe, Payout, Revenue, Webhooks};
        assert!(update().is_empty());
        assert!(update().body().is_empty());
        assert!(update().is_idempotent());
        let set_only = update().with(Revenue, set(Value::Money(dec("1")))).with(BuyerConverted, set(Value::Flag(true)));
        assert!(set_only.is_idempotent());
        let add = update().with(Revenue, Change::Add(dec("1")));
        assert_eq!(add.non_idempotent_fields(), ["add_revenue"]);
        let all = add
            .with(Payout, Change::Add(dec("1")))
            .with(Webhooks, Change::Fire(vec![1]))
            .with(ManualTranscribe, set(Value::Flag(false)));
        assert_eq!(
            all.non_idempotent_fields(),
            ["add_revenue", "add_payout", "manual_transcribe", "fire_outgoing_webhook_ids"]
        );
    }
}
