//! Comparing a row with the call it targets: what would change (`diff`), and
//! after an ambiguous send, whether it was applied (`verify`).

use crate::input::fields::{CallField, Value};
use crate::input::update::{Amount, CallUpdate, Change};

use super::evidence::Evidence;
use crate::trackdrive::Snapshot;

/// Whether the call already holds what `target` sets: a blank target
/// (`#clear`) matches a field that is empty or null; a field the call read
/// did not carry matches nothing.
fn already(target: &Value, field: CallField, current: &Snapshot) -> bool {
    if !current.knows(field) {
        return false;
    }
    match (target, current.get(field)) {
        (Value::Text(t), None) => t.is_empty(),
        (target, Some(now)) => target == now,
        _ => false,
    }
}

/// The part of `update` that would change `current`: set fields already
/// holding their target are dropped. Adds, webhook refires and
/// transcriptions are actions, never dropped; nor is a field the call read
/// did not show (tdrecon cannot know it already holds the value).
pub fn diff(update: &CallUpdate, current: &Snapshot) -> CallUpdate {
    let mut d = update.clone();
    for (field, change) in update.changes() {
        if let Change::Set(target) = change
            && !field.spec().acts
            && already(target, field, current)
        {
            d.clear(field);
        }
    }
    if current.knows(CallField::Tokens) {
        d.tokens.retain(|name, value| current.tokens.get(name).map(String::as_str) != Some(value));
    }
    d
}

/// What a call read after a 2xx shows otherwise than `sent` set: each set
/// field the call carries with another value (`revenue sent 5.00, the call
/// shows 0.00`). Empty when the call agrees, or does not show the fields.
pub fn contradictions(sent: &CallUpdate, after: &Snapshot) -> Vec<String> {
    let mut found = Vec::new();
    for (field, change) in sent.changes() {
        if let Change::Set(target) = change
            && !field.spec().acts
            && after.knows(field)
            && !already(target, field, after)
        {
            let shown = after.get(field).map_or("nothing".to_string(), Value::to_cell);
            found.push(format!("{} sent {:?}, the call shows {shown:?}", field.param(), target.to_cell()));
        }
    }
    if after.knows(CallField::Tokens) {
        for (name, value) in sent.tokens.iter() {
            if after.tokens.get(name).map(String::as_str) != Some(value) {
                found.push(format!("token {name} sent {value:?}, the call shows {:?}", after.tokens.get(name)));
            }
        }
    }
    found
}

/// Compares a call before and after an ambiguous send of `sent`: moved by
/// exactly the row's amounts is applied once; not moved at all, not
/// applied; moved by something else (another writer, or applied more than
/// once), unclear.
pub fn verify(sent: &CallUpdate, before: &Snapshot, after: &Snapshot) -> Evidence {
    let mut applied = true;
    let mut untouched = true;
    let mut details = Vec::new();
    for field in [CallField::Revenue, CallField::Payout] {
        let name = field.param();
        let (b, a) = (before.get(field).and_then(Value::money), after.get(field).and_then(Value::money));
        let expected = match (sent.amount(field), b) {
            (Some(Amount::Add(x)), Some(b)) => b + x,
            (Some(Amount::Set(x)), _) => x,
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
/// set fields take their value (blank clears), adds move the amount,
/// tokens merge.
pub fn project(sent: &CallUpdate, before: &Snapshot) -> Snapshot {
    let mut after = before.clone();
    for (field, change) in sent.changes() {
        if field.spec().read.is_empty() {
            continue;
        }
        let value = match change {
            Change::Set(Value::Text(t)) if t.is_empty() => None,
            Change::Set(v) => Some(v.clone()),
            Change::Add(x) => Some(Value::Money(before.get(field).and_then(Value::money).unwrap_or_default() + *x)),
            Change::Fire(_) => continue,
        };
        after.set(field, value);
    }
    for (name, value) in sent.tokens.iter() {
        after.tokens.insert(name.to_string(), value.to_string());
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::update::Tokens;
    use crate::trackdrive::snapshot::testing::{d, snapshot, update};
    use CallField::*;

    fn set(v: Value) -> Change {
        Change::Set(v)
    }

    fn text(t: &str) -> Change {
        Change::Set(Value::Text(t.into()))
    }

    #[test]
    fn diff_drops_what_already_matches() {
        let s = snapshot();
        let same = update()
            .with(Revenue, set(Value::Money(d("10"))))
            .with(Payout, set(Value::Money(d("2.5"))))
            .with(BuyerConverted, set(Value::Flag(false)))
            .with(OfferConverted, set(Value::Flag(true)))
            .with(DispositionId, text("3"))
            .with(DispositionNotes, text(""))
            .with(BuyerId, text("7"))
            .with_tokens(Tokens::from_iter([("zip", "9")]));
        assert!(diff(&same, &s).is_empty(), "{:?}", diff(&same, &s));
        let changed =
            same.clone().with(Revenue, set(Value::Money(d("11")))).with(OfferConverted, set(Value::Flag(false)));
        let out = diff(&changed, &s);
        assert_eq!(out.amount(Revenue), Some(Amount::Set(d("11"))));
        assert_eq!(out.flag(OfferConverted), Some(false));
        assert!(out.get(Payout).is_none() && out.tokens.is_empty());
        // Adds and actions are never dropped.
        let adds = update().with(Revenue, Change::Add(d("0"))).with(Webhooks, Change::Fire(vec![1]));
        assert_eq!(diff(&adds, &s), adds);
    }

    /// A `#clear` of a field the call carries as a value is sent; of one it
    /// carries empty, dropped; of one the call read did not show, sent.
    #[test]
    fn a_clear_is_sent_unless_the_call_shows_the_field_empty() {
        let holding = snapshot().with(DispositionNotes, Value::Text("old".into()));
        let clear = update().with(DispositionId, text("")).with(DispositionNotes, text(""));
        let out = diff(&clear, &holding);
        assert_eq!((out.text(DispositionId), out.text(DispositionNotes)), (Some(""), Some("")));
        let empty = snapshot();
        assert_eq!(diff(&clear, &empty).text(DispositionNotes), None, "notes are null: already clear");
        let unread = Snapshot::parse(r#"{"revenue":"1.00"}"#).unwrap();
        assert_eq!(diff(&clear, &unread), clear, "nothing read, nothing dropped");
    }

    #[test]
    fn a_call_that_contradicts_what_was_set() {
        let sent = update().with(Revenue, set(Value::Money(d("5")))).with(DispositionNotes, text(""));
        let ignored = snapshot();
        assert_eq!(contradictions(&sent, &ignored), [r#"revenue sent "5.00", the call shows "10.00""#]);
        let applied = snapshot().with(Revenue, Value::Money(d("5")));
        assert!(contradictions(&sent, &applied).is_empty());
        let unread = Snapshot::parse(r#"{"payout":"1"}"#).unwrap();
        assert!(contradictions(&sent, &unread).is_empty(), "what the call does not show cannot contradict");
        let add = update().with(Revenue, Change::Add(d("5")));
        assert!(contradictions(&add, &ignored).is_empty(), "an add is not a value to compare");
    }

    #[test]
    fn verdicts() {
        let before = snapshot();
        let sent = update().with(Revenue, Change::Add(d("2.5")));
        let moved = |r: &str| before.clone().with(Revenue, Value::Money(d(r)));
        assert_eq!(verify(&sent, &before, &moved("12.50")), Evidence::Applied(1));
        assert_eq!(verify(&sent, &before, &moved("10.00")), Evidence::NotApplied);
        assert!(matches!(verify(&sent, &before, &moved("15.00")), Evidence::Unclear(_)));
        let webhooks = update().with(Webhooks, Change::Fire(vec![1]));
        assert!(matches!(verify(&webhooks, &before, &before), Evidence::Unclear(_)));
    }

    #[test]
    fn projections() {
        let before = snapshot();
        let sent = update()
            .with(Revenue, Change::Add(d("2.5")))
            .with(Payout, set(Value::Money(d("1"))))
            .with(DispositionId, text(""))
            .with_tokens(Tokens::from_iter([("zip", "1"), ("new", "2")]));
        let after = project(&sent, &before);
        assert_eq!((after.revenue(), after.payout()), (Some(d("12.50")), Some(d("1.00"))));
        assert_eq!(after.get(DispositionId), None, "#clear");
        assert_eq!(after.text(BuyerId), before.text(BuyerId));
        assert_eq!(after.tokens.len(), 2);
    }
}
