//! A run cannot be fooled by its own files: an output that is the input (by
//! name, path, hard link or symlink), another output, a directory or a link
//! is refused before anything is read or sent; a device takes an output as
//! a stream with nothing created beside it; and a report rewritten or cut
//! short while a run reads it changes nothing that is sent.

use std::path::Path;

use crate::harness::{FIRST, SimHarness, add_rows, by_line, run_job};
use crate::util::{Workdir, spawn, stderr, stdout, wait_for};

#[test]
fn an_output_that_would_hurt_the_input_or_another_is_refused_before_anything_is_sent() {
    let sim = SimHarness::start(5, |_| {});
    let wd = Workdir::new();
    let report = add_rows(5, |_| "-2.00".into());
    wd.write("in.csv", &report);
    std::fs::create_dir(wd.path("folder")).unwrap();
    std::os::unix::fs::symlink(wd.path("in.csv"), wd.path("link.csv")).unwrap();
    std::fs::hard_link(wd.path("in.csv"), wd.path("hard.csv")).unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--results", "in.csv"], "--results in.csv is the input file"),
        (&["--errors", "./folder/../in.csv"], "is the input file"),
        (&["--summary-json", "hard.csv"], "is the input file"),
        (&["--reconcile", "--rollback", "link.csv"], "--rollback link.csv is a symbolic link"),
        (&["--results", "link.csv"], "is a symbolic link"),
        (&["--errors", "out.csv", "--results", "out.csv"], "is also --results"),
        (&["--results", "folder"], "--results folder is a directory"),
    ];
    for (extra, want) in cases {
        let out = wd.run(&mut run_job(&wd, &sim, "in.csv", extra), 2);
        assert!(stderr(&out).contains(want), "{extra:?}: {}", stderr(&out));
        assert_eq!(wd.read("in.csv"), report, "{extra:?}: the report is untouched");
    }
    // The journal beside the results is an output too.
    wd.write("r.journal", &report);
    let out = wd.run(&mut run_job(&wd, &sim, "r.journal", &["--results", "r.csv"]), 2);
    assert!(stderr(&out).contains("the journal r.journal is the input file"), "{}", stderr(&out));
    assert_eq!(sim.stat("requests"), 0, "nothing sent");
    // validate checks its outputs too.
    let out = wd.run(&mut wd.command(&["validate", "in.csv", "--errors", "hard.csv"]), 2);
    assert!(stderr(&out).contains("is the input file"), "{}", stderr(&out));
    assert_eq!(wd.read("in.csv"), report);
}

#[test]
fn a_device_takes_an_output_as_a_stream_and_nothing_is_created_beside_it() {
    let sim = SimHarness::start(5, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", add_rows(5, |_| "1.00".into()));
    let before = Path::new("/dev/null.journal").exists();
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--results", "/dev/null", "--errors", "/dev/null"]), 0);
    assert_eq!(Path::new("/dev/null.journal").exists(), before, "nothing beside /dev/null");
    assert!(wd.path("in.results.journal").exists(), "the journal lives where the results would have");
    // And it is the one a resume finds.
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--results", "/dev/null", "--resume"]), 0);
    assert!(stdout(&out).contains("ok"), "{}", stdout(&out));
    assert_eq!(sim.call(FIRST)["updates_applied"], 1);
    // A plan and a rehearsal leave no lock file beside the report either.
    wd.run(&mut crate::harness::plan_job(&wd, &sim, "in.csv", &[]), 0);
    wd.run(&mut wd.command(&["run", "in.csv", "--sandbox", "--quiet", "--results", "sandbox.csv"]), 0);
    let locks: Vec<String> = std::fs::read_dir(wd.path("."))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert!(locks.is_empty(), "{locks:?}");
}

/// The report rewritten in place, then cut short, while the run reads it:
/// every row sent comes from the copy taken at the start (the journal's
/// digest describes it), none is lost, and the summary says it changed
/// (exit 1: somebody should look).
#[test]
fn a_report_rewritten_or_truncated_mid_run_sends_only_what_was_hashed() {
    const N: u64 = 1500;
    let sim = SimHarness::start(N, |c| c.faults.latency = std::time::Duration::from_millis(2));
    let wd = Workdir::new();
    wd.write("in.csv", add_rows(N, |_| "-1.00".into()));
    let child = spawn(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "4", "--rate", "500"]));
    let applied = || sim.calls_by_id().values().filter(|c| c["updates_applied"].as_u64() > Some(0)).count();
    wait_for("rows applied", || applied() >= 50);
    // Rewritten in place (same name, other amounts), then truncated.
    std::fs::write(wd.path("in.csv"), add_rows(N, |_| "-9.00".into())).unwrap();
    std::fs::OpenOptions::new().write(true).open(wd.path("in.csv")).unwrap().set_len(200).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "said, not a success: {}\n{}", stdout(&out), stderr(&out));
    let results = by_line(&wd.read("in.results.csv"));
    assert_eq!(results.len() as u64, N, "every row of the hashed file");
    assert!(results.values().all(|r| r["status"] == "ok"));
    let calls = sim.calls_by_id();
    for i in 0..N {
        assert_eq!(calls[&(FIRST + i)]["revenue"], "-1.00", "call {i}: only the hashed amount");
    }
    assert!(stdout(&out).contains("INPUT CHANGED: in.csv changed while the run read it"), "{}", stdout(&out));
}
