//! `Snapshot`: a call's current values as the API returns them, read
//! leniently under the names of the table of fields (`input::fields`): the
//! call resource's names first (`traffic_source_converted`, `disposition_id`,
//! `token_values`…), the update's tolerated where a response carries them.
//! A field the call carries under neither name is *unknown*, not empty: a
//! row is never compared with a value tdrecon did not read.
//!
//! Responses are deserialized straight into a snapshot: the call's other
//! fields are skipped, never built (this runs for every response of a run).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value as Json;

use crate::input::fields::{CallField, FIELDS, Kind, Value, read_tokens, read_value};

/// What a call holds, for the fields of the table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    values: [Option<Value>; FIELDS.len()],
    /// The fields the call carried (under either name), as bits by field.
    known: u16,
    /// Contact fields (`token_values`).
    pub tokens: BTreeMap<String, String>,
}

impl Snapshot {
    /// What the call holds in `field` (`None`: empty, or unknown).
    pub fn get(&self, field: CallField) -> Option<&Value> {
        self.values[field as usize].as_ref()
    }

    /// Sets `field` (known from now on; `None` for empty).
    pub fn set(&mut self, field: CallField, value: Option<Value>) {
        self.values[field as usize] = value;
        self.known |= 1 << field as usize;
    }

    /// `set`, for building a snapshot in one expression.
    pub fn with(mut self, field: CallField, value: Value) -> Snapshot {
        self.set(field, Some(value));
        self
    }

    /// Whether the call read carried `field` at all.
    pub fn knows(&self, field: CallField) -> bool {
        self.known & (1 << field as usize) != 0
    }

    /// The readable fields the call read did not carry, under either name.
    pub fn missing(&self) -> impl Iterator<Item = CallField> + '_ {
        CallField::readable().filter(|f| !self.knows(*f))
    }

    pub fn revenue(&self) -> Option<Decimal> {
        self.get(CallField::Revenue).and_then(Value::money)
    }

    pub fn payout(&self) -> Option<Decimal> {
        self.get(CallField::Payout).and_then(Value::money)
    }

    /// A text or id field's value.
    pub fn text(&self, field: CallField) -> Option<&str> {
        self.get(field).and_then(Value::text)
    }

    /// The snapshot as the journal keeps it, under the resource's names:
    /// `parse` reads it back (what was unknown stays unknown).
    pub fn to_json(&self) -> Json {
        let mut map = serde_json::Map::new();
        for field in CallField::readable().filter(|f| self.knows(*f)) {
            let name = field.spec().read[0];
            let value = match field {
                CallField::Tokens => serde_json::to_value(&self.tokens).unwrap_or_default(),
                _ => self.get(field).map_or(Json::Null, Value::to_json),
            };
            map.insert(name.to_string(), value);
        }
        Json::Object(map)
    }

    /// Reads a call from a response body: `{"call": {...}}`, or the call's
    /// fields at the top; `None` when the body holds no call.
    pub fn parse(body: &str) -> Option<Snapshot> {
        read_answer(body).call
    }
}

/// What a 2xx response body says: the call it holds, and any error it
/// carries in the envelope other TrackDrive resources document
/// (`{"status": 422, "errors": {...}}`).
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    pub call: Option<Snapshot>,
    /// A `status` in the body other than 2xx.
    pub status: Option<u16>,
    /// A non-empty `errors`, as compact JSON.
    pub errors: Option<String>,
}

impl Answer {
    /// Why the body says the request did not take, if it says so.
    pub fn refusal(&self) -> Option<String> {
        match (self.status, &self.errors) {
            (None, None) => None,
            (Some(status), Some(errors)) => Some(format!("status {status} in the body: {errors}")),
            (Some(status), None) => Some(format!("status {status} in the body")),
            (None, Some(errors)) => Some(format!("errors in the body: {errors}")),
        }
    }
}

/// The envelope: `call`, `status` and `errors`, the rest skipped.
#[derive(serde::Deserialize)]
struct Envelope {
    call: Option<Json>,
    status: Option<Json>,
    errors: Option<Json>,
}

/// Reads a response body: its call and the error it may carry.
pub fn read_answer(body: &str) -> Answer {
    let Ok(envelope) = serde_json::from_str::<Envelope>(body) else { return Answer::default() };
    let status = envelope.status.as_ref().and_then(|s| match s {
        Json::Number(n) => n.as_u64(),
        Json::String(t) => t.trim().parse().ok(),
        _ => None,
    });
    let status = status.and_then(|s| u16::try_from(s).ok()).filter(|s| !(200..300).contains(s));
    let errors = envelope.errors.filter(|e| match e {
        Json::Null => false,
        Json::Object(m) => !m.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::String(s) => !s.trim().is_empty(),
        _ => true,
    });
    let call = match envelope.call {
        Some(call @ Json::Object(_)) => Snapshot::deserialize(call).ok(),
        Some(_) => None,
        // No envelope: the call's own fields, if the body is an object.
        None => serde_json::from_str::<Snapshot>(body).ok(),
    };
    Answer { call, status, errors: errors.map(|e| e.to_string()) }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Snapshot, D::Error> {
        d.deserialize_map(SnapshotVisitor)
    }
}

struct SnapshotVisitor;

impl<'de> Visitor<'de> for SnapshotVisitor {
    type Value = Snapshot;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a call object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Snapshot, A::Error> {
        let mut snapshot = Snapshot::default();
        // Which of a field's names was read: a preferred one wins whatever
        // order the keys come in.
        let mut rank = [usize::MAX; FIELDS.len()];
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let found = FIELDS.iter().find_map(|s| s.read.iter().position(|n| *n == key).map(|i| (s, i)));
            let Some((spec, i)) = found else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value: Json = map.next_value()?;
            if i > rank[spec.field as usize] {
                continue;
            }
            rank[spec.field as usize] = i;
            if spec.kind == Kind::Tokens {
                snapshot.tokens = read_tokens(&value).unwrap_or_default();
                snapshot.known |= 1 << spec.field as usize;
            } else {
                snapshot.set(spec.field, read_value(spec.kind, &value));
            }
        }
        Ok(snapshot)
    }
}

/// An event time, as ISO 8601 (`2026-11-28T14:03:36.692-05:00`) or as
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

/// What the tests of the stages that read calls share: a call as read, and
/// an empty update.
#[cfg(test)]
pub mod testing {
    use rust_decimal::Decimal;

    use super::Snapshot;
    use crate::input::update::CallUpdate;
    use crate::input::values::CallRef;

    pub fn d(s: &str) -> Decimal {
        let mut d = Decimal::from_str_exact(s).unwrap();
        d.rescale(2);
        d
    }

    /// A call as TrackDrive returns it, under its resource's names.
    pub fn snapshot() -> Snapshot {
        Snapshot::parse(
            r#"{"call":{"revenue":"10.00","payout":"2.5","buyer_converted":false,"traffic_source_converted":true,
                "disposition_id":"3","disposition_notes":null,"buyer_id":"7","traffic_source_id":null,
                "contact_field_type":null,"token_values":{"zip":"9"}}}"#,
        )
        .unwrap()
    }

    pub fn update() -> CallUpdate {
        CallUpdate::new(CallRef::Id(1))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{d, snapshot};
    use super::*;
    use CallField::*;

    #[test]
    fn parses_a_call_under_the_resource_names() {
        let s = snapshot();
        assert_eq!((s.revenue(), s.payout()), (Some(d("10")), Some(d("2.50"))));
        assert_eq!(
            (s.get(BuyerConverted), s.get(OfferConverted)),
            (Some(&Value::Flag(false)), Some(&Value::Flag(true)))
        );
        assert_eq!(s.text(DispositionId), Some("3"));
        assert_eq!(s.get(DispositionNotes), None);
        assert!(s.knows(DispositionNotes), "null is known to be empty");
        assert_eq!(s.tokens["zip"], "9");
        assert!(Snapshot::parse("not json").is_none());
        assert!(Snapshot::parse(r#"{"call": 5}"#).is_none());
        assert!(Snapshot::parse("[1]").is_none());
    }

    #[test]
    fn the_update_names_are_tolerated_and_the_resource_names_win() {
        let flat = Snapshot::parse(r#"{"id":1,"revenue":12.5,"call_disposition_id":4,"extra":{"a":[1]}}"#).unwrap();
        assert_eq!((flat.revenue(), flat.text(DispositionId)), (Some(d("12.50")), Some("4")));
        let both = r#"{"call":{"call_disposition_id":"4","disposition_id":"5","offer_converted":false,
                       "traffic_source_converted":true,"post_call_tokens":{"a":"1"},"token_values":{"b":"2"}}}"#;
        let s = Snapshot::parse(both).unwrap();
        assert_eq!(s.text(DispositionId), Some("5"));
        assert_eq!(s.get(OfferConverted), Some(&Value::Flag(true)));
        assert_eq!(s.tokens.keys().collect::<Vec<_>>(), ["b"]);
        let reversed = r#"{"disposition_id":"5","call_disposition_id":"4"}"#;
        assert_eq!(Snapshot::parse(reversed).unwrap().text(DispositionId), Some("5"));
    }

    #[test]
    fn a_field_under_neither_name_is_unknown() {
        let s = Snapshot::parse(r#"{"call":{"revenue":"1.00"}}"#).unwrap();
        assert!(s.knows(Revenue) && !s.knows(DispositionId) && !s.knows(Tokens));
        let missing: Vec<CallField> = s.missing().collect();
        assert!(missing.contains(&DispositionNotes) && !missing.contains(&Revenue), "{missing:?}");
    }

    #[test]
    fn odd_values_read_leniently() {
        let odd = Snapshot::parse(
            r#"{"call":{"revenue":[1],"payout":{"a":1},"buyer_converted":"yes","traffic_source_converted":"maybe",
                "disposition_id":"","buyer_id":7,"contact_field_type":true,
                "token_values":{"zip":90210,"name":"Zo\u00eb","n":null,"o":{"x":[1]}},"extra":[{"b":null}]}}"#,
        )
        .unwrap();
        assert_eq!((odd.revenue(), odd.payout()), (None, None));
        assert_eq!((odd.get(BuyerConverted), odd.get(OfferConverted)), (Some(&Value::Flag(true)), None));
        assert_eq!((odd.text(DispositionId), odd.text(BuyerId)), (None, Some("7")));
        assert_eq!(odd.get(ContactFieldType), None);
        let tokens: Vec<(&str, &str)> = odd.tokens.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tokens, [("n", ""), ("name", "Zoë"), ("o", ""), ("zip", "90210")]);
        let as_text = Snapshot::parse(r#"{"call":{"token_values":"{\"zip\":\"1\"}"}}"#).unwrap();
        assert_eq!(as_text.tokens["zip"], "1");
        for s in [snapshot(), odd, Snapshot::default()] {
            assert_eq!(Snapshot::parse(&s.to_json().to_string()), Some(s.clone()), "round trip");
        }
    }

    #[test]
    fn a_2xx_body_that_says_it_did_not_take() {
        let cases = [
            (
                r#"{"status":422,"errors":{"revenue":["is invalid"]}}"#,
                Some(r#"status 422 in the body: {"revenue":["is invalid"]}"#),
            ),
            (r#"{"status":"500"}"#, Some("status 500 in the body")),
            (r#"{"errors":["nope"],"call":{"revenue":"1"}}"#, Some(r#"errors in the body: ["nope"]"#)),
            (r#"{"status":200,"errors":{},"call":{"revenue":"1"}}"#, None),
            (r#"{"call":{"revenue":"1"},"errors":null}"#, None),
            (r#"{"revenue":"1"}"#, None),
        ];
        for (body, want) in cases {
            assert_eq!(read_answer(body).refusal().as_deref(), want, "{body}");
        }
        assert_eq!(
            read_answer(r#"{"status":200,"call":{"revenue":"1"}}"#).call.and_then(|c| c.revenue()),
            Some(d("1"))
        );
    }
}
