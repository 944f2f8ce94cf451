//! Read before write. A call's current values (`Snapshot`, read with a GET),
//! the part of an update that would change them (`diff`), whether an
//! ambiguous add was applied (`verify`), and the row that undoes an applied
//! update (`rollback_cells`). All pure: the HTTP is in `upload::row`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::update::{Amount, CallUpdate};

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
        other => crate::values::parse_flag(&text(other)?).ok(),
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
    /// Reads a call from a response body; `None` when it holds no call.
    pub fn parse(body: &str) -> Option<Snapshot> {
        match serde_json::from_str::<Envelope>(body).ok()?.call {
            Some(call) => Some(call),
            None => serde_json::from_str(body).ok(),
        }
    }
}

/// A blank text target (`#clear`) matches a field that is empty or null.
fn same_text(target: &str, current: &Option<String>) -> bool {
    match current {
        Some(c) => c == target,
        None => target.is_empty(),
    }
}

/// The part of `update` that would change `current`: set fields already
/// holding their target are dropped. Adds, webhook refires and
/// transcriptions are actions, never dropped.
pub fn diff(update: &CallUpdate, current: &Snapshot) -> CallUpdate {
    let mut d = update.clone();
    if let Some(Amount::Set(v)) = d.revenue
        && current.revenue == Some(v)
    {
        d.revenue = None;
    }
    if let Some(Amount::Set(v)) = d.payout
        && current.payout == Some(v)
    {
        d.payout = None;
    }
    if d.buyer_converted.is_some() && d.buyer_converted == current.buyer_converted {
        d.buyer_converted = None;
    }
    if d.offer_converted.is_some() && d.offer_converted == current.offer_converted {
        d.offer_converted = None;
    }
    let texts = [
        (&mut d.trackdrive_buyer_id, &current.trackdrive_buyer_id),
        (&mut d.trackdrive_traffic_source_id, &current.trackdrive_traffic_source_id),
        (&mut d.call_disposition_id, &current.call_disposition_id),
        (&mut d.agent_call_disposition_notes, &current.agent_call_disposition_notes),
        (&mut d.contact_field_type, &current.contact_field_type),
    ];
    for (target, now) in texts {
        if target.as_deref().is_some_and(|t| same_text(t, now)) {
            *target = None;
        }
    }
    d.post_call_tokens.retain(|name, value| current.post_call_tokens.get(name).map(String::as_str) != Some(value));
    d
}

/// What reading a call back says about an add that may have been applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Moved by exactly the row's amounts: applied once.
    Applied,
    /// Not moved at all: not applied, safe to send once more.
    NotApplied,
    /// Moved by something else: another writer, or applied more than once.
    Unclear(String),
}

/// Compares a call before and after an ambiguous send of `sent`.
pub fn verify(sent: &CallUpdate, before: &Snapshot, after: &Snapshot) -> Verdict {
    let mut applied = true;
    let mut untouched = true;
    let mut details = Vec::new();
    let pairs = [
        ("revenue", &sent.revenue, before.revenue, after.revenue),
        ("payout", &sent.payout, before.payout, after.payout),
    ];
    for (name, amount, b, a) in pairs {
        let expected = match (amount, b) {
            (Some(Amount::Add(x)), Some(b)) => b + *x,
            (Some(Amount::Set(x)), _) => *x,
            (None, _) => continue,
            (Some(Amount::Add(_)), None) => return Verdict::Unclear(format!("{name} could not be read before")),
        };
        applied &= a == Some(expected);
        untouched &= a == b;
        details.push(format!(
            "{name} before {} after {} expected {expected}",
            b.map_or("?".into(), |d| d.to_string()),
            a.map_or("?".into(), |d| d.to_string())
        ));
    }
    if details.is_empty() {
        // Webhook refires and transcriptions leave nothing to read back.
        return Verdict::Unclear("nothing in the call shows whether it was applied".into());
    }
    if applied && !untouched {
        Verdict::Applied
    } else if untouched && !applied {
        Verdict::NotApplied
    } else {
        Verdict::Unclear(details.join("; "))
    }
}

/// The columns of a rollback file (tdrecon's own input format).
pub const ROLLBACK_HEADER: [&str; 12] = [
    "id",
    "revenue",
    "add_revenue",
    "payout",
    "add_payout",
    "buyer_converted",
    "offer_converted",
    "call_disposition_id",
    "agent_call_disposition_notes",
    "trackdrive_buyer_id",
    "trackdrive_traffic_source_id",
    "post_call_tokens",
];

/// The rollback row that returns a call to `before`, for an applied `sent`
/// (the fields actually sent), or `None` when nothing can be undone.
/// Adds are undone by their negative; what the API cannot blank (a buyer, a
/// traffic source, a contact field that did not exist) is left as it is.
pub fn rollback_cells(sent: &CallUpdate, before: &Snapshot) -> Option<Vec<String>> {
    let mut cells = vec![String::new(); ROLLBACK_HEADER.len()];
    cells[0] = sent.call.to_string();
    let money = |d: Option<Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    match sent.revenue {
        Some(Amount::Set(_)) => cells[1] = money(before.revenue),
        Some(Amount::Add(x)) => cells[2] = (-x).to_string(),
        None => {}
    }
    match sent.payout {
        Some(Amount::Set(_)) => cells[3] = money(before.payout),
        Some(Amount::Add(x)) => cells[4] = (-x).to_string(),
        None => {}
    }
    let flag = |set: Option<bool>, was: Option<bool>| match (set, was) {
        (Some(_), Some(b)) => b.to_string(),
        _ => String::new(),
    };
    cells[5] = flag(sent.buyer_converted, before.buyer_converted);
    cells[6] = flag(sent.offer_converted, before.offer_converted);
    let clearable = |set: &Option<String>, was: &Option<String>| match (set, was) {
        (Some(_), Some(v)) => v.clone(),
        (Some(_), None) => crate::validate::CLEAR.to_string(),
        _ => String::new(),
    };
    cells[7] = clearable(&sent.call_disposition_id, &before.call_disposition_id);
    cells[8] = clearable(&sent.agent_call_disposition_notes, &before.agent_call_disposition_notes);
    let restorable = |set: &Option<String>, was: &Option<String>| match (set, was) {
        (Some(_), Some(v)) => v.clone(),
        _ => String::new(),
    };
    cells[9] = restorable(&sent.trackdrive_buyer_id, &before.trackdrive_buyer_id);
    cells[10] = restorable(&sent.trackdrive_traffic_source_id, &before.trackdrive_traffic_source_id);
    let tokens: BTreeMap<&String, &String> =
        sent.post_call_tokens.names().filter_map(|name| before.post_call_tokens.get_key_value(name)).collect();
    if !tokens.is_empty() {
        cells[11] = serde_json::to_string(&tokens).expect("a map of strings serialises");
    }
    cells[1..].iter().any(|c| !c.is_empty()).then_some(cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::Tokens;
    use crate::values::CallRef;

    fn d(s: &str) -> Decimal {
        let mut d = Decimal::from_str_exact(s).unwrap();
        d.rescale(2);
        d
    }

    fn snapshot() -> Snapshot {
        Snapshot::parse(
            r#"{"call":{"revenue":"10.00","payout":"2.5","buyer_converted":false,"offer_converted":true,
                "call_disposition_id":"3","agent_call_disposition_notes":null,"trackdrive_buyer_id":"7",
                "trackdrive_traffic_source_id":null,"post_call_tokens":{"zip":"9"}}}"#,
        )
        .unwrap()
    }

    fn update() -> CallUpdate {
        CallUpdate::new(CallRef::Id(1))
    }

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
        assert_eq!((odd.call_disposition_id, odd.trackdrive_buyer_id.as_deref()), (None, Some("7")));
        assert_eq!(odd.contact_field_type, None);
        let tokens: Vec<(&str, &str)> = odd.post_call_tokens.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(tokens, [("n", ""), ("name", "Zoë"), ("o", ""), ("zip", "90210")]);
        let no_tokens = Snapshot::parse(r#"{"call":{"post_call_tokens":"zip=1"}}"#).unwrap();
        assert!(no_tokens.post_call_tokens.is_empty());
    }

    #[test]
    fn diff_drops_what_already_matches() {
        let s = snapshot();
        let same = CallUpdate {
            revenue: Some(Amount::Set(d("10"))),
            payout: Some(Amount::Set(d("2.5"))),
            buyer_converted: Some(false),
            call_disposition_id: Some("3".into()),
            agent_call_disposition_notes: Some(String::new()),
            trackdrive_buyer_id: Some("7".into()),
            post_call_tokens: Tokens::from_iter([("zip", "9")]),
            ..update()
        };
        assert!(diff(&same, &s).is_empty());
        let changed = CallUpdate { revenue: Some(Amount::Set(d("11"))), offer_converted: Some(false), ..same.clone() };
        let out = diff(&changed, &s);
        assert_eq!(out.revenue, Some(Amount::Set(d("11"))));
        assert_eq!(out.offer_converted, Some(false));
        assert!(out.payout.is_none() && out.post_call_tokens.is_empty());
        // Adds and actions are never dropped.
        let adds =
            CallUpdate { revenue: Some(Amount::Add(d("0"))), fire_outgoing_webhook_ids: Some(vec![1]), ..update() };
        assert_eq!(diff(&adds, &s), adds);
    }

    #[test]
    fn verdicts() {
        let before = snapshot();
        let sent = CallUpdate { revenue: Some(Amount::Add(d("2.5"))), ..update() };
        let moved = |r: &str| Snapshot { revenue: Some(d(r)), ..before.clone() };
        assert_eq!(verify(&sent, &before, &moved("12.50")), Verdict::Applied);
        assert_eq!(verify(&sent, &before, &moved("10.00")), Verdict::NotApplied);
        assert!(matches!(verify(&sent, &before, &moved("15.00")), Verdict::Unclear(_)));
        let webhooks = CallUpdate { fire_outgoing_webhook_ids: Some(vec![1]), ..update() };
        assert!(matches!(verify(&webhooks, &before, &before), Verdict::Unclear(_)));
    }

    #[test]
    fn rollback_rows() {
        let before = snapshot();
        let sent = CallUpdate {
            revenue: Some(Amount::Set(d("99"))),
            payout: Some(Amount::Add(d("1.25"))),
            buyer_converted: Some(true),
            agent_call_disposition_notes: Some("x".into()),
            trackdrive_traffic_source_id: Some("5".into()),
            post_call_tokens: Tokens::from_iter([("zip", "1"), ("new", "2")]),
            ..update()
        };
        let cells = rollback_cells(&sent, &before).unwrap();
        assert_eq!(
            cells,
            ["1", "10.00", "", "", "-1.25", "false", "", "", "#clear", "", "", r#"{"zip":"9"}"#].map(String::from)
        );
        let actions_only = CallUpdate { fire_outgoing_webhook_ids: Some(vec![1]), ..update() };
        assert_eq!(rollback_cells(&actions_only, &before), None);
    }
}
