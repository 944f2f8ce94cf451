//! The rollback file: for every applied row, a row in tdrecon's own input
//! format that puts the call back as it was read before the write.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::Snapshot;
use crate::input::update::{Amount, CallUpdate};

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
        (Some(_), None) => crate::input::validate::CLEAR.to_string(),
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
    use super::super::testing::{d, snapshot, update};
    use super::*;
    use crate::input::update::Tokens;

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
