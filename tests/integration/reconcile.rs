//! `--reconcile`: read before write, `unchanged` rows, before/after values,
//! totals, the rollback round trip, and ambiguous adds settled by reading
//! the call back (during a run and on `--resume`).

use std::collections::BTreeMap;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;
use tdrecon::input::fields::{CallField, Value as FieldValue};
use tdrecon::sim::store::uuid_for;
use tdrecon::sim::{Call, FaultConfig, Store};

use crate::harness::{Preset, SimHarness, by_line, rows, run_job};
use crate::util::{Workdir, spawn_quiet, stderr, stdout, summary_line, wait_for};

/// Every run of this module reconciles.
const JOB: Preset = Preset(&["--reconcile"]);

fn money(s: &str) -> Decimal {
    let mut d = Decimal::from_str_exact(s).unwrap();
    d.rescale(2);
    d
}

/// Six calls with some history: revenue 10.00, payout 2.00, buyer 7, a
/// disposition and a token on the first three.
fn seeded_store() -> Store {
    let mut store = Store::default();
    for i in 0..6u64 {
        let id = 100000001 + i;
        let mut call = Call::new(id, uuid_for(id));
        call.set(CallField::Revenue, Some(FieldValue::Money(money("10"))));
        call.set(CallField::Payout, Some(FieldValue::Money(money("2"))));
        call.set(CallField::BuyerId, Some(FieldValue::Text(if i < 3 { "7" } else { "8" }.into())));
        if i < 3 {
            call.set(CallField::DispositionId, Some(FieldValue::Text("3".into())));
            call.fields.tokens = BTreeMap::from([("zip".into(), "90210".into())]);
        }
        store.insert(call);
    }
    store
}

/// A simulator with a few milliseconds of latency, so a run can be killed
/// with requests in flight.
fn slow_sim(calls: u64) -> SimHarness {
    SimHarness::start(calls, |c| {
        c.faults = FaultConfig {
            latency: Duration::from_millis(2),
            latency_jitter: Duration::from_millis(4),
            ..FaultConfig::default()
        }
    })
}

/// The fields a rollback restores, per call.
fn restorable(state: &Value) -> Vec<Value> {
    state["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            let obj = c.as_object_mut().unwrap();
            for counter in ["updates_applied", "webhooks_fired", "transcriptions"] {
                obj.remove(counter);
            }
            c
        })
        .collect()
}

#[test]
fn unchanged_rows_send_nothing_and_results_show_before_and_after() {
    let sim = SimHarness::start(0, |c| c.store = seeded_store());
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "id,revenue,add_payout,buyer_converted,call_disposition_id,token:zip\n\
         100000001,10.00,,no,3,90210\n\
         100000002,12.50,,,3,\n\
         100000003,,1.50,,,\n\
         100000004,10,,,,\n",
    );
    let out = wd.run(&mut JOB.run(&wd, &sim, "in.csv", &["--summary-json", "s.json"]), 0);
    let r = by_line(&wd.read("in.results.csv"));
    assert_eq!(r[&2]["status"], "unchanged", "{:?}", r[&2]);
    assert_eq!(r[&5]["status"], "unchanged");
    assert_eq!(r[&3]["status"], "ok");
    assert_eq!((r[&3]["revenue_before"].as_str(), r[&3]["revenue_after"].as_str()), ("10.00", "12.50"));
    assert_eq!(r[&3]["call_disposition_id_before"], "3");
    assert_eq!(r[&4]["status"], "ok", "an add is never skipped");
    assert_eq!((r[&4]["payout_before"].as_str(), r[&4]["payout_after"].as_str()), ("2.00", "3.50"));
    assert_eq!(r[&2]["post_call_tokens_before"], r#"{"zip":"90210"}"#);
    // The first read, four reads, the add's audit log (the documented answer
    // has no paging metadata: a second page is asked for), two writes.
    assert_eq!(sim.stat("requests"), 9);
    assert_eq!(sim.call(100000001)["updates_applied"], 0);
    let summary: Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert_eq!(summary["statuses"]["unchanged"], 2);
    assert_eq!(summary["totals"]["revenue_before"], "40.00");
    assert_eq!(summary["totals"]["revenue_after"], "42.50");
    assert_eq!(summary["totals"]["payout_after"], "9.50");
    assert_eq!(summary["totals_by_buyer"]["7"]["revenue_after"], "32.50");
    assert_eq!(summary["totals_by_buyer"]["8"]["revenue_after"], "10.00");
    assert!(stdout(&out).contains("totals: revenue 40.00 -> 42.50 (+2.50)"), "{}", stdout(&out));
}

#[test]
fn rollback_restores_the_state_exactly() {
    let sim = SimHarness::start(0, |c| c.store = seeded_store());
    let before = restorable(&sim.state());
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "id,revenue,add_revenue,payout,buyer_converted,offer_converted,call_disposition_id,agent_call_disposition_notes,trackdrive_buyer_id,token:zip,fire_outgoing_webhook_ids\n\
         100000001,55.00,,,yes,,#clear,called back,9,10001,\n\
         100000002,,-3.25,7,,on,5,,,90210,\n\
         100000004,,4.75,,,,,notes,,,1;2\n\
         100000005,10.00,,,,,,,,,\n",
    );
    wd.run(&mut JOB.run(&wd, &sim, "in.csv", &["--rollback", "undo.csv"]), 0);
    assert_ne!(restorable(&sim.state()), before);
    let undo = wd.read("undo.csv");
    assert_eq!(rows(&undo).len(), 3, "the unchanged row needs no undoing: {undo}");
    // The rollback file is ordinary tdrecon input.
    wd.run(&mut run_job(&wd, &sim, "undo.csv", &[]), 0);
    let after = restorable(&sim.state());
    // A token the API cannot remove stays; everything else is as it was.
    assert_eq!(after, before, "undo file:\n{undo}");
}

#[test]
fn ambiguous_adds_are_settled_by_reading_back() {
    for faults in [
        FaultConfig { seed: 5, apply_then_stall: 0.3, stall: Duration::from_secs(20), ..FaultConfig::default() },
        FaultConfig { seed: 6, apply_then_reset: 0.3, ..FaultConfig::default() },
        FaultConfig { seed: 7, reset_before_apply: 0.3, ..FaultConfig::default() },
        FaultConfig { seed: 8, fail_5xx: 0.3, ..FaultConfig::default() },
    ] {
        let sim = SimHarness::start(40, |c| c.faults = faults.clone());
        let wd = Workdir::new();
        wd.write("in.csv", crate::harness::add_rows(40, |i| format!("{i}.75")));
        let applied_faults = faults.apply_then_stall + faults.apply_then_reset > 0.0;
        // Faults that apply are settled as ok. Faults that do not apply are
        // read back unchanged and sent again, once; a second such fault
        // leaves the row failed (not applied, safe to run again), so the
        // exit is 0 or 1 depending on how the concurrent requests interleave.
        let mut cmd =
            JOB.run(&wd, &sim, "in.csv", &["--timeout", "300ms", "--max-retries", "10", "--concurrency", "8"]);
        wd.run_any(&mut cmd, if applied_faults { &[0] } else { &[0, 1] });
        let results = by_line(&wd.read("in.results.csv"));
        let verified = results.values().filter(|r| r["error"].contains("verified")).count();
        let calls = sim.calls_by_id();
        for i in 0..40u64 {
            let r = &results[&(i + 2)];
            let call = &calls[&(100000001 + i)];
            match r["status"].as_str() {
                "ok" => {
                    assert_eq!(call["updates_applied"], 1, "{faults:?} call {i}");
                    assert_eq!(call["revenue"], format!("{i}.75"));
                }
                "failed" if !applied_faults => assert_eq!(call["updates_applied"], 0, "{faults:?} call {i}"),
                other => panic!("{faults:?}: row {i} is {other}: {r:?}"),
            }
        }
        if applied_faults {
            assert!(verified > 0, "{faults:?}: no row needed reading back");
        }
    }
}

#[test]
fn resume_settles_rows_in_doubt_by_reading_back() {
    const ROWS: u64 = 600;
    let mut unknown = 0;
    let mut in_doubt_settled = 0;
    let mut example = None;
    for seed in 1..=6u64 {
        let sim = slow_sim(ROWS);
        let wd = Workdir::new();
        wd.write("in.csv", crate::harness::add_rows(ROWS, |i| format!("{i}.50")));
        let mut child = spawn_quiet(&mut JOB.run(&wd, &sim, "in.csv", &["--concurrency", "16"]));
        // Killed after a different number of rows each time, while requests are in flight.
        let applied = || sim.calls_by_id().values().filter(|c| c["updates_applied"] != 0).count() as u64;
        wait_for("rows to be applied", || applied() >= 20 + seed * 40);
        let _ = child.kill();
        let _ = child.wait();
        wd.run_any(&mut JOB.run(&wd, &sim, "in.csv", &["--concurrency", "16", "--resume"]), &[0, 1]);
        let results = by_line(&wd.read("in.results.csv"));
        assert_eq!(results.len() as u64, ROWS);
        let calls = sim.calls_by_id();
        for i in 0..ROWS {
            let r = &results[&(i + 2)];
            let call = &calls[&(100000001 + i)];
            let applied = call["updates_applied"].as_u64().unwrap();
            assert!(applied <= 1, "seed {seed}: call {i} applied {applied} times");
            match r["status"].as_str() {
                "ok" => assert_eq!(applied, 1, "seed {seed} row {i}"),
                "unknown" => {
                    unknown += 1;
                    example.get_or_insert_with(|| r["error"].clone());
                }
                other => panic!("seed {seed} row {i}: {other}"),
            }
            in_doubt_settled += usize::from(r["error"].contains("earlier run applied it"));
        }
    }
    assert_eq!(unknown, 0, "with --reconcile nothing is left unknown: {example:?}");
    assert!(in_doubt_settled > 0, "no kill left a row in doubt to settle");
}

#[test]
fn names_are_resolved_through_the_lists_before_anything_is_sent() {
    let sim = SimHarness::start(6, |_| {});
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "id,call_disposition,agent_call_disposition_notes,reassign_buyer,reassign_traffic_source\n\
         100000001,sale,,Acme Insurance,Google Ads\n\
         100000002,Callback,call back Monday,B-8,TS-103\n\
         100000003,Sael,,,\n\
         100000004,Callback,,,\n\
         100000005,,,Nobody Inc,\n\
         100000006,No Answer,,,\n",
    );
    let out = wd.run(&mut JOB.run(&wd, &sim, "in.csv", &[]), 1);
    let errors = rows(&wd.read("in.errors.csv"));
    let reasons: Vec<(&str, &str, &str)> =
        errors.iter().map(|r| (r["line"].as_str(), r["column"].as_str(), r["reason"].as_str())).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, "4");
    assert!(reasons[0].2.contains(r#"unknown disposition "Sael" (did you mean "Sale"?)"#), "{reasons:?}");
    assert_eq!((reasons[1].0, reasons[1].1), ("5", "agent_call_disposition_notes"));
    assert!(reasons[1].2.contains("requires notes"));
    assert!(reasons[2].2.contains(r#"unknown buyer "Nobody Inc""#), "{reasons:?}");
    let c = sim.call(100000001);
    assert_eq!(
        (c["disposition_id"].as_str(), c["buyer_id"].as_str(), c["traffic_source_id"].as_str()),
        (Some("1"), Some("7"), Some("101"))
    );
    let c = sim.call(100000002);
    assert_eq!(
        (c["disposition_id"].as_str(), c["buyer_id"].as_str(), c["traffic_source_id"].as_str()),
        (Some("4"), Some("8"), Some("103"))
    );
    assert_eq!(sim.call(100000006)["disposition_id"], "17");
    for rejected in [100000003, 100000004, 100000005] {
        assert_eq!(sim.call(rejected)["updates_applied"], 0);
    }
    assert!(stdout(&out).contains(&summary_line("  invalid", 3)), "{}", stdout(&out));
    // Names need the API: a dry run without one is refused up front.
    let err = wd.run(&mut wd.command(&["run", "in.csv", "--dry-run"]), 2);
    assert!(crate::util::stderr(&err).contains("names dispositions"), "{}", crate::util::stderr(&err));
}

#[test]
fn resume_with_reconcile_after_a_run_without_it_never_resends_an_add_in_doubt() {
    const ROWS: u64 = 600;
    let sim = slow_sim(ROWS);
    let wd = Workdir::new();
    wd.write("in.csv", crate::harness::add_rows(ROWS, |i| format!("{i}.50")));
    let mut child = spawn_quiet(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "16"]));
    wait_for("requests in flight", || sim.stat("requests") >= 100);
    let _ = child.kill();
    let _ = child.wait();
    wd.run_any(&mut JOB.run(&wd, &sim, "in.csv", &["--concurrency", "16", "--resume"]), &[0, 1]);
    let results = by_line(&wd.read("in.results.csv"));
    let calls = sim.calls_by_id();
    for i in 0..ROWS {
        let applied = calls[&(100000001 + i)]["updates_applied"].as_u64().unwrap();
        let status = results[&(i + 2)]["status"].as_str();
        assert!(applied <= 1, "call {i} applied {applied} times ({status})");
        if status == "ok" {
            assert_eq!(applied, 1);
        }
    }
}

/// A buyer report's Buyer and Publisher columns only describe: no call
/// changes buyer or traffic source, and the per-buyer totals carry the
/// report's names.
#[test]
fn descriptive_buyer_columns_never_write_and_label_the_totals() {
    let sim = SimHarness::start(4, |_| {});
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "Call ID,Buyer,Publisher,Revenue\n\
         100000001,Acme Insurance,Google Ads,10.00\n\
         100000002,Acme Insurance,Google Ads,5.00\n\
         100000003,Delta Solar,Bing,7.50\n",
    );
    let out = wd.run(&mut JOB.run(&wd, &sim, "in.csv", &[]), 0);
    for id in 100000001..=100000003u64 {
        let c = sim.call(id);
        assert!(c["buyer_id"].is_null() && c["traffic_source_id"].is_null(), "{c}");
    }
    let text = stdout(&out);
    assert!(text.contains("buyer Acme Insurance: revenue 0.00 -> 15.00"), "{text}");
    assert!(text.contains("buyer Delta Solar: revenue 0.00 -> 7.50"), "{text}");
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
}
