//! The one table of a call's fields: the only place that names them.
//!
//! TrackDrive updates a call by its update parameters (`offer_converted`,
//! `call_disposition_id`…) but returns the call under its resource's names
//! (`traffic_source_converted`, `disposition_id`…; ../shared/TRACKDRIVE-API.md
//! has both lists and how they pair). Each row of `FIELDS` says, for one
//! field: the parameter that sets it (and the one that adds to it), the
//! names a call is read back by (the resource's first, the update's last,
//! tolerated where a response carries it), its kind, whether the API lets it
//! be blank, and whether sending it changes state every time. Input columns,
//! request bodies, snapshots, diffs, results columns, rollback rows, plans and
//! the simulator all go through this table.

use rust_decimal::Decimal;
use serde_json::Value as Json;

/// A field of a call that a row can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallField {
    Revenue,
    Payout,
    BuyerConverted,
    OfferConverted,
    ManualTranscribe,
    BuyerId,
    TrafficSourceId,
    DispositionId,
    DispositionNotes,
    ContactFieldType,
    Webhooks,
    Tokens,
}

/// The parameter each update carries its own reference in (unless
/// `--no-reference`): a value unique to the run and the row, which
/// TrackDrive's audit log records with the request's params (its documented
/// example records a parameter that is not an update parameter), so a row in
/// doubt is settled by finding its own reference. Not a call field.
pub const REFERENCE_PARAM: &str = "tdrecon_ref";

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An amount: sent as a JSON string holding the normalised decimal.
    Money,
    /// A flag: sent as a JSON boolean.
    Flag,
    /// A TrackDrive record's id: digits, sent as a string.
    Id,
    /// Free text.
    Text,
    /// Whole numbers (webhook ids to fire): sent as a JSON array.
    Ids,
    /// Contact fields: an object of strings.
    Tokens,
}

/// One row of the table.
#[derive(Debug)]
pub struct Spec {
    pub field: CallField,
    /// The update parameter that sets it.
    pub param: &'static str,
    /// The update parameter that adds to it (amounts only).
    pub add: Option<&'static str>,
    /// The names a call is read back by, preferred first; empty when a call
    /// does not show it (a webhook fired, a transcription asked for).
    pub read: &'static [&'static str],
    pub kind: Kind,
    /// The API marks it "Blank Value Allowed": `#clear` may send it empty.
    pub blank: bool,
    /// Sending it changes state every time, whatever it holds.
    pub acts: bool,
    /// results.csv reports it before and after.
    pub reported: bool,
}

/// Every field, in `CallField`'s order.
pub const FIELDS: [Spec; 12] = [
    spec(CallField::Revenue, "revenue", Some("add_revenue"), &["revenue", "buyer_revenue"], Kind::Money),
    spec(CallField::Payout, "payout", Some("add_payout"), &["payout", "traffic_source_payout"], Kind::Money),
    spec(CallField::BuyerConverted, "buyer_converted", None, &["buyer_converted"], Kind::Flag),
    spec(
        CallField::OfferConverted,
        "offer_converted",
        None,
        &["traffic_source_converted", "offer_converted"],
        Kind::Flag,
    ),
    Spec {
        acts: true,
        reported: false,
        ..spec(CallField::ManualTranscribe, "manual_transcribe", None, &[], Kind::Flag)
    },
    spec(CallField::BuyerId, "trackdrive_buyer_id", None, &["buyer_id", "trackdrive_buyer_id"], Kind::Id),
    spec(
        CallField::TrafficSourceId,
        "trackdrive_traffic_source_id",
        None,
        &["traffic_source_id", "trackdrive_traffic_source_id"],
        Kind::Id,
    ),
    Spec {
        blank: true,
        ..spec(
            CallField::DispositionId,
            "call_disposition_id",
            None,
            &["disposition_id", "call_disposition_id"],
            Kind::Id,
        )
    },
    Spec {
        blank: true,
        ..spec(
            CallField::DispositionNotes,
            "agent_call_disposition_notes",
            None,
            &["disposition_notes", "agent_call_disposition_notes"],
            Kind::Text,
        )
    },
    Spec {
        reported: false,
        ..spec(CallField::ContactFieldType, "contact_field_type", None, &["contact_field_type"], Kind::Text)
    },
    Spec {
        acts: true,
        reported: false,
        ..spec(CallField::Webhooks, "fire_outgoing_webhook_ids", None, &[], Kind::Ids)
    },
    spec(CallField::Tokens, "post_call_tokens", None, &["token_values", "post_call_tokens"], Kind::Tokens),
];

const fn spec(
    field: CallField,
    param: &'static str,
    add: Option<&'static str>,
    read: &'static [&'static str],
    kind: Kind,
) -> Spec {
    Spec { field, param, add, read, kind, blank: false, acts: false, reported: true }
}

impl CallField {
    /// Every field, in order.
    pub fn all() -> impl Iterator<Item = CallField> {
        FIELDS.iter().map(|s| s.field)
    }

    pub fn spec(self) -> &'static Spec {
        let spec = &FIELDS[self as usize];
        debug_assert_eq!(spec.field, self, "FIELDS is in CallField's order");
        spec
    }

    /// The update parameter that sets it.
    pub fn param(self) -> &'static str {
        self.spec().param
    }

    /// The field an update parameter names, and whether it adds.
    pub fn of_param(param: &str) -> Option<(CallField, bool)> {
        FIELDS.iter().find_map(|s| {
            if s.param == param {
                Some((s.field, false))
            } else if s.add == Some(param) {
                Some((s.field, true))
            } else {
                None
            }
        })
    }

    /// The fields a call carries and tdrecon reads back, in order.
    pub fn readable() -> impl Iterator<Item = CallField> {
        FIELDS.iter().filter(|s| !s.read.is_empty()).map(|s| s.field)
    }
}

/// The resource names `columns=` may ask for: every name a readable field
/// is read by that the list's pick list documents (the update's names are
/// not in it), and what finds a call.
pub fn pick_list_columns() -> Vec<&'static str> {
    // Who, when and whose: what a discrepancy shows of a call.
    let mut columns = vec!["id", "uuid", "created_at", "caller_number", "buyer", "user_buyer_id"];
    for spec in FIELDS.iter().filter(|s| !s.read.is_empty()) {
        columns.extend(spec.read.iter().copied().filter(|n| PICK_LIST.contains(n)));
    }
    columns
}

/// The `columns` pick list of `GET /api/v1/calls`, as public client code
/// copies it (TRACKDRIVE-API.md): what a list may be asked to return.
pub const PICK_LIST: &[&str] = &[
    "id",
    "legacy_id",
    "type",
    "uuid",
    "created_at",
    "updated_at",
    "deleted_at",
    "user_updated_at",
    "routes_show_path",
    "routes_edit_path",
    "external_record_id",
    "name",
    "recording_url",
    "category",
    "number_called",
    "number_id",
    "connected_to",
    "caller_number",
    "offer",
    "user_offer_id",
    "offer_id",
    "quality_assurance_user_id",
    "quality_assurance_name",
    "quality_assurance_id",
    "agent_id",
    "traffic_source",
    "user_traffic_source_id",
    "traffic_source_id",
    "buyer",
    "user_buyer_id",
    "buyer_id",
    "obfuscated_caller_number",
    "caller_city",
    "caller_country",
    "token_values",
    "total_duration",
    "hold_duration",
    "ivr_duration",
    "attempted_duration",
    "answered_duration",
    "agent_duration",
    "sub_id",
    "schedule_id",
    "schedule_name",
    "ring_pool_id",
    "status",
    "buyer_converted",
    "buyer_repeat_caller",
    "buyer_revenue",
    "revenue",
    "traffic_source_converted",
    "traffic_source_repeat_caller",
    "traffic_source_payout",
    "payout",
    "trackdrive_cost",
    "provider_cost",
    "call_sid",
    "provider",
    "outgoing_webhooks_count",
    "ended_at",
    "contact_field_type",
    "disposition_id",
    "disposition_key",
    "disposition_name",
    "disposition_notes",
    "hangup_cause",
];

/// A field's value, as read from a call or set by a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Money(Decimal),
    Flag(bool),
    /// An id or text (`Kind::Id`, `Kind::Text`); empty means blank.
    Text(String),
}

impl Value {
    /// As a cell of a report: amounts with two decimals, flags as words.
    pub fn to_cell(&self) -> String {
        match self {
            Value::Money(d) => d.to_string(),
            Value::Flag(b) => b.to_string(),
            Value::Text(t) => t.clone(),
        }
    }

    /// As the API takes it in an update body.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Money(d) => Json::String(d.to_string()),
            Value::Flag(b) => Json::Bool(*b),
            Value::Text(t) => Json::String(t.clone()),
        }
    }

    pub fn money(&self) -> Option<Decimal> {
        match self {
            Value::Money(d) => Some(*d),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Reads a value of `kind` leniently, as a response may type it: amounts
/// as strings (`"12.5"`) or numbers, flags as booleans, numbers or any
/// documented word, ids and text as strings or numbers. `None` for null,
/// an empty string, or a shape the kind cannot take.
pub fn read_value(kind: Kind, v: &Json) -> Option<Value> {
    let text = || match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match kind {
        Kind::Money => {
            let mut d = Decimal::from_str_exact(text()?.trim()).ok()?;
            d.rescale(2);
            Some(Value::Money(d))
        }
        Kind::Flag => match v {
            Json::Bool(b) => Some(Value::Flag(*b)),
            _ => crate::input::values::parse_flag(&text()?).ok().map(Value::Flag),
        },
        Kind::Id | Kind::Text => text().map(Value::Text),
        Kind::Ids | Kind::Tokens => None,
    }
}

/// Reads contact fields leniently: an object of values (a JSON string
/// holding one, too), or a list of `{name|key, value}` objects. Values that
/// are not text or numbers read as empty.
pub fn read_tokens(v: &Json) -> Option<std::collections::BTreeMap<String, String>> {
    let scalar = |v: &Json| match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        _ => String::new(),
    };
    match v {
        Json::Object(m) => Some(m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()),
        Json::String(s) => match serde_json::from_str::<Json>(s) {
            Ok(inner @ Json::Object(_)) => read_tokens(&inner),
            _ => None,
        },
        Json::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| {
                    let name = item.get("name").or_else(|| item.get("key"))?.as_str()?;
                    Some((name.to_string(), item.get("value").map(scalar).unwrap_or_default()))
                })
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_is_in_field_order_and_names_each_parameter_once() {
        for (i, spec) in FIELDS.iter().enumerate() {
            assert_eq!(spec.field as usize, i, "{:?}", spec.field);
        }
        let mut params: Vec<&str> = FIELDS.iter().flat_map(|s| std::iter::once(s.param).chain(s.add)).collect();
        let n = params.len();
        params.sort();
        params.dedup();
        assert_eq!(params.len(), n, "a parameter named twice");
        assert_eq!(CallField::of_param("add_payout"), Some((CallField::Payout, true)));
        assert_eq!(CallField::of_param("offer_converted"), Some((CallField::OfferConverted, false)));
        assert_eq!(CallField::of_param("traffic_source_converted"), None, "a resource name is not a parameter");
    }

    #[test]
    fn read_names_are_the_resources_then_the_updates() {
        for spec in FIELDS.iter().filter(|s| !s.read.is_empty()) {
            assert!(PICK_LIST.contains(&spec.read[0]), "{} is read by a name outside the pick list", spec.param);
        }
        let columns = pick_list_columns();
        assert!(columns.iter().all(|c| PICK_LIST.contains(c)), "{columns:?}");
        for name in ["traffic_source_converted", "buyer_id", "disposition_id", "disposition_notes", "token_values"] {
            assert!(columns.contains(&name), "{name}");
        }
        for name in ["offer_converted", "trackdrive_buyer_id", "call_disposition_id", "post_call_tokens"] {
            assert!(!columns.contains(&name), "{name} is not in the pick list");
        }
    }

    #[test]
    fn values_read_as_a_response_may_type_them() {
        let cases = [
            (Kind::Money, json!("12.5"), Some(Value::Money(Decimal::new(1250, 2)))),
            (Kind::Money, json!(12.5), Some(Value::Money(Decimal::new(1250, 2)))),
            (Kind::Money, json!(7), Some(Value::Money(Decimal::new(700, 2)))),
            (Kind::Money, json!("x"), None),
            (Kind::Money, json!(null), None),
            (Kind::Flag, json!(true), Some(Value::Flag(true))),
            (Kind::Flag, json!("1"), Some(Value::Flag(true))),
            (Kind::Flag, json!(0), Some(Value::Flag(false))),
            (Kind::Flag, json!("off"), Some(Value::Flag(false))),
            (Kind::Flag, json!("maybe"), None),
            (Kind::Id, json!(7), Some(Value::Text("7".into()))),
            (Kind::Id, json!(""), None),
            (Kind::Text, json!("called back"), Some(Value::Text("called back".into()))),
            (Kind::Text, json!([1]), None),
        ];
        for (kind, v, want) in cases {
            assert_eq!(read_value(kind, &v), want, "{kind:?} {v}");
        }
        let want = Some([("zip".to_string(), "9".to_string())].into());
        assert_eq!(read_tokens(&json!({"zip": "9"})), want);
        assert_eq!(read_tokens(&json!({"zip": 9})), want);
        assert_eq!(read_tokens(&json!("{\"zip\":\"9\"}")), want);
        assert_eq!(read_tokens(&json!([{"name": "zip", "value": "9"}])), want);
        assert_eq!(read_tokens(&json!("zip=9")), None);
    }
}
