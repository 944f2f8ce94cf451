//! The evidence tables: what a call's audit log, its values and the clocks say of an update.

use super::*;
use crate::input::fields::{CallField, Value as FieldValue};
use crate::input::update::Change;
use crate::input::values::CallRef;
use serde_json::json;

fn add(amount: &str) -> CallUpdate {
    CallUpdate::new(CallRef::Id(1234))
        .with(CallField::Revenue, Change::Add(amount.parse().unwrap()))
        .with(CallField::BuyerConverted, Change::Set(FieldValue::Flag(true)))
}

fn entry(params: Value, at: &str) -> Value {
    json!({"type": "AuditLog", "request_path": "/api/v1/calls/1234", "request_method": "PUT",
           "response_status": "200", "params": params, "created_at": at})
}

fn log(events: Vec<Value>, complete: bool) -> Log {
    let doc = json!({"id": 1234, "uuid": "8c5d0e8e-0000-4000-8000-000000000001", "events": events});
    Log::read(&[doc], complete).unwrap()
}

const MINE: &str = "tdr-abc-7";
const LOG_LAG_MS: u64 = 60_000;
const INTENT: &str = "2026-11-28T12:00:00Z";

fn weigh_with(update: &CallUpdate, events: Vec<Value>, k: Knowledge) -> Evidence {
    let request = Request { method: "PUT", call: "1234".into(), update, reference: Some(MINE) };
    weigh(&log(events, true), &request, &k)
}

fn on_server(skew_ms: i64) -> Option<i64> {
    Some(parse_time(INTENT).unwrap() as i64 + skew_ms)
}

/// The reference decides whatever the clocks say; absent, it decides
/// only where the account records references; without them, only the
/// values and a log with nothing like it, or entries since the intent
/// by the server's own clock.
/// What every table of evidence starts from: the update, the entries a
/// log may hold, and what is known with and without references recorded.
struct Fixture {
    update: CallUpdate,
    mine: Value,
    theirs: Value,
    plain: Value,
    echoed: Knowledge,
    blind: Knowledge,
}

/// The server's clock 5 minutes behind: 11:55:05Z.
const FIVE_BEHIND: &str = "2026-11-28T06:55:05.000-05:00";

fn fixture() -> Fixture {
    let echoed = Knowledge {
        echoed: true,
        values_unchanged: Some(false),
        since_intent_ms: 5_000,
        finished: false,
        intent_on_server_ms: None,
        lag_ms: LOG_LAG_MS,
    };
    Fixture {
        update: add("2.00"),
        mine: json!({"id": "1234", "add_revenue": "2.00", "buyer_converted": "true", "tdrecon_ref": MINE}),
        theirs: json!({"id": "1234", "add_revenue": "2.00", "buyer_converted": "true", "tdrecon_ref": "tdr-xyz-7"}),
        plain: json!({"id": "1234", "add_revenue": "2.00", "buyer_converted": "true"}),
        echoed,
        blind: Knowledge { echoed: false, ..echoed },
    }
}

fn check_table(update: &CallUpdate, cases: Vec<(&str, Vec<Value>, Knowledge, Evidence)>) {
    for (name, events, k, want) in cases {
        let got = weigh_with(update, events, k);
        match want {
            Evidence::Unclear(_) => assert!(matches!(got, Evidence::Unclear(_)), "{name}: {got:?}"),
            want => assert_eq!(got, want, "{name}"),
        }
    }
}

/// The reference decides whatever the clocks say; absent, it decides only
/// where the account records references and no write can still land.
#[test]
fn evidence_by_reference() {
    let Fixture { update, mine, theirs, echoed, blind, .. } = fixture();
    check_table(
        &update,
        vec![
            (
                "mine, 5 minutes 'before' the intent",
                vec![entry(mine.clone(), FIVE_BEHIND)],
                echoed,
                Evidence::Applied(1),
            ),
            (
                "mine twice",
                vec![entry(mine.clone(), FIVE_BEHIND), entry(mine.clone(), FIVE_BEHIND)],
                blind,
                Evidence::Applied(2),
            ),
            (
                "someone else's identical add, values unchanged, the server answered",
                vec![entry(theirs.clone(), "2026-11-28T12:00:01Z")],
                Knowledge { values_unchanged: Some(true), finished: true, ..echoed },
                Evidence::NotApplied,
            ),
            (
                "mine absent, values unchanged, but the request may still land",
                vec![entry(theirs.clone(), "2026-11-28T12:00:01Z")],
                Knowledge { values_unchanged: Some(true), ..echoed },
                Evidence::Unclear(String::new()),
            ),
            (
                "mine absent, echoed, long since",
                vec![],
                Knowledge { since_intent_ms: LOG_LAG_MS, ..echoed },
                Evidence::NotApplied,
            ),
            (
                "mine absent, echoed, the server answered",
                vec![],
                Knowledge { finished: true, ..echoed },
                Evidence::NotApplied,
            ),
            (
                "mine absent, not echoed, the server answered",
                vec![],
                Knowledge { finished: true, ..blind },
                Evidence::Unclear(String::new()),
            ),
            ("mine absent, echoed, values moved, just now", vec![], echoed, Evidence::Unclear(String::new())),
            ("mine absent, not echoed, values moved", vec![], blind, Evidence::Unclear(String::new())),
        ],
    );
    // A log cut short never shows an absence.
    let request = Request { method: "PUT", call: "1234".into(), update: &update, reference: Some(MINE) };
    let k = Knowledge { since_intent_ms: LOG_LAG_MS, values_unchanged: Some(true), ..echoed };
    assert!(matches!(weigh(&log(vec![], false), &request, &k), Evidence::Unclear(w) if w.contains("pages")));
}

/// Without references recorded: only the values and a log with nothing like
/// it (once no write can still land), or entries since the intent by the
/// server's own clock.
#[test]
fn evidence_without_references() {
    let Fixture { update, theirs, plain, blind, .. } = fixture();
    check_table(
        &update,
        vec![
            (
                "values unchanged, nothing like it, long since",
                vec![entry(json!({"revenue": "1"}), "2026-11-28T12:00:01Z")],
                Knowledge { values_unchanged: Some(true), since_intent_ms: LOG_LAG_MS, ..blind },
                Evidence::NotApplied,
            ),
            (
                "values unchanged, nothing like it, a timed-out request may still land",
                vec![entry(json!({"revenue": "1"}), "2026-11-28T12:00:01Z")],
                Knowledge { values_unchanged: Some(true), ..blind },
                Evidence::Unclear(String::new()),
            ),
            (
                "values unchanged, an entry like it",
                vec![entry(plain.clone(), "2026-11-28T11:00:00Z")],
                Knowledge { values_unchanged: Some(true), ..blind },
                Evidence::Unclear(String::new()),
            ),
            (
                "one like it since the intent by the server's clock (5 min behind)",
                vec![entry(plain.clone(), FIVE_BEHIND)],
                Knowledge { intent_on_server_ms: on_server(-300_000), ..blind },
                Evidence::Applied(1),
            ),
            (
                "like it but before the intent by the server's clock (5 min ahead)",
                vec![entry(plain.clone(), "2026-11-28T12:02:30Z")],
                Knowledge { intent_on_server_ms: on_server(300_000), ..blind },
                Evidence::Unclear(String::new()),
            ),
            (
                "someone else's reference is never mine",
                vec![entry(theirs.clone(), "2026-11-28T12:00:05Z")],
                Knowledge { intent_on_server_ms: on_server(0), ..blind },
                Evidence::Unclear(String::new()),
            ),
        ],
    );
}

/// Params however the log types them: numbers, "1" for true, nested
/// under `call`, tokens as a JSON string.
#[test]
fn params_are_compared_however_they_are_typed() {
    let mut u = add("2.00");
    u.tokens = crate::input::update::Tokens::from_iter([("zip", "9")]);
    let forms = [
        json!({"add_revenue": "2.00", "buyer_converted": "true", "post_call_tokens": {"zip": "9"}}),
        json!({"add_revenue": 2, "buyer_converted": true, "post_call_tokens": {"zip": "9"}}),
        json!({"add_revenue": "2.0", "buyer_converted": "1", "post_call_tokens": "{\"zip\":\"9\"}"}),
        json!({"id": "1234", "call": {"add_revenue": "2.00", "buyer_converted": "yes", "post_call_tokens": {"zip": "9"}}}),
    ];
    let blind = Knowledge { intent_on_server_ms: on_server(0), lag_ms: LOG_LAG_MS, ..Knowledge::default() };
    for params in forms {
        let got = weigh_with(&u, vec![entry(params.clone(), "2026-11-28T12:00:03Z")], blind);
        assert_eq!(got, Evidence::Applied(1), "{params}");
    }
    let other = json!({"add_revenue": "2.00", "buyer_converted": "0"});
    assert!(matches!(weigh_with(&u, vec![entry(other, "2026-11-28T12:00:03Z")], blind), Evidence::Unclear(_)));
    let nested = json!({"call": {"tdrecon_ref": MINE, "add_revenue": "2.00"}});
    assert_eq!(weigh_with(&u, vec![entry(nested, "2020-01-01T00:00:00Z")], blind), Evidence::Applied(1));
}

/// Another run's same add, webhook or transcription in the log refuses
/// the row, from any machine; the row's own reference, another amount,
/// a change outside the window, a failed request or another call do not.
#[test]
fn the_same_change_by_another_run_is_found_in_the_log() {
    let u = add("-2.00");
    let request = Request { method: "PUT", call: "1234".into(), update: &u, reference: Some(MINE) };
    let since = parse_time("2026-11-01T00:00:00Z").unwrap() as i64;
    let theirs = |params: Value, at: &str| entry(params, at);
    let find = |events: Vec<Value>, referenced_only: bool| {
        same_change(&log(events, true), &request, since, referenced_only).map(|s| (s.reference, s.same))
    };
    let other = json!({"add_revenue": "-2.0", "tdrecon_ref": "tdr-xyz-9"});
    assert_eq!(
        find(vec![theirs(other.clone(), "2026-11-28T11:00:00Z")], true),
        Some((Some("tdr-xyz-9".into()), vec!["add_revenue -2.00".into()]))
    );
    // POST, typed as a number, nested under `call`: the same change.
    let mut post = theirs(json!({"call": {"add_revenue": -2, "tdrecon_ref": "tdr-q-3"}}), "2026-11-28T11:00:00Z");
    post["request_method"] = json!("POST");
    assert!(find(vec![post], true).is_some());
    // None of these is a repeat.
    let mut failed = theirs(other.clone(), "2026-11-28T11:00:00Z");
    failed["response_status"] = json!("422");
    let mut elsewhere = theirs(other.clone(), "2026-11-28T11:00:00Z");
    elsewhere["request_path"] = json!("/api/v1/calls/999");
    for (name, event) in [
        ("mine", theirs(json!({"add_revenue": "-2.00", "tdrecon_ref": MINE}), "2026-11-28T11:00:00Z")),
        ("another amount", theirs(json!({"add_revenue": "-2.50", "tdrecon_ref": "tdr-xyz-9"}), INTENT)),
        ("before the window", theirs(other.clone(), "2026-10-01T00:00:00Z")),
        ("failed", failed),
        ("another call", elsewhere),
        ("only the flag", theirs(json!({"buyer_converted": "false", "tdrecon_ref": "tdr-xyz-9"}), INTENT)),
    ] {
        assert_eq!(find(vec![event], true), None, "{name}");
    }
    // Without a reference: someone else's, unless references are off.
    let plain = theirs(json!({"add_revenue": "-2.00"}), INTENT);
    assert_eq!(find(vec![plain.clone()], true), None);
    let found = same_change(&log(vec![plain], true), &request, since, false).unwrap();
    assert!(
        found.reason("1234", &jiff::tz::TimeZone::UTC).contains("may be someone else's"),
        "{}",
        found.reason("1234", &jiff::tz::TimeZone::UTC)
    );
    // Webhooks fired one by one, whatever list they were in.
    let fire = CallUpdate::new(CallRef::Id(1234)).with(CallField::Webhooks, Change::Fire(vec![3, 4]));
    let request = Request { method: "PUT", call: "1234".into(), update: &fire, reference: Some(MINE) };
    for logged in [json!([4, 5]), json!("[4,5]"), json!("5, 4"), json!(["4"])] {
        let e = entry(json!({"fire_outgoing_webhook_ids": logged.clone(), "tdrecon_ref": "tdr-b-2"}), INTENT);
        let found = same_change(&log(vec![e], true), &request, since, true);
        assert_eq!(found.map(|s| s.same), Some(vec!["fire_outgoing_webhook_ids 4".into()]), "{logged}");
    }
}

#[test]
fn pages_and_shapes() {
    let page = |events: Vec<Value>| json!({"id": 1234, "events": events});
    let mine = entry(json!({"tdrecon_ref": MINE}), INTENT);
    let log = Log::read(&[page(vec![]), page(vec![mine])], true).unwrap();
    assert_eq!(log.count_reference(MINE), 1);
    assert!(log.shows_run("tdr-abc") && !log.shows_run("tdr-ab"));
    assert!(Log::read(&[json!("<html>")], true).is_err());
    assert!(Log::read(&[json!({"call": {}})], true).is_err());
    assert_eq!(parse_time("2026-11-28 07:00:00 -0500"), parse_time("2026-11-28T12:00:00Z"));
}
