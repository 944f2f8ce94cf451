//! `CallUpdate`: one validated row, and the exact JSON body the calls API takes.
//!
//! Building the body is pure (no I/O), so every field's wire form is tested
//! here: amounts as JSON strings holding the normalised decimal, flags as JSON
//! booleans, tokens as an object, `#clear` as an empty string.

use compact_str::CompactString;
use rust_decimal::Decimal;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::input::values::CallRef;

/// Set an amount, or add to it (the API's `revenue` vs `add_revenue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Set(Decimal),
    Add(Decimal),
}

/// Everything one input row asks TrackDrive to change on one call.
/// `None` leaves a field unchanged; `Some("")` on a text field clears it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallUpdate {
    pub call: CallRef,
    pub revenue: Option<Amount>,
    pub payout: Option<Amount>,
    pub buyer_converted: Option<bool>,
    pub offer_converted: Option<bool>,
    pub manual_transcribe: Option<bool>,
    pub trackdrive_buyer_id: Option<String>,
    pub trackdrive_traffic_source_id: Option<String>,
    pub call_disposition_id: Option<String>,
    pub agent_call_disposition_notes: Option<String>,
    pub contact_field_type: Option<String>,
    pub fire_outgoing_webhook_ids: Option<Vec<u64>>,
    pub post_call_tokens: Tokens,
    /// Names still to be turned into ids (`names::Directory::resolve`);
    /// an update is only sent once these are all `None`.
    pub names: NameRefs,
    /// The buyer as a descriptive column (`Buyer`, `Buyer Name`) gives it:
    /// labels the summary's per-buyer totals, never sent.
    pub buyer_label: Option<String>,
    /// When the call came in (milliseconds since the epoch), from a
    /// `call_time` column: never sent.
    pub call_time: Option<i64>,
    /// Who called (E.164), from a `caller_number` column: never sent. While
    /// `call` is `CallRef::PENDING`, these two are how the call is found.
    pub caller_number: Option<String>,
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
            revenue: None,
            payout: None,
            buyer_converted: None,
            offer_converted: None,
            manual_transcribe: None,
            trackdrive_buyer_id: None,
            trackdrive_traffic_source_id: None,
            call_disposition_id: None,
            agent_call_disposition_notes: None,
            contact_field_type: None,
            fire_outgoing_webhook_ids: None,
            buyer_label: None,
            call_time: None,
            caller_number: None,
            post_call_tokens: Tokens::default(),
            names: NameRefs::default(),
        }
    }

    /// True when the update would change nothing (its body would be `{}`).
    pub fn is_empty(&self) -> bool {
        self.revenue.is_none()
            && self.payout.is_none()
            && self.buyer_converted.is_none()
            && self.offer_converted.is_none()
            && self.manual_transcribe.is_none()
            && self.trackdrive_buyer_id.is_none()
            && self.trackdrive_traffic_source_id.is_none()
            && self.call_disposition_id.is_none()
            && self.agent_call_disposition_notes.is_none()
            && self.contact_field_type.is_none()
            && self.fire_outgoing_webhook_ids.is_none()
            && self.post_call_tokens.is_empty()
            && self.names.is_empty()
    }

    /// The fields that change state every time they are sent. A row carrying
    /// any of them must never be resent after an ambiguous outcome.
    pub fn non_idempotent_fields(&self) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if matches!(self.revenue, Some(Amount::Add(_))) {
            fields.push("add_revenue");
        }
        if matches!(self.payout, Some(Amount::Add(_))) {
            fields.push("add_payout");
        }
        if self.fire_outgoing_webhook_ids.is_some() {
            fields.push("fire_outgoing_webhook_ids");
        }
        if self.manual_transcribe.is_some() {
            fields.push("manual_transcribe");
        }
        fields
    }

    /// Safe to send again when we cannot tell whether the last send applied.
    pub fn is_idempotent(&self) -> bool {
        self.non_idempotent_fields().is_empty()
    }

    /// The JSON object sent as the request body.
    pub fn body(&self) -> Map<String, Value> {
        match serde_json::to_value(Body(self)) {
            Ok(Value::Object(m)) => m,
            _ => unreachable!("a body serialises as a JSON object"),
        }
    }

    /// An update read back from its wire body (`body`), as the journal keeps
    /// it; `None` for a key or value `body` never writes.
    pub fn from_body(call: CallRef, body: &Map<String, Value>) -> Option<CallUpdate> {
        let mut u = CallUpdate::new(call);
        let text = |v: &Value| v.as_str().map(str::to_string);
        let money = |v: &Value| v.as_str().and_then(|s| Decimal::from_str_exact(s).ok());
        for (key, value) in body {
            match key.as_str() {
                "revenue" => u.revenue = Some(Amount::Set(money(value)?)),
                "add_revenue" => u.revenue = Some(Amount::Add(money(value)?)),
                "payout" => u.payout = Some(Amount::Set(money(value)?)),
                "add_payout" => u.payout = Some(Amount::Add(money(value)?)),
                "buyer_converted" => u.buyer_converted = Some(value.as_bool()?),
                "offer_converted" => u.offer_converted = Some(value.as_bool()?),
                "manual_transcribe" => u.manual_transcribe = Some(value.as_bool()?),
                "trackdrive_buyer_id" => u.trackdrive_buyer_id = Some(text(value)?),
                "trackdrive_traffic_source_id" => u.trackdrive_traffic_source_id = Some(text(value)?),
                "call_disposition_id" => u.call_disposition_id = Some(text(value)?),
                "agent_call_disposition_notes" => u.agent_call_disposition_notes = Some(text(value)?),
                "contact_field_type" => u.contact_field_type = Some(text(value)?),
                "fire_outgoing_webhook_ids" => {
                    u.fire_outgoing_webhook_ids =
                        Some(value.as_array()?.iter().map(Value::as_u64).collect::<Option<_>>()?)
                }
                "post_call_tokens" => {
                    for (name, v) in value.as_object()? {
                        u.post_call_tokens.insert(name, v.as_str()?);
                    }
                }
                _ => return None,
            }
        }
        Some(u)
    }

    /// The body serialised, as sent on the wire: written straight from the
    /// update (this runs once per row sent), keys in alphabetical order.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&Body(self)).expect("a map of strings, bools and numbers always serialises")
    }
}

/// The wire form of an update: only the fields it sets; amounts as strings
/// holding the normalised decimal, flags as booleans.
struct Body<'a>(&'a CallUpdate);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let amount = |a: &Option<Amount>, add: bool| match a {
            Some(Amount::Add(d)) if add => Some(*d),
            Some(Amount::Set(d)) if !add => Some(*d),
            _ => None,
        };
        let mut map = s.serialize_map(None)?;
        // Alphabetical, as the body has always been sent.
        if let Some(d) = amount(&u.payout, true) {
            map.serialize_entry("add_payout", &d.to_string())?;
        }
        if let Some(d) = amount(&u.revenue, true) {
            map.serialize_entry("add_revenue", &d.to_string())?;
        }
        if let Some(t) = &u.agent_call_disposition_notes {
            map.serialize_entry("agent_call_disposition_notes", t)?;
        }
        if let Some(b) = u.buyer_converted {
            map.serialize_entry("buyer_converted", &b)?;
        }
        if let Some(t) = &u.call_disposition_id {
            map.serialize_entry("call_disposition_id", t)?;
        }
        if let Some(t) = &u.contact_field_type {
            map.serialize_entry("contact_field_type", t)?;
        }
        if let Some(ids) = &u.fire_outgoing_webhook_ids {
            map.serialize_entry("fire_outgoing_webhook_ids", ids)?;
        }
        if let Some(b) = u.manual_transcribe {
            map.serialize_entry("manual_transcribe", &b)?;
        }
        if let Some(b) = u.offer_converted {
            map.serialize_entry("offer_converted", &b)?;
        }
        if let Some(d) = amount(&u.payout, false) {
            map.serialize_entry("payout", &d.to_string())?;
        }
        if !u.post_call_tokens.is_empty() {
            map.serialize_entry("post_call_tokens", &u.post_call_tokens)?;
        }
        if let Some(d) = amount(&u.revenue, false) {
            map.serialize_entry("revenue", &d.to_string())?;
        }
        if let Some(t) = &u.trackdrive_buyer_id {
            map.serialize_entry("trackdrive_buyer_id", t)?;
        }
        if let Some(t) = &u.trackdrive_traffic_source_id {
            map.serialize_entry("trackdrive_traffic_source_id", t)?;
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

    #[test]
    fn each_field_on_the_wire() {
        let cases: Vec<(CallUpdate, Value)> = vec![
            (CallUpdate { revenue: Some(Amount::Set(dec("1234.5"))), ..update() }, json!({"revenue": "1234.50"})),
            (CallUpdate { revenue: Some(Amount::Add(dec("-2"))), ..update() }, json!({"add_revenue": "-2.00"})),
            (CallUpdate { payout: Some(Amount::Set(dec("0"))), ..update() }, json!({"payout": "0.00"})),
            (CallUpdate { payout: Some(Amount::Add(dec("2.5"))), ..update() }, json!({"add_payout": "2.50"})),
            (CallUpdate { buyer_converted: Some(true), ..update() }, json!({"buyer_converted": true})),
            (CallUpdate { offer_converted: Some(false), ..update() }, json!({"offer_converted": false})),
            (CallUpdate { manual_transcribe: Some(true), ..update() }, json!({"manual_transcribe": true})),
            (CallUpdate { trackdrive_buyer_id: Some("77".into()), ..update() }, json!({"trackdrive_buyer_id": "77"})),
            (
                CallUpdate { trackdrive_traffic_source_id: Some("88".into()), ..update() },
                json!({"trackdrive_traffic_source_id": "88"}),
            ),
            (CallUpdate { call_disposition_id: Some("".into()), ..update() }, json!({"call_disposition_id": ""})),
            (
                CallUpdate { agent_call_disposition_notes: Some("called back".into()), ..update() },
                json!({"agent_call_disposition_notes": "called back"}),
            ),
            (CallUpdate { contact_field_type: Some("5".into()), ..update() }, json!({"contact_field_type": "5"})),
            (
                CallUpdate { fire_outgoing_webhook_ids: Some(vec![3, 4]), ..update() },
                json!({"fire_outgoing_webhook_ids": [3, 4]}),
            ),
            (
                CallUpdate { post_call_tokens: Tokens::from_iter([("zip", "90210"), ("First", "Jo")]), ..update() },
                json!({"post_call_tokens": {"zip": "90210", "First": "Jo"}}),
            ),
        ];
        for (u, want) in cases {
            assert_eq!(Value::Object(u.body()), want);
            let wire: Value = serde_json::from_slice(&u.body_bytes()).unwrap();
            assert_eq!(wire, want);
        }
    }

    #[test]
    fn every_field_at_once_in_alphabetical_order() {
        let u = CallUpdate {
            revenue: Some(Amount::Add(dec("1"))),
            payout: Some(Amount::Set(dec("2"))),
            buyer_converted: Some(true),
            offer_converted: Some(false),
            manual_transcribe: Some(true),
            trackdrive_buyer_id: Some("7".into()),
            trackdrive_traffic_source_id: Some("8".into()),
            call_disposition_id: Some("".into()),
            agent_call_disposition_notes: Some("a \"b\"".into()),
            contact_field_type: Some("5".into()),
            fire_outgoing_webhook_ids: Some(vec![3]),
            post_call_tokens: Tokens::from_iter([("zip", "1"), ("a", "2")]),
            ..update()
        };
        assert_eq!(
            String::from_utf8(u.body_bytes()).unwrap(),
            r#"{"add_revenue":"1.00","agent_call_disposition_notes":"a \"b\"","buyer_converted":true,"#.to_owned()
                + r#""call_disposition_id":"","contact_field_type":"5","fire_outgoing_webhook_ids":[3],"#
                + r#""manual_transcribe":true,"offer_converted":false,"payout":"2.00","#
                + r#""post_call_tokens":{"a":"2","zip":"1"},"trackdrive_buyer_id":"7","#
                + r#""trackdrive_traffic_source_id":"8"}"#
        );
    }

    #[test]
    fn an_update_reads_back_from_its_body() {
        let u = CallUpdate {
            revenue: Some(Amount::Add(dec("-1.5"))),
            payout: Some(Amount::Set(dec("2"))),
            buyer_converted: Some(true),
            manual_transcribe: Some(false),
            call_disposition_id: Some(String::new()),
            agent_call_disposition_notes: Some("a \"b\"".into()),
            fire_outgoing_webhook_ids: Some(vec![3, 4]),
            post_call_tokens: Tokens::from_iter([("zip", "1"), ("a", "2")]),
            ..update()
        };
        assert_eq!(CallUpdate::from_body(u.call, &u.body()), Some(u.clone()));
        assert_eq!(CallUpdate::from_body(u.call, &update().body()), Some(update()));
        let odd: Map<String, Value> = serde_json::from_str(r#"{"revenue": 5}"#).unwrap();
        assert_eq!(CallUpdate::from_body(u.call, &odd), None, "amounts are written as strings");
        let unknown: Map<String, Value> = serde_json::from_str(r#"{"nope": "1"}"#).unwrap();
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
        assert!(update().is_empty());
        assert!(update().body().is_empty());
        assert!(update().is_idempotent());
        let set_only = CallUpdate { revenue: Some(Amount::Set(dec("1"))), buyer_converted: Some(true), ..update() };
        assert!(set_only.is_idempotent());
        let add = CallUpdate { revenue: Some(Amount::Add(dec("1"))), ..update() };
        assert_eq!(add.non_idempotent_fields(), ["add_revenue"]);
        let all = CallUpdate {
            payout: Some(Amount::Add(dec("1"))),
            fire_outgoing_webhook_ids: Some(vec![1]),
            manual_transcribe: Some(false),
            ..add
        };
        assert_eq!(
            all.non_idempotent_fields(),
            ["add_revenue", "add_payout", "fire_outgoing_webhook_ids", "manual_transcribe"]
        );
    }
}
