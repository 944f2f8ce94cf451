//! Comparing a row with the call it targets: what would change (`diff`), and
//! after an ambiguous send, whether it was applied (`verify`).

use crate::input::update::{Amount, CallUpdate};

use super::{Evidence, Snapshot};

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

/// Compares a call before and after an ambiguous send of `sent`: moved by
/// exactly the row's amounts is applied once; not moved at all, not
/// applied; moved by something else (another writer, or applied more than
/// once), unclear.
pub fn verify(sent: &CallUpdate, before: &Snapshot, after: &Snapshot) -> Evidence {
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
            (Some(Amount::Add(_)), None) => return Evidence::Unclear(format!("{name} could not be read before")),
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
        return Evidence::Unclear("nothing in the call shows whether it was applied".into());
    }
    if applied && !untouched {
        Evidence::Applied(1)
    } else if untouched && !applied {
        Evidence::NotApplied
    } else {
        Evidence::Unclear(details.join("; "))
    }
}

/// The call as it would be once `sent` is applied to `before` (`plan`):
/// set fields take their value, adds move the amount, tokens merge.
pub fn project(sent: &CallUpdate, before: &Snapshot) -> Snapshot {
    let mut after = before.clone();
    let amount = |a: &Option<Amount>, was: Option<rust_decimal::Decimal>| match a {
        Some(Amount::Set(x)) => Some(*x),
        Some(Amount::Add(x)) => Some(was.unwrap_or_default() + *x),
        None => was,
    };
    after.revenue = amount(&sent.revenue, before.revenue);
    after.payout = amount(&sent.payout, before.payout);
    after.buyer_converted = sent.buyer_converted.or(before.buyer_converted);
    after.offer_converted = sent.offer_converted.or(before.offer_converted);
    let text = |set: &Option<String>, was: &Option<String>| match set {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v.clone()),
        None => was.clone(),
    };
    after.call_disposition_id = text(&sent.call_disposition_id, &before.call_disposition_id);
    after.agent_call_disposition_notes = text(&sent.agent_call_disposition_notes, &before.agent_call_disposition_notes);
    after.trackdrive_buyer_id = text(&sent.trackdrive_buyer_id, &before.trackdrive_buyer_id);
    after.trackdrive_traffic_source_id = text(&sent.trackdrive_traffic_source_id, &before.trackdrive_traffic_source_id);
    after.contact_field_type = text(&sent.contact_field_type, &before.contact_field_type);
    for (name, value) in sent.post_call_tokens.iter() {
        after.post_call_tokens.insert(name.to_string(), value.to_string());
    }
    after
}

#[cfg(test)]
mod tests {
    use super::super::testing::{d, snapshot, update};
    use super::*;
    use crate::input::update::Tokens;

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
        assert_eq!(verify(&sent, &before, &moved("12.50")), Evidence::Applied(1));
        assert_eq!(verify(&sent, &before, &moved("10.00")), Evidence::NotApplied);
        assert!(matches!(verify(&sent, &before, &moved("15.00")), Evidence::Unclear(_)));
        let webhooks = CallUpdate { fire_outgoing_webhook_ids: Some(vec![1]), ..update() };
        assert!(matches!(verify(&webhooks, &before, &before), Evidence::Unclear(_)));
    }

    #[test]
    fn projections() {
        let before = snapshot();
        let sent = CallUpdate {
            revenue: Some(Amount::Add(d("2.5"))),
            payout: Some(Amount::Set(d("1"))),
            call_disposition_id: Some(String::new()),
            post_call_tokens: Tokens::from_iter([("zip", "1"), ("new", "2")]),
            ..update()
        };
        let after = project(&sent, &before);
        assert_eq!((after.revenue, after.payout), (Some(d("12.50")), Some(d("1.00"))));
        assert_eq!(after.call_disposition_id, None, "#clear");
        assert_eq!(after.trackdrive_buyer_id, before.trackdrive_buyer_id);
        assert_eq!(after.post_call_tokens.len(), 2);
    }
}
