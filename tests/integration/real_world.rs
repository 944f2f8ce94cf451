//! Never twice in the real world: what a real server and a real operator do
//! that the simulator used not to. A server whose clock runs five minutes
//! apart, whose audit log types or nests params otherwise, pages its events,
//! or does not record parameters it does not know; an identical legitimate
//! file right after another; a server that refuses the reference. Real
//! processes; the simulator's state says how often each call was changed.

use std::time::Duration;

use tdrecon::sim::FaultConfig;
use tdrecon::sim::audit::{AuditStyle, Typed};

use crate::harness::{FIRST, SimHarness, by_line, run_job};
use crate::util::{Workdir, spawn_quiet, stdout, wait_for};

/// `n` rows adding 1.25 to their own call, setting its flag and a contact
/// field (so the log's typing of flags and tokens matters).
fn rich_adds(n: u64) -> String {
    let mut s = String::from("id,add_revenue,buyer_converted,token:zip\n");
    for i in 0..n {
        s.push_str(&format!("{},1.25,yes,9{i:04}\n", FIRST + i));
    }
    s
}

fn statuses(wd: &Workdir) -> std::collections::BTreeMap<String, usize> {
    crate::harness::statuses(&wd.read("in.results.csv"))
}

/// Adds whose answers are lost (some applied then stalled past the
/// timeout, some dropped before applying) are settled in the run, each by
/// its own reference in the call's audit log, under each way a real log may
/// differ: applied (ok), or not applied and sent once more.
#[test]
fn adds_in_doubt_settle_by_their_reference_whatever_the_clock_typing_nesting_or_paging() {
    const ROWS: u64 = 40;
    let five_minutes = 5 * 60 * 1000;
    let variants: Vec<(&str, i64, AuditStyle, usize)> = vec![
        ("the server's clock 5 minutes behind", -five_minutes, AuditStyle::default(), 0),
        ("the server's clock 5 minutes ahead", five_minutes, AuditStyle::default(), 0),
        ("\"1\" for true", 0, AuditStyle { typed: Typed::Ones, ..AuditStyle::default() }, 0),
        ("values as sent", 0, AuditStyle { typed: Typed::AsSent, ..AuditStyle::default() }, 0),
        ("tokens as a JSON string", 0, AuditStyle { tokens_as_text: true, ..AuditStyle::default() }, 0),
        ("params nested under call", 0, AuditStyle { nested: true, ..AuditStyle::default() }, 0),
        ("events in pages of 1", -five_minutes, AuditStyle::default(), 1),
    ];
    for (name, offset, audit, per_page) in variants {
        let sim = SimHarness::start(ROWS, |c| {
            c.faults = FaultConfig {
                seed: 21,
                apply_then_stall: 0.25,
                reset_before_apply: 0.1,
                stall: Duration::from_secs(3),
                ..FaultConfig::default()
            };
            c.shape.clock_offset_ms = offset;
            c.shape.audit = audit.clone();
            c.shape.events_per_page = per_page;
        });
        let wd = Workdir::new();
        wd.write("in.csv", rich_adds(ROWS));
        wd.run(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "8", "--timeout", "500ms"]), 0);
        assert_eq!(statuses(&wd).get("ok"), Some(&(ROWS as usize)), "{name}: {:?}", statuses(&wd));
        assert!(sim.applied(ROWS).iter().all(|&n| n == 1), "{name}: every add once: {:?}", sim.applied(ROWS));
        let results = by_line(&wd.read("in.results.csv"));
        let by_log = results.values().filter(|r| r["error"].contains("audit log")).count();
        assert!(by_log >= 5, "{name}: the faults were exercised and settled from the log: {by_log}");
        // What checking and settling cost: each add's audit log read before
        // it is sent, then again for each row in doubt (as the documented
        // answer carries no paging metadata, a second page is asked for to
        // see the log ends there), a second look at a row whose request timed
        // out once the lag has passed, and the proof that the log records
        // references (a row the run applied).
        let reads = sim.stat("event_reads");
        if per_page == 0 {
            let most = 2 * ROWS + 4 * by_log as u64 + 2;
            assert!(reads <= most, "{name}: {reads} event reads for {ROWS} adds, {by_log} in doubt");
        } else {
            assert!(reads > by_log as u64, "{name}: paged, so more than one read a row: {reads}");
        }
    }
}

/// A `--reconcile` run killed with -9 mid-flight and resumed, under a
/// clock five minutes behind: every add applied exactly once.
#[test]
fn a_killed_reconcile_run_resumed_under_a_skewed_clock_applies_every_add_once() {
    const ROWS: u64 = 400;
    for seed in 1..=3u64 {
        let sim = SimHarness::start(ROWS, |c| {
            c.faults = FaultConfig {
                latency: Duration::from_millis(3),
                latency_jitter: Duration::from_millis(5),
                ..FaultConfig::default()
            };
            c.shape.clock_offset_ms = -5 * 60 * 1000;
        });
        let wd = Workdir::new();
        wd.write("in.csv", rich_adds(ROWS));
        let mut child = spawn_quiet(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "16", "--reconcile"]));
        let done = || sim.applied(ROWS).iter().filter(|&&n| n > 0).count() as u64;
        wait_for("rows applied", || done() >= 40 * seed);
        let _ = child.kill();
        let _ = child.wait();
        wd.run(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "16", "--resume", "--reconcile"]), 0);
        assert_eq!(statuses(&wd).get("ok"), Some(&(ROWS as usize)), "seed {seed}: {:?}", statuses(&wd));
        assert!(sim.applied(ROWS).iter().all(|&n| n == 1), "seed {seed}: {:?}", sim.applied(ROWS));
    }
}

/// An identical chargeback file right after another (the operator meant
/// both): the second's rows meet 503s. Neither the first file's identical
/// entries nor a clock five minutes ahead makes them look applied: every
/// add lands exactly twice, once per file, and none is lost.
#[test]
fn an_identical_file_right_after_another_is_not_mistaken_for_it() {
    const ROWS: u64 = 10;
    let sim = SimHarness::start(ROWS, |c| c.shape.clock_offset_ms = 5 * 60 * 1000);
    let wd = Workdir::new();
    let chargebacks = crate::harness::add_rows(ROWS, |_| "-25.00".into());
    wd.write("first.csv", &chargebacks);
    wd.write("in.csv", &chargebacks);
    wd.run(&mut run_job(&wd, &sim, "first.csv", &["--reconcile"]), 0);
    // Every update the second file sends meets a 503 (not applied).
    sim.set_faults(FaultConfig { fail_5xx: 1.0, ..FaultConfig::default() });
    let extra = ["--allow-repeat", "--max-retries", "1"];
    let out = wd.run_any(&mut run_job(&wd, &sim, "in.csv", &extra), &[1, 3]);
    // Each 503 is settled by the row's own reference, missing from the log:
    // not applied (the first file's identical entries carry other
    // references), so `failed`, never `ok`.
    let counts = statuses(&wd);
    assert!(counts.contains_key("failed") && !counts.contains_key("ok"), "{}", stdout(&out));
    assert!(sim.calls_by_id().values().all(|c| c["updates_applied"] == 1), "the second file applied nothing yet");
    sim.set_faults(FaultConfig::default());
    let resume = [&extra[..], &["--resume", "--reconcile"]].concat();
    wd.run(&mut run_job(&wd, &sim, "in.csv", &resume), 0);
    assert_eq!(statuses(&wd).get("ok"), Some(&(ROWS as usize)), "{:?}", statuses(&wd));
    let calls = sim.calls_by_id();
    for i in 0..ROWS {
        let call = &calls[&(FIRST + i)];
        assert_eq!((call["updates_applied"].as_u64(), call["revenue"].as_str()), (Some(2), Some("-50.00")), "call {i}");
    }
}

/// A server that does not record parameters it does not know: references
/// cannot settle anything, and nothing is resent on their absence.
#[test]
fn without_references_in_the_log_nothing_is_resent_on_absence() {
    const ROWS: u64 = 40;
    let sim = SimHarness::start(ROWS, |c| {
        c.faults = FaultConfig {
            seed: 4,
            apply_then_stall: 0.25,
            reset_before_apply: 0.15,
            stall: Duration::from_secs(3),
            ..FaultConfig::default()
        };
        c.shape.audit.known_only = true;
        c.shape.clock_offset_ms = -5 * 60 * 1000;
    });
    let wd = Workdir::new();
    wd.write("in.csv", rich_adds(ROWS));
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "8", "--timeout", "500ms"]), 1);
    sim.set_faults(FaultConfig::default());
    wd.run_any(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "8", "--resume", "--reconcile"]), &[0, 1]);
    let results = by_line(&wd.read("in.results.csv"));
    let counts = sim.applied(ROWS);
    for (line, r) in &results {
        let n = counts[(line - 2) as usize];
        assert!(n <= 1, "line {line} applied {n} times");
        match r["status"].as_str() {
            "ok" => assert_eq!(n, 1, "line {line} ok but not applied"),
            // Honest doubt: never applied, and not sent again on a guess.
            "unknown" => assert!(r["error"].contains("audit log"), "{r:?}"),
            other => panic!("line {line}: {other} {r:?}"),
        }
    }
    // The stalled rows were applied: their entries since the intent, by the
    // server's own clock five minutes behind, show it.
    assert!(results.values().any(|r| r["error"].contains("verified in the call's audit log")), "{results:?}");
}

/// A server that refuses a parameter it does not know: the first write
/// carrying the reference goes alone and is refused; nothing else is sent;
/// the job says which switch sends without it, and a resume with it ends the file.
#[test]
fn a_server_that_refuses_the_reference_stops_at_its_first_answer() {
    let sim = SimHarness::start(30, |c| c.shape.refuse_unknown = true);
    let wd = Workdir::new();
    wd.write("in.csv", crate::harness::add_rows(30, |_| "2.00".into()));
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "8"]), 3);
    let text = stdout(&out);
    assert!(text.contains("refused the parameter tdrecon_ref") && text.contains("--no-reference"), "{text}");
    assert_eq!(sim.stat("requests"), 4, "the first read, the first add's audit log (two pages) and one update");
    assert!(sim.applied(30).iter().all(|&n| n == 0));
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "8", "--resume", "--no-reference"]), 0);
    assert!(sim.applied(30).iter().all(|&n| n == 1), "{:?}", sim.applied(30));
}
