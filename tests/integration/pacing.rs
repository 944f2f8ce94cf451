//! `--rate auto` against a simulator whose limit the job is not told: it
//! converges, loses no row, and never sends an add twice, whether the limit
//! is counted per second or over longer windows.

use std::time::Duration;

use tdrecon::sim::RateLimit;

use crate::harness::{SimHarness, by_line, run_job};
use crate::util::Workdir;

/// Odd rows add to their call, even rows set it (calls start at 0).
fn rows(n: u64) -> String {
    let mut s = String::from("id,revenue,add_revenue\n");
    for i in 0..n {
        let id = 100000001 + i;
        s.push_str(&if i % 2 == 0 { format!("{id},{i}.25,\n") } else { format!("{id},,1.50\n") });
    }
    s
}

fn check(sim: &SimHarness, wd: &Workdir, n: u64) -> serde_json::Value {
    let results = by_line(&wd.read("in.results.csv"));
    assert_eq!(results.len() as u64, n, "every row is in results.csv");
    assert!(results.values().all(|r| r["status"] == "ok"), "{:?}", results.values().find(|r| r["status"] != "ok"));
    let calls = sim.calls_by_id();
    for i in 0..n {
        let call = &calls[&(100000001 + i)];
        assert_eq!(call["updates_applied"], 1, "row {i}: {call}");
        if i % 2 == 1 {
            assert_eq!(call["revenue"], "1.50", "an add applied once");
        }
    }
    serde_json::from_str(&wd.read("s.json")).unwrap()
}

#[test]
fn auto_rate_finds_a_per_second_limit_without_losing_or_doubling_a_row() {
    const ROWS: u64 = 600;
    let sim = SimHarness::start(ROWS, |c| c.rate_limit = Some(RateLimit::per_second(80)));
    let wd = Workdir::new();
    wd.write("in.csv", rows(ROWS));
    let mut cmd = run_job(&wd, &sim, "in.csv", &["--rate", "auto", "--concurrency", "16", "--summary-json", "s.json"]);
    wd.run(&mut cmd, 0);
    let s = check(&sim, &wd, ROWS);
    let reached = s["rate_reached"].as_f64().unwrap();
    // It went well past the safe start, and the server's 429s stayed few.
    assert!(reached > 40.0 && reached <= 100.0, "{s}");
    let throttled = s["throttled"].as_u64().unwrap();
    assert!(throttled * 10 < ROWS, "{throttled} answers were 429: {s}");
}

#[test]
fn auto_rate_lives_with_a_limit_counted_over_longer_windows() {
    const ROWS: u64 = 300;
    let limit = RateLimit { per_second: 40, burst: 10, window: Duration::from_secs(3) };
    let sim = SimHarness::start(ROWS, |c| c.rate_limit = Some(limit));
    let wd = Workdir::new();
    wd.write("in.csv", rows(ROWS));
    let mut cmd = run_job(&wd, &sim, "in.csv", &["--rate", "auto", "--max-rate", "200", "--summary-json", "s.json"]);
    wd.run(&mut cmd, 0);
    let s = check(&sim, &wd, ROWS);
    assert!(s["rate_reached"].as_f64().unwrap() <= 200.0, "{s}");
}

#[test]
fn max_rate_is_never_passed() {
    const ROWS: u64 = 200;
    let sim = SimHarness::start(ROWS, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", rows(ROWS));
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--rate", "auto", "--max-rate", "40", "--summary-json", "s.json"]), 0);
    let s = check(&sim, &wd, ROWS);
    assert!(s["rate_reached"].as_f64().unwrap() <= 40.0, "{s}");
    let timeline: Vec<u64> =
        sim.state()["requests_per_100ms"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let worst = timeline.windows(10).map(|w| w.iter().sum::<u64>()).max().unwrap_or(0);
    // 40 a second and a burst of 8, with room for a loaded machine.
    assert!(worst <= 40 + 8 + 8, "{worst} requests in one second");
}
