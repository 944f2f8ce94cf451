//! `Snapshot`: a call's current values as a GET returns them, read leniently.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// What a call holds, as the API returns it (`{"call": {...}}` or flat).
/// Deserialized straight from a response body, reading values leniently
/// (amounts and ids as strings or numbers, flags as booleans or words); the
/// call's other fields are skipped, never built (this runs for every
/// response of a run).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    #[serde(deserialize_with = "lenient_decimal")]
    pub revenue: Option<Decimal>,
    #[serde(deserialize_with = "lenient_decimal")]
    pub payout: Option<Decimal>,
    #[serde(deserialize_with = "lenient_flag")]
    pub buyer_converted: Option<bool>,
    #[serde(deserialize_with = "lenient_flag")]
    pub offer_converted: Option<bool>,
    #[serde(deserialize_with = "lenient_text")]
    pub call_disposition_id: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub agent_call_disposition_notes: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub trackdrive_buyer_id: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub trackdrive_traffic_source_id: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub contact_field_type: Option<String>,
    #[serde(deserialize_with = "lenient_tokens")]
    pub post_call_tokens: BTreeMap<String, String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn decimal(v: &Value) -> Option<Decimal> {
    let t = text(v)?;
    let mut d = Decimal::from_str_exact(t.trim()).ok()?;
    d.rescale(2);
    Some(d)
}

fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        other => crate::input::values::parse_flag(&text(other)?).ok(),
    }
}

fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(&Value::deserialize(d)?))
}

fn lenient_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    Ok(decimal(&Value::deserialize(d)?))
}

fn lenient_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(flag(&Value::deserialize(d)?))
}

fn lenient_tokens<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let value = Value::deserialize(d)?;
    let tokens = value.as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), text(v).unwrap_or_default())).collect());
    Ok(tokens.unwrap_or_default())
}

/// `{"call": {...}}`; a body without `call` holds the call's fields itself.
#[derive(Deserialize)]
struct Envelope {
    call: Option<Snapshot>,
}

impl Snapshot {
    /// The snapshot as the journal keeps it: `parse` reads it back.
    pub fn to_json(&self) -> Value {
        let opt = |d: Option<Decimal>| d.map(|d| d.to_string());
        serde_json::json!({
            "revenue": opt(self.revenue),
            "payout": opt(self.payout),
            "buyer_converted": self.buyer_converted,
            "offer_converted": self.offer_converted,
            "call_disposition_id": self.call_disposition_id,
            "agent_call_disposition_notes": self.agent_call_disposition_notes,
            "trackdrive_buyer_id": self.trackdrive_buyer_id,
            "trackdrive_traffic_source_id": self.trackdrive_traffic_source_id,
            "contact_field_type": self.contact_field_type,
            "post_call_tokens": self.post_call_tokens,
        })
    }

    /// Reads a call from a response body; `None` when it holds no call.
    pub fn parse(body: &str) -> Option<Snapshot> {
        match serde_json::from_str::<Envelope>(body).ok()?.call {
            Some(call) => Some(call),
            None => serde_json::from_str(body).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{d, snapshot};
    use super::*;

    #[test]
    fn parses_a_call() {
        let s = snapshot();
        assert_eq!((s.revenue, s.payout), (Some(d("10")), Some(d("2.50"))));
        assert_eq!((s.buyer_converted, s.offer_converted), (Some(false), Some(true)));
        assert_eq!(s.call_disposition_id.as_deref(), Some("3"));
        assert_eq!(s.agent_call_disposition_notes, None);
        assert_eq!(s.post_call_tokens["zip"], "9");
        assert!(Snapshot::parse("not json").is_none());
        assert!(Snapshot::parse(r#"{"call": 5}"#).is_none());
        assert!(Snapshot::parse("[1]").is_none());
        // Flat, numbers for amounts and ids, fields the snapshot does not keep.
        let flat = Snapshot::parse(r#"{"id":1,"revenue":12.5,"call_disposition_id":4,"extra":{"a":[1]}}"#).unwrap();
        assert_eq!((flat.revenue, flat.call_disposition_id.as_deref()), (Some(d("12.50")), Some("4")));
        // Whatever a field holds, it reads leniently: words for flags,
        // nothing for the wrong shape, empty text for a token that is not text.
        let odd = Snapshot::parse(
            r#"{"call":{"revenue":[1],"payout":{"a":1},"buyer_converted":"yes","offer_converted":"maybe",
                "call_disposition_id":"","trackdrive_buyer_id":7,"contact_field_type":true,
                "post_call_tokens":{"zip":90210,"name":"Zo\u00eb","n":null,"o":{"x":[1]}},"extra":[{"b":null}]}}"#,
        )
        .unwrap();
        assert_eq!((odd.revenue, odd.payout), (None, None));
        assert_eq!((odd.buyer_converted, odd.offer_converted), (Some(true), None));
        assert_eq!((odd.call_disposition_id.clone(), odd.trackdrive_buyer_id.as_deref()), (None, Some("7")));
        assert_eq!(odd.contact_field_type, None);
        let tokens: Vec<(&str, &str)> = odd.post_call_tokens.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tokens, [("n", ""), ("name", "Zoë"), ("o", ""), ("zip", "90210")]);
        let no_tokens = Snapshot::parse(r#"{"call":{"post_call_tokens":"zip=1"}}"#).unwrap();
        assert!(no_tokens.post_call_tokens.is_empty());
        for s in [snapshot(), odd, Snapshot::default()] {
            assert_eq!(Snapshot::parse(&s.to_json().to_string()), Some(s.clone()), "round trip");
        }
    }
}
