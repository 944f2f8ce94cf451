//! Speaking TrackDrive as it is documented: calls read under the resource's
//! names, every field compared, cleared and rolled back; a 2xx that says
//! otherwise never `ok`; control totals from the window; a server that
//! refuses `columns=`; name lists past their first page; `tdrecon doctor`.
//! The simulator serves the documented shapes (TRACKDRIVE-API.md).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tdrecon::input::fields::{CallField, Value as FieldValue};
use tdrecon::sim::store::uuid_for;
use tdrecon::sim::{Call, FaultConfig, Store};

use crate::harness::{SimHarness, by_line, plan_job, run_job, with_keys};
use crate::util::{Workdir, spawn, stdout, wait_for};

fn text(t: &str) -> Option<FieldValue> {
    Some(FieldValue::Text(t.into()))
}

/// Four calls with a full history: revenue, payout, both flags, a buyer, a
/// traffic source, a disposition with notes, a contact field.
fn history() -> Store {
    let mut store = Store::default();
    for i in 0..4u64 {
        let id = 100000001 + i;
        let mut call = Call::new(id, uuid_for(id));
        call.set(CallField::Revenue, Some(FieldValue::Money("10.00".parse().unwrap())));
        call.set(CallField::Payout, Some(FieldValue::Money("2.00".parse().unwrap())));
        call.set(CallField::BuyerConverted, Some(FieldValue::Flag(true)));
        call.set(CallField::BuyerId, text("7"));
        call.set(CallField::TrafficSourceId, text("101"));
        call.set(CallField::DispositionId, text("3"));
        call.set(CallField::DispositionNotes, text("first call"));
        call.fields.tokens = BTreeMap::from([("zip".into(), "90210".into())]);
        store.insert(call);
    }
    store
}

/// Every field a row can change, changed on call 1; call 2 cleared.
const EVERY_FIELD: &str = "id,revenue,add_payout,buyer_converted,offer_converted,trackdrive_buyer_id,\
trackdrive_traffic_source_id,call_disposition_id,agent_call_disposition_notes,token:zip\n\
100000001,12.50,1.25,no,yes,8,102,5,called back,10001\n\
100000002,,,,,,,#clear,#clear,\n";

#[test]
fn plan_and_reconcile_show_before_and_after_for_every_field_and_a_clear_clears() {
    let sim = SimHarness::start(0, |c| c.store = history());
    let wd = Workdir::new();
    wd.write("in.csv", EVERY_FIELD);
    wd.run(&mut plan_job(&wd, &sim, "in.csv", &[]), 0);
    let plan = by_line(&wd.read("in.plan.csv"));
    let pairs = [
        ("revenue", "10.00", "12.50"),
        ("payout", "2.00", "3.25"),
        ("buyer_converted", "true", "false"),
        ("offer_converted", "false", "true"),
        ("trackdrive_buyer_id", "7", "8"),
        ("trackdrive_traffic_source_id", "101", "102"),
        ("call_disposition_id", "3", "5"),
        ("agent_call_disposition_notes", "first call", "called back"),
        ("post_call_tokens", r#"{"zip":"90210"}"#, r#"{"zip":"10001"}"#),
    ];
    for (field, before, after) in pairs {
        let r = &plan[&2];
        assert_eq!(
            (r[&format!("{field}_before")].as_str(), r[&format!("{field}_after")].as_str()),
            (before, after),
            "{field}"
        );
    }
    let cleared = &plan[&3];
    assert_eq!(cleared["status"], "would_change", "a #clear of what the call holds is a change: {cleared:?}");
    assert_eq!(
        (cleared["call_disposition_id_before"].as_str(), cleared["call_disposition_id_after"].as_str()),
        ("3", "")
    );
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 0), "a plan sends nothing");

    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile"]), 0);
    let results = by_line(&wd.read("in.results.csv"));
    for (field, before, after) in pairs {
        let r = &results[&2];
        assert_eq!(
            (r[&format!("{field}_before")].as_str(), r[&format!("{field}_after")].as_str()),
            (before, after),
            "{field}"
        );
    }
    let calls = sim.calls_by_id();
    let one = &calls[&100000001];
    assert_eq!((one["disposition_id"].as_str(), one["disposition_notes"].as_str()), (Some("5"), Some("called back")));
    assert_eq!((one["buyer_id"].as_str(), one["traffic_source_id"].as_str()), (Some("8"), Some("102")));
    assert_eq!(one["traffic_source_converted"], true);
    let two = &calls[&100000002];
    assert_eq!(results[&3]["status"], "ok", "{:?}", results[&3]);
    assert!(two["disposition_id"].is_null() && two["disposition_notes"].is_null(), "{two}");
}

#[test]
fn a_field_the_calls_do_not_show_is_sent_without_comparing_and_said() {
    let sim = SimHarness::start(0, |c| {
        c.store = history();
        c.shape.omit = vec!["disposition_notes".into()];
    });
    let wd = Workdir::new();
    wd.write("in.csv", "id,agent_call_disposition_notes\n100000001,first call\n100000002,#clear\n");
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--summary-json", "s.json"]), 0);
    // The call holds those notes already, but its read did not say so: sent.
    let results = by_line(&wd.read("in.results.csv"));
    assert!(results.values().all(|r| r["status"] == "ok"), "{results:?}");
    assert!(sim.calls_by_id()[&100000002]["updates_applied"] == 1);
    let text = stdout(&out);
    assert!(text.contains("note: agent_call_disposition_notes: 2 rows changed it, but the calls read carried neither `disposition_notes` nor `agent_call_disposition_notes`"), "{text}");
    let s: Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert!(s["read_notes"][0].as_str().unwrap().contains("sent without comparing"), "{s}");
}

#[test]
fn a_second_reconcile_restart_finds_every_row_unchanged_and_sends_nothing() {
    let sim = SimHarness::start(0, |c| c.store = history());
    let wd = Workdir::new();
    // Set-only: an add is an action, sent again by --restart on purpose.
    wd.write("in.csv", EVERY_FIELD.replace("add_payout", "payout").replace(",1.25,", ",3.25,"));
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile"]), 0);
    let applied: u64 = sim.calls_by_id().values().map(|c| c["updates_applied"].as_u64().unwrap()).sum();
    assert_eq!(applied, 2);
    let before = sim.stat("requests");
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--restart"]), 0);
    let results = by_line(&wd.read("in.results.csv"));
    assert!(results.values().all(|r| r["status"] == "unchanged"), "{results:?}");
    let applied_again: u64 = sim.calls_by_id().values().map(|c| c["updates_applied"].as_u64().unwrap()).sum();
    assert_eq!(applied_again, applied, "nothing sent");
    assert_eq!(sim.stat("requests") - before, 1 + 2, "the first read and a GET a row, no update");
}

#[test]
fn a_rollback_file_puts_back_every_field_it_can() {
    let sim = SimHarness::start(0, |c| c.store = history());
    let original = sim.calls_by_id();
    let wd = Workdir::new();
    wd.write("in.csv", EVERY_FIELD);
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--rollback", "undo.csv"]), 0);
    assert_ne!(sim.calls_by_id()[&100000001]["disposition_id"], original[&100000001]["disposition_id"]);
    wd.run(&mut run_job(&wd, &sim, "undo.csv", &[]), 0);
    let restored = sim.calls_by_id();
    for id in [100000001, 100000002] {
        for field in [
            "revenue",
            "payout",
            "buyer_converted",
            "traffic_source_converted",
            "buyer_id",
            "traffic_source_id",
            "disposition_id",
            "disposition_notes",
            "token_values",
        ] {
            assert_eq!(restored[&id][field], original[&id][field], "call {id} field {field}\n{}", wd.read("undo.csv"));
        }
    }
}

#[test]
fn a_2xx_that_says_it_did_not_take_is_never_ok() {
    // A 200 whose body carries {"status": 422, "errors": ...}: not applied.
    for reconcile in [false, true] {
        let sim =
            SimHarness::start(40, |c| c.faults = FaultConfig { seed: 3, error_200: 0.4, ..FaultConfig::default() });
        let wd = Workdir::new();
        wd.write("in.csv", crate::harness::add_rows(40, |i| format!("{i}.25")).replace("add_revenue", "revenue"));
        let extra: &[&str] = if reconcile { &["--reconcile"] } else { &[] };
        wd.run(&mut run_job(&wd, &sim, "in.csv", extra), 1);
        let results = by_line(&wd.read("in.results.csv"));
        let calls = sim.calls_by_id();
        let mut rejected = 0;
        for (line, r) in &results {
            let call = &calls[&(100000001 + line - 2)];
            match r["status"].as_str() {
                "ok" => assert_eq!(call["updates_applied"], 1, "line {line} ok but not applied"),
                "rejected" => {
                    rejected += 1;
                    assert!(r["error"].contains("the body says it did not take"), "{r:?}");
                    assert_eq!(call["updates_applied"], 0);
                }
                other => panic!("line {line}: {other} {r:?}"),
            }
        }
        assert!(rejected > 5, "the fault should have struck: {rejected}");
    }
    // A 200 that ignores a field: the call it returns contradicts the row.
    let sim = SimHarness::start(4, |c| {
        c.faults = FaultConfig { ignore_param: Some("revenue".into()), ..FaultConfig::default() }
    });
    let wd = Workdir::new();
    wd.write("in.csv", "id,revenue,add_payout\n100000001,5.00,\n100000002,5.00,1.00\n100000003,,1.00\n");
    wd.run(&mut run_job(&wd, &sim, "in.csv", &[]), 1);
    let results = by_line(&wd.read("in.results.csv"));
    let status = |line: u64| results[&line]["status"].clone();
    assert_eq!((status(2), status(3), status(4)), ("failed".into(), "unknown".into(), "ok".into()), "{results:?}");
    assert!(results[&2]["error"].contains(r#"revenue sent "5.00", the call shows "0.00""#), "{:?}", results[&2]);
}

#[test]
fn control_totals_agree_on_a_night_and_differ_when_another_writer_moves_a_call() {
    let sim = SimHarness::start(60, |c| {
        c.faults = FaultConfig { latency: Duration::from_millis(30), ..FaultConfig::default() }
    });
    let wd = Workdir::new();
    let calls = sim.calls_by_id();
    let mut ids: Vec<u64> = calls.keys().copied().collect();
    ids.sort();
    // Rows for 35 of the first 40 calls, with their times: the window (their
    // time range) holds all 40.
    let night = |calls: &std::collections::HashMap<u64, Value>| {
        let mut file = String::from("id,call_time,revenue\n");
        for id in ids[..40].iter().filter(|id| !(100000021..100000026).contains(*id)) {
            file.push_str(&format!("{id},{},5.00\n", calls[id]["created_at"].as_str().unwrap()));
        }
        file
    };
    wd.write("in.csv", night(&calls));
    let child =
        spawn(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--concurrency", "2", "--summary-json", "s.json"]));
    wait_for("rows sent", || sim.calls_by_id().values().any(|c| c["updates_applied"] == 1));
    // Another writer adds 2.50 to a call of the window the file does not name.
    let other = 100000023;
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        tdrecon::trackdrive::http::client_builder()
            .build()
            .unwrap()
            .put(format!("{}/api/v1/calls/{other}", sim.url()))
            .basic_auth(crate::harness::PUBLIC, Some(crate::harness::PRIVATE))
            .json(&json!({"add_revenue": "2.50"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("revenue 0.00 -> 177.50 (+177.50)"), "{text}");
    assert!(text.contains("totals: revenue 0.00 -> 175.00 (+175.00)"), "{text}");
    assert!(text.contains("CONTROL TOTALS DIFFER"), "{text}");
    let s: Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert_eq!(s["control_totals"]["agrees"], false, "{s}");
    assert_eq!(s["control_totals"]["after"]["calls"], 40);

    // The same night without the other writer agrees.
    let sim = SimHarness::start(60, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", night(&sim.calls_by_id()));
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile"]), 0);
    let text = stdout(&out);
    assert!(text.contains("revenue 0.00 -> 175.00 (+175.00)") && !text.contains("DIFFER"), "{text}");
}

#[test]
fn a_server_that_refuses_columns_does_not_stop_a_window_read() {
    let sim = SimHarness::start(30, |c| c.shape.refuse_columns = true);
    let wd = Workdir::new();
    let calls = sim.calls_by_id();
    let mut file = String::from("id,call_time,revenue\n");
    for (id, call) in &calls {
        file.push_str(&format!("{id},{},3.00\n", call["created_at"].as_str().unwrap()));
    }
    wd.write("in.csv", &file);
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--summary-json", "s.json"]), 0);
    assert!(stdout(&out).contains("note: the calls list refused columns="), "{}", stdout(&out));
    let s: Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert!(s["read_notes"][0].as_str().unwrap().contains("read with every field"), "{s}");
    let results = by_line(&wd.read("in.results.csv"));
    assert!(results.values().all(|r| r["status"] == "ok" && r["revenue_before"] == "0.00"), "{results:?}");
    // One refused page, the window read again whole (the authenticated read
    // before the first row: no separate one), a PUT a row, and the window
    // once more for the control totals.
    assert_eq!(sim.stat("requests"), 1 + 1 + 30 + 1);
}

#[test]
fn name_lists_are_followed_past_their_first_page_and_traffic_sources_go_by_their_label() {
    let sim = SimHarness::start(3, |_| {});
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "id,reassign_traffic_source\n100000001,TS-130 - Di Noble\n100000002,Google Ads\n100000003,Jon Pike\n",
    );
    wd.run(&mut run_job(&wd, &sim, "in.csv", &[]), 0);
    let calls = sim.calls_by_id();
    let ts = |id: u64| calls[&id]["traffic_source_id"].as_str().unwrap().to_string();
    assert_eq!((ts(100000001), ts(100000002), ts(100000003)), ("130".into(), "101".into(), "110".into()));
    assert_eq!(calls[&100000001]["traffic_source"], "TS-130 - Di Noble");
}

#[test]
fn doctor_checks_every_assumption_read_only() {
    let sim = SimHarness::start(30, |_| {});
    let wd = Workdir::new();
    let doctor = |wd: &Workdir, sim: &SimHarness, extra: &[&str]| {
        let url = sim.url();
        let mut args = vec!["doctor", "--base-url", &url];
        args.extend_from_slice(extra);
        with_keys(wd.command(&args))
    };
    let out = wd.run(&mut doctor(&wd, &sim, &[]), 0);
    let text = stdout(&out);
    assert!(text.contains("every assumption holds") && !text.contains("WARN"), "{text}");
    for line in
        ["field offer_converted", "read as `traffic_source_converted`", "cursor and pages", "list traffic_sources"]
    {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 0), "doctor writes nothing");
    let report: Value = serde_json::from_slice(&wd.run(&mut doctor(&wd, &sim, &["--json"]), 0).stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["checks"].as_array().unwrap().len() > 20);

    // An account whose calls lack a field, and refuse columns=: WARN, exit 1.
    let odd = SimHarness::start(30, |c| {
        c.shape.omit = vec!["disposition_notes".into()];
        c.shape.refuse_columns = true;
    });
    let out = wd.run(&mut doctor(&wd, &odd, &[]), 1);
    let text = stdout(&out);
    assert!(text.contains("WARN  field agent_call_disposition_notes"), "{text}");
    assert!(text.contains("WARN  columns="), "{text}");
    let warned: Vec<&str> = text.lines().filter(|l| l.starts_with("WARN")).collect();
    assert_eq!(warned.len(), 2, "{text}");
    // Keys refused: said, and nothing more is read.
    let wrong = doctor(&wd, &sim, &[]).env("TRACKDRIVE_PRIVATE_KEY", "wrong").output().unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stdout(&wrong).contains("WARN  keys") && stdout(&wrong).contains("401"), "{}", stdout(&wrong));
    assert!(!stdout(&wrong).contains("wrong"), "the key is never printed");
}
