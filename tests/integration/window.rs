//! Fewer requests a night: with `--reconcile` and call times in the file (or
//! `--since`/`--until`), the calls of the window are read in pages and each
//! row needs no GET of its own; calls outside the window are read one by one.

use tdrecon::sim::SimConfig;

use crate::harness::{SimHarness, by_line, plan_job, run_job};
use crate::util::Workdir;

/// One row per call: half already hold the file's revenue (0.00), half get 5.00.
fn report(sim: &SimHarness, with_times: bool) -> String {
    let mut calls: Vec<(u64, String)> =
        sim.calls_by_id().into_iter().map(|(id, c)| (id, c["created_at"].as_str().unwrap().to_string())).collect();
    calls.sort();
    let mut s = String::from(if with_times { "call_id,call_time,revenue\n" } else { "call_id,revenue\n" });
    for (i, (id, at)) in calls.iter().enumerate() {
        let revenue = if i % 2 == 0 { "0.00" } else { "5.00" };
        s.push_str(&if with_times { format!("{id},{at},{revenue}\n") } else { format!("{id},{revenue}\n") });
    }
    s
}

fn counts(wd: &Workdir) -> (usize, usize) {
    let results = by_line(&wd.read("in.results.csv"));
    let ok = results.values().filter(|r| r["status"] == "ok").count();
    let unchanged = results.values().filter(|r| r["status"] == "unchanged").count();
    (ok, unchanged)
}

#[test]
fn a_window_read_in_pages_replaces_a_get_per_row() {
    const CALLS: u64 = 2000;
    // Without call times: a GET and, for half, a PUT per row.
    let sim = SimHarness::start(CALLS, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", report(&sim, false));
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--concurrency", "16"]), 0);
    assert_eq!(counts(&wd), (1000, 1000));
    let per_row = sim.stat("requests");
    assert_eq!(per_row, 1 + 2000 + 1000, "the first read, a GET a row, a PUT a changed row");

    // With them: pages of the day's calls, then a PUT a changed row.
    let sim = SimHarness::start(CALLS, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", report(&sim, true));
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--concurrency", "16"]), 0);
    assert_eq!(counts(&wd), (1000, 1000));
    let windowed = sim.stat("requests");
    // A few more: the first read, and the window's pages read again after
    // the run (the control totals).
    assert!(windowed <= 1 + 2 * (2000 / 100 + 1) + 1000, "{windowed} requests");
    let results = by_line(&wd.read("in.results.csv"));
    assert!(results.values().all(|r| !r["revenue_before"].is_empty()), "before-values come from the window");
}

#[test]
fn a_server_that_sends_smaller_pages_is_followed_and_calls_outside_the_window_are_read_one_by_one() {
    const CALLS: u64 = 300;
    let sim = SimHarness::start(CALLS, |c: &mut SimConfig| c.max_per_page = 40);
    let wd = Workdir::new();
    wd.write("in.csv", report(&sim, false));
    // The window is the last hour only: most calls came earlier in the day.
    let since_ts = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(1)).unwrap();
    let since = since_ts.to_string();
    let args = ["--reconcile", "--since", &since, "--page-size", "100"];
    wd.run(&mut run_job(&wd, &sim, "in.csv", &args), 0);
    assert_eq!(counts(&wd), (150, 150));
    let in_window = sim
        .calls_by_id()
        .values()
        .filter(|c| c["created_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap() >= since_ts)
        .count() as u64;
    let pages = in_window.div_ceil(40).max(1);
    // The pages (before, the run's authenticated first read, and again after
    // for the control totals), a GET for each call outside, a PUT a changed row.
    assert_eq!(sim.stat("requests"), 2 * pages + (CALLS - in_window) + 150, "{in_window} calls in the window");
}

/// A store of four calls at known times from known numbers.
fn callers_store(t: jiff::Timestamp) -> tdrecon::sim::Store {
    let mut store = tdrecon::sim::Store::default();
    let calls = [
        (200000001, "+17191231234", 0),
        (200000002, "+17195550000", 0),
        (200000003, "+17195550000", 2),
        (200000004, "+13035550100", 60),
    ];
    for (id, caller, minutes) in calls {
        let mut call = tdrecon::sim::Call::new(id, tdrecon::sim::store::uuid_for(id));
        call.created_at_ms = t.as_millisecond() + minutes * 60_000;
        call.caller_number = caller.to_string();
        store.insert(call);
    }
    store
}

#[test]
fn rows_without_ids_are_matched_by_caller_number_and_call_time_never_guessed() {
    let t = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(2)).unwrap();
    let sim = SimHarness::start(0, |c: &mut SimConfig| c.store = callers_store(t));
    let at = |minutes: i64| t.checked_add(jiff::SignedDuration::from_mins(minutes)).unwrap();
    // The Denver row gives its local time without an offset.
    let denver = at(61).to_zoned_datetime(jiff::tz::TimeZone::get("America/Denver").unwrap()).datetime();
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        format!(
            "Caller Number,Call Time,Revenue\n\
             (719) 123-1234,{},10.00\n\
             719-555-0000,{},11.00\n\
             +13035550100,{},12.00\n\
             +19995550123,{},13.00\n",
            at(1),
            at(1),
            denver.strftime("%Y-%m-%d %H:%M:%S"),
            at(0),
        ),
    );
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--time-zone", "America/Denver"]), 1);
    let results = by_line(&wd.read("in.results.csv"));
    assert_eq!((results[&2]["id"].as_str(), results[&2]["status"].as_str()), ("200000001", "ok"));
    assert_eq!((results[&4]["id"].as_str(), results[&4]["status"].as_str()), ("200000004", "ok"));
    assert_eq!(sim.call(200000001)["revenue"], "10.00");
    assert_eq!(sim.call(200000004)["revenue"], "12.00");
    let errors = crate::harness::rows(&wd.read("in.errors.csv"));
    let reasons: Vec<(&str, &str)> = errors.iter().map(|r| (r["line"].as_str(), r["reason"].as_str())).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "3");
    assert!(reasons[0].1.contains("2 calls from +17195550000") && reasons[0].1.contains("ids 200000002, 200000003"));
    assert_eq!(reasons[1].0, "5");
    assert!(reasons[1].1.starts_with("no call from +19995550123 within 5m of"), "{reasons:?}");
    assert_eq!(errors[0]["column"], "Caller Number");
    // Neither ambiguous call was touched.
    assert_eq!(sim.call(200000002)["updates_applied"], 0);
    assert_eq!(sim.call(200000003)["updates_applied"], 0);
    // validate says the rows are matched by `run`, and refuses none of them.
    let out = wd.run(&mut wd.command(&["validate", "in.csv"]), 0);
    assert!(crate::util::stdout(&out).contains("matched to their call by caller_number and call_time"));
}

#[test]
fn plan_reads_and_writes_what_run_would_change_and_run_then_applies_only_that() {
    let sim = SimHarness::start(4, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", "id,revenue,add_revenue\n100000001,0.00,\n100000002,5.00,\n100000003,,1.50\n100000004,abc,\n");
    let out = wd.run(&mut plan_job(&wd, &sim, "in.csv", &[]), 0);
    let plan = by_line(&wd.read("in.plan.csv"));
    assert_eq!(plan[&2]["status"], "unchanged");
    assert_eq!(
        (plan[&3]["status"].as_str(), plan[&3]["revenue_before"].as_str(), plan[&3]["revenue_after"].as_str()),
        ("would_change", "0.00", "5.00")
    );
    assert_eq!(plan[&3]["revenue_change"], "5.00");
    assert_eq!((plan[&4]["revenue_after"].as_str(), plan[&4]["revenue_change"].as_str()), ("1.50", "1.50"));
    assert!(
        crate::util::stdout(&out).contains("totals: revenue 0.00 -> 6.50 (+6.50)"),
        "{}",
        crate::util::stdout(&out)
    );
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 0), "a plan sends no update");
    assert_eq!(sim.stat("requests"), 1 + 3, "the first read and a GET a valid row");
    // run afterwards sends only what still differs.
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile"]), 1);
    let results = by_line(&wd.read("in.results.csv"));
    assert_eq!(results[&2]["status"], "unchanged");
    assert_eq!((results[&3]["status"].as_str(), results[&4]["status"].as_str()), ("ok", "ok"));
}

#[test]
fn control_totals_check_the_window_against_what_the_rows_moved() {
    let sim = SimHarness::start(50, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", report(&sim, true));
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile", "--summary-json", "s.json"]), 0);
    let text = crate::util::stdout(&out);
    // 25 rows set 5.00 each: TrackDrive's window moved by 125.00, as the rows did.
    assert!(text.contains("control totals (TrackDrive, the window's"), "{text}");
    assert!(text.contains("read before and after): revenue 0.00 -> 125.00 (+125.00)"), "{text}");
    assert!(!text.contains("DIFFER"), "{text}");
    let s: serde_json::Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert_eq!(s["control_totals"]["agrees"], true, "{s}");
}
