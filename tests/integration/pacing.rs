//! `--rate auto` against a simulator whose limit the job is not told: it
//! converges, loses no row, and never sends an add twice, whether the limit
//! is counted per second or over longer windows; and the next run starts
//! from the limit the last one found.

use std::time::Duration;

use tdrecon::sim::RateLimit;

use crate::harness::{PRIVATE, PUBLIC, SimHarness, by_line, run_job};
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
    let limit = RateLimit { per_second: 40, burst: 10, period: Duration::from_secs(3) };
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

/// Set-only rows for calls `first..first + n`.
fn set_rows(first: u64, n: u64) -> String {
    let mut s = String::from("id,revenue\n");
    for i in first..first + n {
        s.push_str(&format!("{},{}.10\n", 100000001 + i, i % 97));
    }
    s
}

/// The rate memory files in the test's state directory.
fn memories(wd: &Workdir) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(wd.path("state")) {
        Ok(dir) => dir.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn the_next_run_starts_from_the_limit_the_last_one_found() {
    const ROWS: u64 = 240;
    let sim = SimHarness::start(3 * ROWS, |c| c.rate_limit = Some(RateLimit::per_second(60)));
    let wd = Workdir::new();
    wd.write("a.csv", set_rows(0, ROWS));
    wd.write("b.csv", set_rows(ROWS, ROWS));
    wd.write("c.csv", set_rows(2 * ROWS, 20));

    // A dry run sends nothing and learns nothing.
    wd.run(&mut run_job(&wd, &sim, "a.csv", &["--rate", "auto", "--dry-run", "--results", "dry.csv"]), 0);
    assert!(memories(&wd).is_empty(), "a dry run kept a rate");

    // The first run finds the limit and keeps it, without the keys.
    wd.run(&mut run_job(&wd, &sim, "a.csv", &["--rate", "auto", "--summary-json", "a.json"]), 0);
    let a: serde_json::Value = serde_json::from_str(&wd.read("a.json")).unwrap();
    assert!(a["rate_remembered"].is_null() && a["rate_start"] == 10.0, "{a}");
    let files = memories(&wd);
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!text.contains(PUBLIC) && !text.contains(PRIVATE) && !files[0].to_string_lossy().contains(PUBLIC));
    let kept: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ceiling = kept["ceiling"].as_f64().unwrap_or_else(|| panic!("no 429 at 60/s? {kept} {a}"));
    assert!((30.0..=200.0).contains(&ceiling), "{kept}");
    assert_eq!(kept["target"], sim.url());

    // The next starts just under it instead of at 10/s, and says so.
    let out = wd.run(&mut run_job(&wd, &sim, "b.csv", &["--rate", "auto", "--summary-json", "b.json"]), 0);
    let b: serde_json::Value = serde_json::from_str(&wd.read("b.json")).unwrap();
    assert_eq!(b["rate_remembered"], kept["at"], "{b}");
    let start = b["rate_start"].as_f64().unwrap();
    assert!((start - (ceiling * 0.97).min(100.0)).abs() < 0.1, "{start} from {ceiling}: {b}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = stdout.split("started at ").nth(1).and_then(|rest| rest.split_once("/s (the limit found "));
    let said: f64 = said.unwrap_or_else(|| panic!("{stdout}")).0.parse().unwrap();
    assert!((said - start).abs() <= 1.0, "{stdout}");
    let results = by_line(&wd.read("b.results.csv"));
    assert_eq!(results.len() as u64, ROWS);
    assert!(results.values().all(|r| r["status"] == "ok"));

    // A damaged memory is said, ignored, and replaced by what this run found.
    std::fs::write(&files[0], "{\"version\": 1, \"ceil").unwrap();
    let out = wd.run(&mut run_job(&wd, &sim, "c.csv", &["--rate", "auto", "--summary-json", "c.json"]), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a rate memory tdrecon wrote"), "{stderr}");
    let c: serde_json::Value = serde_json::from_str(&wd.read("c.json")).unwrap();
    assert!(c["rate_remembered"].is_null() && c["rate_start"] == 10.0, "{c}");
    let kept: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(kept["version"], 1, "{kept}");
    for id in 0..2 * ROWS + 20 {
        assert_eq!(sim.call(100000001 + id)["updates_applied"], 1, "call {id}");
    }
}
