//! The operator's morning: a report in its own zone read with the wrong
//! one; names the account lacks; the night sent again the next morning;
//! what ran last night; a CRM export's progress on a terminal.

use tdrecon::sim::SimConfig;

use crate::harness::{FIRST, SimHarness, by_line, rows, run_job, with_keys};
use crate::util::{Workdir, stdout};

/// Calls of a Medicare buyer's night, as TrackDrive holds them (UTC, to the
/// second), and the buyer's report of them (Central time, to the minute).
fn chicago_night(n: u64) -> (tdrecon::sim::Store, String) {
    let mut store = tdrecon::sim::Store::default();
    let mut report = String::from("Caller,Call Date,Revenue\n");
    for i in 0..n {
        let id = 300_000_001 + i;
        let mut call = tdrecon::sim::Call::new(id, tdrecon::sim::store::uuid_for(id));
        // 19:03:27Z and on, a call every seven minutes: 13:03 CST.
        let at = "2026-12-06T19:03:27Z".parse::<jiff::Timestamp>().unwrap().as_millisecond() + (i as i64) * 7 * 60_000;
        call.created_at_ms = at;
        call.caller_number = format!("+1312555{:04}", 100 + i);
        store.insert(call);
        let local = jiff::Timestamp::from_millisecond(at).unwrap().in_tz("America/Chicago").unwrap();
        report.push_str(&format!("+1312555{:04},{},{}.00\n", 100 + i, local.strftime("%Y-%m-%d %H:%M"), 20 + i));
    }
    (store, report)
}

#[test]
fn a_report_in_chicago_time_read_as_utc_is_said_once_with_the_zone_that_fixes_it() {
    let (store, report) = chicago_night(12);
    let sim = SimHarness::start(0, |c: &mut SimConfig| c.store = store);
    let wd = Workdir::new();
    wd.write("medicare.csv", &report);
    let map = ["--map", "Caller=caller_number", "--map", "Call Date=call_time", "--summary-json", "s.json"];
    let out = wd.run(&mut run_job(&wd, &sim, "medicare.csv", &map), 1);
    let said = stdout(&out);
    assert!(
        said.contains(
            "TIME ZONE: 12 of the 12 rows that found no call are about 6h00 before a call from their own number"
        ) && said.contains("run again with --time-zone America/Chicago"),
        "said once, for the file: {said}"
    );
    let summary: serde_json::Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert!(summary["time_zone_hint"].as_str().unwrap().contains("UTC-06:00"), "{summary}");
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 0), "nothing guessed");

    // In the zone it names: every row finds its call, and what is shown is in Central time.
    let mut args = map.to_vec();
    args.extend(["--time-zone", "America/Chicago", "--restart"]);
    wd.run(&mut run_job(&wd, &sim, "medicare.csv", &args), 0);
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 1));
    assert_eq!(sim.call(300_000_001)["revenue"], "20.00");
    assert_eq!(by_line(&wd.read("medicare.results.csv")).len(), 12);
    // A row whose call is not there names the nearest in the report's zone.
    wd.write("late.csv", "Caller,Call Date,Revenue\n+13125550100,2026-12-06 13:12,5.00\n");
    wd.run(&mut run_job(&wd, &sim, "late.csv", &args), 1);
    let reason = rows(&wd.read("late.errors.csv"))[0]["reason"].clone();
    assert!(
        reason.contains("within 5m of 2026-12-06 13:12 CST (-06:00)")
            && reason.contains("is 300000001 at 2026-12-06 13:03:27 CST (-06:00), 0h 08m earlier"),
        "{reason}"
    );
}

/// A disposition backfill naming what the account lacks: each refusal
/// suggests the account's nearest names, and `tdrecon names` lists them.
#[test]
fn names_the_account_lacks_are_told_its_nearest_and_listed() {
    let sim = SimHarness::start(4, |_| {});
    let wd = Workdir::new();
    wd.write(
        "backfill.csv",
        "Call ID,Disposition,Notes\n100000001,DNC,\n100000002,Callback Requested,asked for Tuesday\n\
         100000003,Sale,\n100000004,Callback,\n",
    );
    let map = ["--map", "Disposition=call_disposition", "--map", "Notes=agent_call_disposition_notes"];
    wd.run(&mut run_job(&wd, &sim, "backfill.csv", &[&map[..], &["--report", "night.html"]].concat()), 1);
    // The page's rows that need a look name their calls.
    let page = wd.read("night.html");
    assert!(page.contains("<tr><td class=\"num\" data-v=\"2\">2</td><td>100000001</td><td>invalid</td>"), "{page}");
    let errors = rows(&wd.read("backfill.errors.csv"));
    let reason = |line: &str| errors.iter().find(|r| r["line"] == line).map(|r| r["reason"].clone()).unwrap();
    assert_eq!(reason("2"), r#"unknown disposition "DNC" (did you mean "Do Not Call"?)"#);
    assert_eq!(reason("3"), r#"unknown disposition "Callback Requested" (did you mean "Callback"?)"#);
    // The file's header, with tdrecon's column in brackets.
    assert_eq!(reason("5"), r#"disposition "Callback" requires notes: fill Notes [agent_call_disposition_notes]"#);
    assert_eq!(sim.call(FIRST + 2)["disposition_name"], "Sale");
    let url = sim.url();
    let out = wd.run(&mut with_keys(wd.command(&["names", "dispositions", "--base-url", &url])), 0);
    let table = stdout(&out);
    assert!(
        table.contains(" 6  Do Not Call\n") && table.contains("Callback  [needs agent_call_disposition_notes]"),
        "{table}"
    );
    let out = wd.run(&mut with_keys(wd.command(&["names", "buyers", "--base-url", &url, "--csv"])), 0);
    let buyers = rows(&stdout(&out));
    assert!(buyers.iter().any(|b| b["name"] == "Acme Insurance"), "{buyers:?}");
    assert_eq!(sim.calls_by_id().values().map(|c| c["updates_applied"].as_u64().unwrap()).sum::<u64>(), 1, "read-only");
}

/// The night's chargebacks, sent again the next morning from a renamed
/// copy: the rows already applied are counted apart, not listed as work;
/// errors.csv holds only what a person must fix; `history --runs` says
/// what each run did.
#[test]
fn the_night_sent_again_the_next_morning_is_counted_apart_and_history_lists_the_runs() {
    let sim = SimHarness::start(9, |_| {});
    let wd = Workdir::new();
    let mut night = crate::harness::add_rows(8, |i| format!("-{}.00", 20 + i));
    night.push_str("100000009,minus five\n");
    wd.write("night.csv", &night);
    wd.run(&mut run_job(&wd, &sim, "night.csv", &[]), 1);
    wd.write("morning.csv", &night);
    let out = wd.run(&mut run_job(&wd, &sim, "morning.csv", &["--summary-json", "s.json"]), 1);
    let said = stdout(&out);
    assert!(said.contains("  already applied") && said.contains("8"), "{said}");
    let results = rows(&wd.read("morning.results.csv"));
    assert_eq!(results.len(), 8);
    assert!(results.iter().all(|r| r["status"] == "already_applied"), "{results:?}");
    assert!(results[0]["error"].contains("night.csv line 2"), "names the run that applied it: {results:?}");
    let errors = rows(&wd.read("morning.errors.csv"));
    assert_eq!(errors.len(), 1, "only the row to fix: {errors:?}");
    assert_eq!(errors[0]["line"], "10");
    let summary: serde_json::Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert_eq!(summary["statuses"]["already_applied"], 8, "{summary}");
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"].as_u64().unwrap() <= 1), "each once");

    let url = sim.url();
    for since in ["today", "24h", "7d"] {
        let out = wd.run(&mut with_keys(wd.command(&["history", "--runs", "--since", since, "--base-url", &url])), 0);
        let runs = rows(&stdout(&out));
        assert_eq!(runs.len(), 2, "--since {since}: {runs:?}");
        let (first, second) = (&runs[0], &runs[1]);
        assert!(first["file"].ends_with("night.csv") && second["file"].ends_with("morning.csv"), "{runs:?}");
        assert_eq!((first["exit"].as_str(), first["rows"].as_str()), ("1", "ok=8 invalid=1"));
        assert_eq!((second["exit"].as_str(), second["rows"].as_str()), ("1", "already_applied=8 invalid=1"));
        assert_eq!((first["revenue_added"].as_str(), second["revenue_added"].as_str()), ("-188.00", "0"));
        assert!(first["who"].contains('@') && first["started"] <= second["started"], "{runs:?}");
        assert_eq!(first["input_sha256"], second["input_sha256"], "the same bytes");
        assert!(first["finished"] >= first["started"], "{runs:?}");
    }
    let out = wd.run(&mut with_keys(wd.command(&["history", "--runs", "--since", "1m", "--base-url", &url])), 0);
    assert_eq!(rows(&stdout(&out)).len(), 2, "both within the minute");
    let mut bad = with_keys(wd.command(&["history", "--runs", "--since", "last week", "--base-url", &url]));
    let out = wd.run(&mut bad, 2);
    assert!(crate::util::stderr(&out).contains("today, yesterday, 24h, 7d"), "{}", crate::util::stderr(&out));
}

/// A CRM export of dispositions with multi-line notes, run on a terminal:
/// the bar counts the file's rows (not its lines) and shows the rate the
/// run achieved (paced at 60 a second, after a burst of invalid rows).
#[test]
fn a_crm_export_with_multi_line_notes_under_a_progress_bar_counts_rows_at_the_rate_achieved() {
    let n = 240;
    let sim = SimHarness::start(n, |_| {});
    let wd = Workdir::new();
    let mut crm = String::from("Call ID,Disposition,Notes\n");
    for i in 0..40 {
        crm.push_str(&format!("not-a-call-{i},Callback,\"no id\nat all\"\n"));
    }
    for i in 0..n {
        crm.push_str(&format!(
            "{},Callback,\"Asked for Tuesday.\nPrefers mornings, \"\"not before 9\"\".\"\n",
            FIRST + i
        ));
    }
    wd.write("crm.csv", &crm);
    let url = sim.url();
    let args = [
        "run",
        "crm.csv",
        "--base-url",
        &url,
        "--rate",
        "60",
        "--map",
        "Disposition=call_disposition",
        "--map",
        "Notes=agent_call_disposition_notes",
    ];
    let (code, drawn) = crate::util::on_a_terminal(&with_keys(wd.command(&args)));
    assert_eq!(code, Some(1), "40 invalid rows: {drawn}");
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 1), "{drawn}");
    let totals: std::collections::BTreeSet<&str> =
        drawn.split(" rows").filter_map(|s| s.rsplit('/').next()).filter(|t| t.parse::<u64>().is_ok()).collect();
    assert_eq!(totals.into_iter().collect::<Vec<_>>(), ["280"], "rows, not the file's 561 lines: {drawn}");
    let rates: Vec<f64> =
        drawn.split(" rows/s").filter_map(|s| s.rsplit(' ').next().and_then(|r| r.parse::<f64>().ok())).collect();
    assert!(!rates.is_empty(), "a rate shown: {drawn}");
    assert!(rates.iter().all(|r| *r <= 75.0), "the rate achieved, near 60/s, never the first burst: {rates:?}");
    assert!(drawn.contains("ETA 0:00:0"), "{drawn}");
}
