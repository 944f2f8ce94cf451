//! The simulator's store: calls found by id or UUID, updates applied as TrackDrive documents them.

use super::*;

fn body(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn set_add_flags_tokens() {
    let mut call = Call::new(1, uuid_for(1));
    apply(
        &mut call,
        &body(json!({"revenue": "10.50", "payout": 3, "buyer_converted": "yes", "post_call_tokens": {"zip": "9"}})),
        None,
    )
    .unwrap();
    let more =
        json!({"add_revenue": "2.5", "add_payout": -1, "offer_converted": true, "post_call_tokens": {"name": "Jo"}});
    apply(&mut call, &body(more), None).unwrap();
    assert_eq!(call.revenue().to_string(), "13.00");
    assert_eq!(call.payout().to_string(), "2.00");
    let shown = call.api_json(Serializer::Call)["call"].take();
    assert_eq!(
        (shown["buyer_converted"].clone(), shown["traffic_source_converted"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(shown["token_values"], json!({"name": "Jo", "zip": "9"}));
    assert!(shown.get("offer_converted").is_none() && shown.get("post_call_tokens").is_none(), "{shown}");
    assert_eq!(call.updates_applied, 2);
    // A parameter the fault ignores changes nothing, the rest applies.
    apply(&mut call, &body(json!({"revenue": "1", "buyer_converted": false})), Some("revenue")).unwrap();
    assert_eq!(
        (call.revenue().to_string(), call.fields.get(CallField::BuyerConverted)),
        ("13.00".into(), Some(&FieldValue::Flag(false)))
    );
}

#[test]
fn counters_and_clearing() {
    let mut call = Call::new(1, uuid_for(1));
    let fire = json!({"fire_outgoing_webhook_ids": [1, 2], "manual_transcribe": "1", "call_disposition_id": "4", "agent_call_disposition_notes": "x"});
    apply(&mut call, &body(fire), None).unwrap();
    assert_eq!((call.webhooks_fired, call.transcriptions), (2, 1));
    assert_eq!(call.fields.text(CallField::DispositionId), Some("4"));
    let shown = call.api_json(Serializer::Call)["call"].take();
    assert_eq!((shown["disposition_id"].clone(), shown["disposition_notes"].clone()), (json!("4"), json!("x")));
    assert_eq!(shown["disposition_name"], "Callback");
    apply(
        &mut call,
        &body(json!({"call_disposition_id": "", "agent_call_disposition_notes": "", "manual_transcribe": false})),
        None,
    )
    .unwrap();
    assert_eq!((call.fields.get(CallField::DispositionId), call.fields.get(CallField::DispositionNotes)), (None, None));
    assert_eq!(call.transcriptions, 1);
}

#[test]
fn invalid_values_change_nothing() {
    let mut call = Call::new(1, uuid_for(1));
    let before = call.clone();
    let errors = apply(&mut call, &body(json!({"revenue": "abc", "payout": "5", "buyer_converted": "maybe"})), None)
        .unwrap_err();
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["buyer_converted", "revenue"]);
    assert_eq!(call, before);
    for bad in [
        json!({"revenue": "-1"}),
        json!({"fire_outgoing_webhook_ids": "1"}),
        json!({"post_call_tokens": [1]}),
        json!({"trackdrive_buyer_id": "x"}),
    ] {
        assert!(apply(&mut call, &body(bad.clone()), None).is_err(), "{bad}");
    }
}

#[test]
fn uuids_are_deterministic_v4() {
    assert_eq!(uuid_for(100000001), uuid_for(100000001));
    assert_ne!(uuid_for(1), uuid_for(2));
    let text = CallRef::Uuid(uuid_for(7)).to_string();
    assert_eq!(&text[14..15], "4", "{text}");
    let mut store = Store::seeded(100000001, 3);
    assert!(store.find_mut("100000002").is_some());
    assert_eq!(store.find_mut(&text), None);
    assert_eq!(store.find_mut(&CallRef::Uuid(uuid_for(100000003)).to_string()).map(|c| c.id), Some(100000003));
    assert!(store.find_mut("100000004").is_none());
}
