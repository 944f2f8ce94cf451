//! Two-sided reconciliation on the sample night (samples/night/): sixteen
//! calls in TrackDrive, Acme Insurance's report of nine rows that leaves out
//! three converted calls, pays one of Bolt Auto Warranty's, and pays two at
//! other amounts. `plan` and `run --reconcile` must list exactly those, with
//! their totals, at no request beyond the window's pages.

use std::collections::BTreeSet;

use serde_json::Value;
use tdrecon::sim::SimConfig;

use crate::harness::{SimHarness, plan_job, rows, run_job};
use crate::util::{Workdir, stdout};

const CALLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/night/calls.csv");
const REPORT: &str = include_str!("../../samples/night/acme-report.csv");

/// The simulator holding the sample night's calls.
fn night() -> SimHarness {
    let store = tdrecon::sim::calls_file::load_calls(std::path::Path::new(CALLS)).unwrap();
    SimHarness::start(0, |c: &mut SimConfig| c.store = store)
}

/// `(kind, line, call, dollars)` of every finding in a discrepancies file.
fn findings(text: &str) -> BTreeSet<(String, String, String, String)> {
    rows(text)
        .into_iter()
        .map(|r| (r["kind"].clone(), r["line"].clone(), r["call_id"].clone(), r["dollars"].clone()))
        .collect()
}

fn planted() -> BTreeSet<(String, String, String, String)> {
    [
        ("left_out", "", "300000103", "45.00"),
        ("left_out", "", "300000109", "35.00"),
        ("left_out", "", "300000114", "35.00"),
        ("not_theirs", "7", "300000108", "20.00"),
        ("amount_differs", "4", "300000105", "5.00"),
        ("amount_differs", "9", "300000112", "-15.00"),
    ]
    .into_iter()
    .map(|(k, l, c, d)| (k.to_string(), l.to_string(), c.to_string(), d.to_string()))
    .collect()
}

fn summary(wd: &Workdir) -> Value {
    serde_json::from_str(&wd.read("s.json")).unwrap()
}

/// Calls and dollars of one kind, in all, from the summary JSON.
fn total(s: &Value, kind: &str) -> (u64, String) {
    let t = &s["discrepancies"]["total"][kind];
    (t["calls"].as_u64().unwrap(), t["dollars"].as_str().unwrap().to_string())
}

#[test]
fn the_sample_night_lists_exactly_the_planted_discrepancies_at_no_request_beyond_the_window() {
    let sim = night();
    let wd = Workdir::new();
    wd.write("acme.csv", REPORT);
    let out = wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--summary-json", "s.json", "--report", "night.html"]), 0);
    assert_eq!(findings(&wd.read("acme.discrepancies.csv")), planted());
    let s = summary(&wd);
    assert_eq!(total(&s, "left_out"), (3, "115.00".into()));
    assert_eq!(total(&s, "not_theirs"), (1, "20.00".into()));
    assert_eq!(total(&s, "amount_differs"), (2, "-10.00".into()));
    assert_eq!(s["discrepancies"]["by_buyer"]["Acme Insurance"]["left_out"]["calls"], 3);
    // The window's one page, and nothing else: no call read, no update.
    assert_eq!(s["window_pages"], 1);
    assert_eq!(sim.stat("requests"), 1, "only the window's pages");
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 0));
    // Information: the plan still plans, and exits 0.
    assert_eq!(rows(&wd.read("acme.plan.csv")).len(), 9);
    let text = stdout(&out);
    assert!(
        text.contains(
            "buyer Acme Insurance: 3 converted calls not on the report (115.00), 1 row paying another buyer's call \
             (20.00), 2 amounts that differ (-10.00: +5.00 over, -15.00 under)"
        ),
        "{text}"
    );
    // What a finding says of its call.
    let rows = rows(&wd.read("acme.discrepancies.csv"));
    let theirs = rows.iter().find(|r| r["kind"] == "not_theirs").unwrap();
    assert_eq!(theirs["call_buyer"], "Bolt Auto Warranty (8)");
    // In the report's zone for a person (UTC here: no --time-zone), and as an instant.
    assert_eq!(theirs["call_time"], "2026-11-27 18:55 UTC (+00:00)");
    assert_eq!(theirs["call_time_utc"], "2026-11-27T18:55:00Z");
    assert_eq!(theirs["caller_number"], "'+13035550149", "text from the server is guarded like every output");
    let page = wd.read("night.html");
    assert!(page.contains("300000114") && page.contains("Bolt Auto Warranty (8)"));
}

#[test]
fn run_reconcile_judges_the_calls_as_they_were_before_it() {
    let sim = night();
    let wd = Workdir::new();
    wd.write("acme.csv", REPORT);
    wd.run(&mut run_job(&wd, &sim, "acme.csv", &["--reconcile", "--summary-json", "s.json"]), 0);
    assert_eq!(findings(&wd.read("acme.discrepancies.csv")), planted());
    // The run applied the report (TrackDrive now holds 40.00 for line 4)...
    assert_eq!(sim.call(300000105)["revenue"], "40.00");
    // ...while the discrepancy is of the amount before it.
    let rows = rows(&wd.read("acme.discrepancies.csv"));
    let line4 = rows.iter().find(|r| r["line"] == "4").unwrap();
    assert_eq!((line4["revenue"].as_str(), line4["report_amount"].as_str()), ("35.00", "40.00"));
    let s = summary(&wd);
    assert_eq!(s["exit_code"], 0, "discrepancies follow the exit code table: they are not failures");
    // A plan afterwards: the amounts agree now; what is left out is still left out.
    wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--discrepancies-only", "--summary-json", "s.json"]), 0);
    let s = summary(&wd);
    assert_eq!(total(&s, "amount_differs"), (0, "0.00".into()));
    assert_eq!(total(&s, "left_out"), (3, "115.00".into()));
}

#[test]
fn discrepancies_only_reads_and_reports_without_a_plan() {
    let sim = night();
    let wd = Workdir::new();
    wd.write("acme.csv", REPORT);
    let out = wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--discrepancies-only", "--summary-json", "s.json"]), 0);
    assert!(!wd.path("acme.plan.csv").exists(), "no plan file");
    assert_eq!(findings(&wd.read("acme.discrepancies.csv")), planted());
    assert_eq!(sim.stat("requests"), 1);
    assert!(!stdout(&out).contains("would change"), "{}", stdout(&out));
    // Not for run (plan's own flag), and the discrepancies need a window read.
    let err = wd.run(&mut run_job(&wd, &sim, "acme.csv", &["--discrepancies-only"]), 2);
    assert!(crate::util::stderr(&err).contains("unexpected argument '--discrepancies-only'"));
    let err = wd.run(&mut run_job(&wd, &sim, "acme.csv", &["--buyer", "Acme Insurance"]), 2);
    assert!(crate::util::stderr(&err).contains("need --reconcile"));
    // The file cannot be written over the report.
    wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--discrepancies", "acme.csv"]), 2);
    assert_eq!(wd.read("acme.csv"), REPORT);
}

#[test]
fn a_report_for_several_buyers_is_judged_per_buyer() {
    let sim = night();
    let wd = Workdir::new();
    // Bolt's rows under its own id (B-8), Acme's under its name, any case.
    wd.write(
        "both.csv",
        "Call ID,Call Time,Buyer,Revenue\n\
         300000101,2026-11-27 18:02,ACME insurance,35.00\n\
         300000104,2026-11-27 18:24,B-8,20.00\n\
         300000108,2026-11-27 18:55,B-8,25.00\n\
         300000109,2026-11-27 19:03,B-8,35.00\n",
    );
    wd.run(&mut plan_job(&wd, &sim, "both.csv", &["--summary-json", "s.json", "--discrepancies-only"]), 0);
    let s = summary(&wd);
    let by = &s["discrepancies"]["by_buyer"];
    // The window is 17:52 to 19:13. Acme: every converted call in it but 101
    // and 109 left out (five), nothing else.
    assert_eq!(by["Acme Insurance"]["left_out"]["calls"], 5, "{by}");
    assert_eq!(by["Acme Insurance"]["left_out"]["dollars"], "195.00");
    // Bolt: both its calls named, 108 paid 25 for 20, and Acme's 109 paid.
    assert_eq!(by["Bolt Auto Warranty"]["left_out"]["calls"], 0, "{by}");
    assert_eq!(by["Bolt Auto Warranty"]["amount_differs"]["dollars"], "5.00");
    assert_eq!(by["Bolt Auto Warranty"]["not_theirs"]["calls"], 1);
    // Acme's 109 is paid on a Bolt row: one finding (Bolt's not theirs), and
    // the report holds the call, so it is not also left out of Acme's.
    let found = findings(&wd.read("both.discrepancies.csv"));
    assert_eq!(found.iter().filter(|(_, _, call, _)| call == "300000109").count(), 1, "{found:?}");
    // --buyer judges only its buyers: Acme's rows are not Bolt's report.
    wd.run(
        &mut plan_job(&wd, &sim, "both.csv", &["--summary-json", "s.json", "--buyer", "8", "--discrepancies-only"]),
        0,
    );
    let s = summary(&wd);
    let by = s["discrepancies"]["by_buyer"].as_object().unwrap();
    assert_eq!(by.keys().collect::<Vec<_>>(), ["Bolt Auto Warranty"]);
    // A report without a Buyer column, named by --buyer.
    wd.write("plain.csv", "id,call_time,revenue\n300000101,2026-11-27 18:02,35.00\n300000116,2026-11-27 20:01,20.00\n");
    let args = ["--summary-json", "s.json", "--buyer", "Acme Insurance", "--discrepancies-only"];
    wd.run(&mut plan_job(&wd, &sim, "plain.csv", &args), 0);
    let s = summary(&wd);
    assert_eq!(total(&s, "left_out"), (9, "355.00".into()), "the window is the whole night now");
    assert_eq!(total(&s, "not_theirs"), (1, "20.00".into()));
    assert_eq!(sim.stat("requests"), 3, "a window page each, no list read: every name was among the calls");
}

#[test]
fn a_name_no_call_shows_is_looked_up_and_one_that_names_nobody_is_said() {
    let sim = night();
    let wd = Workdir::new();
    // Cedar Health has no call in the window; "Nobody" is no buyer at all.
    wd.write(
        "cedar.csv",
        "Call ID,Call Time,Buyer,Revenue\n\
         300000101,2026-11-27 18:02,Cedar Health,35.00\n\
         300000102,2026-11-27 18:09,Nobody,35.00\n",
    );
    let out = wd.run(&mut plan_job(&wd, &sim, "cedar.csv", &["--summary-json", "s.json", "--discrepancies-only"]), 0);
    let s = summary(&wd);
    let by = &s["discrepancies"]["by_buyer"];
    assert_eq!(by["Cedar Health"]["not_theirs"]["calls"], 1, "{by}");
    let notes = s["discrepancies"]["notes"].to_string();
    assert!(
        notes.contains("the buyers list was read (one more request) to resolve \\\"Cedar Health\\\", \\\"Nobody\\\""),
        "{notes}"
    );
    assert!(notes.contains("unknown buyer \\\"Nobody\\\""), "{notes}");
    assert!(stdout(&out).contains("its rows were not judged"), "{}", stdout(&out));
    // The window's page and one page of the buyers list.
    assert_eq!(sim.stat("requests"), 2);
    // No buyer known at all: said, and the plan goes on.
    wd.write("nobody.csv", "id,call_time,revenue\n300000101,2026-11-27 18:02,35.00\n");
    let out = wd.run(&mut plan_job(&wd, &sim, "nobody.csv", &["--discrepancies-only"]), 0);
    assert!(stdout(&out).contains("no discrepancies: no buyer is known"), "{}", stdout(&out));
    assert!(!wd.path("nobody.discrepancies.csv").exists());
    // A report that pays nothing (notes only) has nothing to disagree on: not a word.
    wd.write("notes.csv", "id,call_time,agent_call_disposition_notes\n300000101,2026-11-27 18:02,called back\n");
    let out = wd.run(&mut plan_job(&wd, &sim, "notes.csv", &["--summary-json", "s.json"]), 0);
    assert!(!stdout(&out).contains("discrepanc"), "{}", stdout(&out));
    assert!(summary(&wd)["discrepancies"].is_null());
}

#[test]
fn the_sandbox_calls_and_the_profile_need_the_sandbox_and_no_output_writes_over_them() {
    let wd = Workdir::new();
    wd.write("acme.csv", REPORT);
    let calls = std::fs::read_to_string(CALLS).unwrap();
    wd.write("calls.csv", &calls);
    // Against a real account the simulator's calls would rehearse nothing
    // while the rows were written for real: refused before anything is read.
    let sink = "http://127.0.0.1:9";
    for command in ["plan", "run"] {
        let args = [command, "acme.csv", "--sandbox-calls", "calls.csv", "--base-url", sink];
        let err = crate::util::stderr(&wd.run(&mut wd.command(&args), 2));
        assert!(err.contains("--sandbox-calls seeds the simulator"), "{err}");
    }
    for output in ["--discrepancies", "--results", "--errors", "--summary-json"] {
        let args = ["plan", "acme.csv", "--sandbox", "--sandbox-calls", "calls.csv", output, "calls.csv"];
        let err = crate::util::stderr(&wd.run(&mut wd.command(&args), 2));
        assert!(err.contains("is the input file calls.csv"), "{output}: {err}");
    }
    assert_eq!(wd.read("calls.csv"), calls);
    // Nor over the profile, even by the summary of the failure that says so.
    let profile = "concurrency = 4\n";
    wd.write("night.toml", profile);
    for output in ["--results", "--summary-json"] {
        let args = ["plan", "acme.csv", "--sandbox", "--config", "night.toml", output, "night.toml"];
        let err = crate::util::stderr(&wd.run(&mut wd.command(&args), 2));
        assert!(err.contains("is the input file night.toml"), "{output}: {err}");
    }
    assert_eq!(wd.read("night.toml"), profile);
}

#[test]
fn rows_of_no_known_buyer_keep_their_calls_and_not_converted_is_an_amount_that_differs() {
    let sim = night();
    let wd = Workdir::new();
    // 103 is the buyer's row but rejected (its revenue is unreadable); 109
    // has no label in a labelled report; 114 says not converted.
    let report = "Call ID,Call Time,Buyer,Revenue,Buyer Converted\n\
                  300000101,2026-11-27 18:02,Acme Insurance,35.00,yes\n\
                  300000103,2026-11-27 18:15,Acme Insurance,45.0x,yes\n\
                  300000109,2026-11-27 19:03,,35.00,yes\n\
                  300000114,2026-11-27 19:44,Acme Insurance,,no\n";
    wd.write("acme.csv", report);
    wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--summary-json", "s.json", "--discrepancies-only"]), 0);
    let found = findings(&wd.read("acme.discrepancies.csv"));
    let calls: Vec<(&str, &str)> = found.iter().map(|(k, _, c, _)| (k.as_str(), c.as_str())).collect();
    for named in ["300000103", "300000109"] {
        assert!(!calls.contains(&("left_out", named)), "{named} is named by a row: {found:?}");
    }
    assert!(found.contains(&("amount_differs".into(), "5".into(), "300000114".into(), "-35.00".into())), "{found:?}");
    let notes = summary(&wd)["discrepancies"]["notes"].to_string();
    assert!(notes.contains("1 rejected row (errors.csv): not judged"), "{notes}");
    assert!(notes.contains("1 row of no known buyer"), "{notes}");

    // A row found by caller that finds no call names none: said, as the
    // call it meant (103 here) shows as left out.
    wd.write(
        "caller.csv",
        "caller_number,Call Time,Buyer,Revenue\n\
         +13035550107,2026-11-27 18:09,Acme Insurance,35.00\n\
         +13035559999,2026-11-27 18:15,Acme Insurance,45.00\n",
    );
    let out = wd.run(&mut plan_job(&wd, &sim, "caller.csv", &["--discrepancies-only"]), 0);
    assert!(stdout(&out).contains("1 rejected row names no call by id: a call it meant"), "{}", stdout(&out));
    let found = findings(&wd.read("caller.discrepancies.csv"));
    assert!(found.contains(&("left_out".into(), "".into(), "300000103".into(), "45.00".into())), "{found:?}");

    // A night that is not judged says so of the CSV an earlier one left.
    wd.write("acme.csv", "id,call_time,revenue\n300000101,2026-11-27 18:02,35.00\n");
    let out = wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--discrepancies-only"]), 0);
    assert!(stdout(&out).contains("acme.discrepancies.csv is an earlier run's, not this one's"), "{}", stdout(&out));
    // Asked for discrepancies of a report that pays for nothing: said.
    wd.write("payout.csv", "id,call_time,payout\n300000101,2026-11-27 18:02,12.00\n");
    let out = wd.run(&mut plan_job(&wd, &sim, "payout.csv", &["--discrepancies-only", "--buyer", "7"]), 0);
    assert!(stdout(&out).contains("no column that says what a buyer paid"), "{}", stdout(&out));
}

#[test]
fn an_empty_report_a_wrong_buyer_a_narrow_window_and_two_buyers_are_judged_as_a_finance_lead_reads_them() {
    let sim = night();
    let wd = Workdir::new();
    let night_window = ["--since", "2026-11-27T18:00:00Z", "--until", "2026-11-27T21:00:00Z"];
    // No row at all: every converted call of the buyer is left out.
    wd.write("empty.csv", "Call ID,Call Time,Buyer,Revenue\n");
    let mut args = vec!["--summary-json", "s.json", "--discrepancies-only", "--buyer", "7"];
    args.extend(night_window);
    wd.run(&mut plan_job(&wd, &sim, "empty.csv", &args), 0);
    assert_eq!(total(&summary(&wd), "left_out"), (10, "390.00".into()));
    assert!(summary(&wd)["discrepancies"]["window"]["from"].as_str().unwrap().starts_with("2026-11-27T18:00"));

    wd.write("acme.csv", REPORT);
    // --buyer names a buyer none of the rows is for: said, not "agrees".
    let out = wd.run(&mut plan_job(&wd, &sim, "acme.csv", &["--discrepancies-only", "--buyer", "8"]), 0);
    assert!(stdout(&out).contains("9 rows of buyers not judged"), "{}", stdout(&out));

    // Both buyers judged: Bolt's call 108, paid on an Acme row, is one
    // finding (Acme's not theirs), never also left out of Bolt's.
    let args = ["--summary-json", "s.json", "--discrepancies-only", "--buyer", "7", "--buyer", "8"];
    wd.run(&mut plan_job(&wd, &sim, "acme.csv", &args), 0);
    let found = findings(&wd.read("acme.discrepancies.csv"));
    assert_eq!(found.iter().filter(|(_, _, call, _)| call == "300000108").count(), 1, "{found:?}");

    // A window narrower than the report: rows whose call times are outside
    // it are not judged, never "not theirs".
    let args = ["--summary-json", "s.json", "--discrepancies-only", "--since", "2026-11-27T19:00:00Z"];
    let out = wd.run(&mut plan_job(&wd, &sim, "acme.csv", &args), 0);
    assert_eq!(total(&summary(&wd), "not_theirs"), (0, "0.00".into()), "{}", stdout(&out));
    assert!(stdout(&out).contains("6 rows with a call time outside the window judged"), "{}", stdout(&out));
    assert!(stdout(&out).contains("judged on the calls from 2026-11-27 19:00 UTC (+00:00)"), "{}", stdout(&out));
}
