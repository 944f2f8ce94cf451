//! `CallUpdate`: one validated row, and the exact JSON body the calls API takes.
//!
//! Building the body is pure (no I/O), so every field's wire form is tested
//! here: amounts as JSON strings holding the normalised decimal, flags as JSON
//! booleans, tokens as an object, `#clear` as an empty string.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::values::CallRef;

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
    pub post_call_tokens: BTreeMap<String, String>,
    /// Names still to be turned into ids (`names::Directory::resolve`);
    /// an update is only sent once these are all `None`.
    pub names: NameRefs,
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
            post_call_tokens: BTreeMap::new(),
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
        let mut m = Map::new();
        let mut amount = |set: &str, add: &str, a: &Option<Amount>| match a {
            Some(Amount::Set(d)) => {
                m.insert(set.into(), Value::String(d.to_string()));
            }
            Some(Amount::Add(d)) => {
                m.insert(add.into(), Value::String(d.to_string()));
            }
            None => {}
        };
        amount("revenue", "add_revenue", &self.revenue);
        amount("payout", "add_payout", &self.payout);
        let flags = [
            ("buyer_converted", self.buyer_converted),
            ("offer_converted", self.offer_converted),
            ("manual_transcribe", self.manual_transcribe),
        ];
        for (name, flag) in flags {
            if let Some(b) = flag {
                m.insert(name.into(), Value::Bool(b));
            }
        }
        let texts = [
            ("trackdrive_buyer_id", &self.trackdrive_buyer_id),
            ("trackdrive_traffic_source_id", &self.trackdrive_traffic_source_id),
            ("call_disposition_id", &self.call_disposition_id),
            ("agent_call_disposition_notes", &self.agent_call_disposition_notes),
            ("contact_field_type", &self.contact_field_type),
        ];
        for (name, text) in texts {
            if let Some(t) = text {
                m.insert(name.into(), Value::String(t.clone()));
            }
        }
        if let Some(ids) = &self.fire_outgoing_webhook_ids {
            m.insert("fire_outgoing_webhook_ids".into(), ids.iter().copied().map(Value::from).collect());
        }
        if !self.post_call_tokens.is_empty() {
            let tokens = self.post_call_tokens.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            m.insert("post_call_tokens".into(), Value::Object(tokens));
        }
        m
    }

    /// The body serialised, as sent on the wire.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body()).expect("a JSON map of strings, bools and numbers always serialises")
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
                CallUpdate {
                    post_call_tokens: BTreeMap::from([("zip".into(), "90210".into()), ("First".into(), "Jo".into())]),
                    ..update()
                },
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
