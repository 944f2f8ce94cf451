//! Never twice by identity, not by spelling: a call is its numeric id
//! however a row names it, an account is its host whatever key is used,
//! and TrackDrive's audit log (the record every machine shares) is read
//! before an add goes out, so a lost ledger or another machine's run cannot
//! let a chargeback through twice. Each case ends with every add applied
//! exactly once and the refusal naming the first run.

use crate::harness::{FIRST, PRIVATE, PUBLIC, SimHarness, by_line, rows, run_job, with_keys};
use crate::util::{Workdir, stderr, stdout};

/// One chargeback on call `FIRST + 1`, named by `id` (its id or its UUID).
fn chargeback(id: &str) -> String {
    format!("id,add_revenue\n{id},-25.00\n")
}

/// The run that applied call `FIRST + 1`'s update, by the history of the
/// ledger in `wd`'s state directory.
fn first_run(wd: &Workdir, sim: &SimHarness) -> String {
    let url = sim.url();
    let call = (FIRST + 1).to_string();
    let out = wd.run(&mut with_keys(wd.command(&["history", &call, "--base-url", &url])), 0);
    let shown = rows(&stdout(&out));
    assert_eq!(shown.len(), 1, "{shown:?}");
    shown[0]["run"].clone()
}

/// The call took its chargeback once, and `file`'s row was refused naming `run`.
fn refused_naming(wd: &Workdir, sim: &SimHarness, file_stem: &str, run: &str) {
    let call = sim.call(FIRST + 1);
    assert_eq!((call["updates_applied"].as_u64(), call["revenue"].as_str()), (Some(1), Some("-25.00")), "{call}");
    let results = wd.read(&format!("{file_stem}.results.csv"));
    let errors = wd.read(&format!("{file_stem}.errors.csv"));
    let all = format!("{results}\n{errors}");
    assert!(all.contains("repeats") && all.contains(run) && all.contains("--allow-repeat"), "{all}");
}

#[test]
fn one_call_named_by_id_then_by_uuid_takes_its_chargeback_once() {
    for (name, flags) in [
        ("plain", &[][..]),
        ("--reconcile", &["--reconcile"][..]),
        ("a window that knows the UUID", &["--reconcile", "--since", "2000-01-01T00:00:00Z"][..]),
    ] {
        // Either way round: the id first, or the UUID (any case) first.
        for uuid_first in [false, true] {
            let sim = SimHarness::start(3, |_| {});
            let wd = Workdir::new();
            let uuid = sim.call(FIRST + 1)["uuid"].as_str().unwrap().to_string();
            wd.write("by-id.csv", chargeback(&(FIRST + 1).to_string()));
            wd.write("by-uuid.csv", chargeback(&uuid.to_uppercase()));
            let (first, second) = if uuid_first { ("by-uuid", "by-id") } else { ("by-id", "by-uuid") };
            wd.run(&mut run_job(&wd, &sim, &format!("{first}.csv"), flags), 0);
            let run = first_run(&wd, &sim);
            let out = wd.run(&mut run_job(&wd, &sim, &format!("{second}.csv"), flags), 0);
            refused_naming(&wd, &sim, second, &run);
            // Held back before anything was sent, by the ledger that keys it
            // by id: what happened, not a row to fix.
            assert_eq!(rows(&wd.read(&format!("{second}.errors.csv"))).len(), 0, "{name}");
            let results = by_line(&wd.read(&format!("{second}.results.csv")));
            assert_eq!(results[&2]["status"], "already_applied", "{name}: {}", stdout(&out));
            assert!(results[&2]["error"].contains(&format!("call {}", FIRST + 1)), "{name}: {results:?}");
            // History shows the call by its id, and the UUID a row named it by.
            if uuid_first {
                let url = sim.url();
                let mut history = with_keys(wd.command(&["history", &uuid, "--base-url", &url]));
                let shown = rows(&stdout(&wd.run(&mut history, 0)));
                assert_eq!(shown.len(), 1, "{name}: looked up by its UUID: {shown:?}");
                assert_eq!((shown[0]["call"].as_str(), shown[0]["uuid"].as_str()), (&*(FIRST + 1).to_string(), &*uuid));
            }
        }
    }
}

#[test]
fn two_rows_of_one_file_naming_one_call_two_ways_are_a_repeat() {
    let sim = SimHarness::start(3, |_| {});
    let wd = Workdir::new();
    let uuid = sim.call(FIRST + 1)["uuid"].as_str().unwrap().to_string();
    wd.write("in.csv", format!("id,add_revenue\n{},-25.00\n{uuid},-25.00\n", FIRST + 1));
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &[]), 1);
    let errors = rows(&wd.read("in.errors.csv"));
    assert_eq!(errors.len(), 1, "{}", stdout(&out));
    assert_eq!(errors[0]["line"], "3");
    assert!(errors[0]["reason"].contains(&format!("which is call {}", FIRST + 1)), "{errors:?}");
    assert!(errors[0]["reason"].contains("already appears on line 2"), "{errors:?}");
    assert_eq!(sim.call(FIRST + 1)["updates_applied"], 1);
    // The UUID's id was read once, and said.
    assert!(stdout(&out).contains("1 call read to key rows named by UUID by id"), "{}", stdout(&out));
}

#[test]
fn rotated_keys_and_another_spelling_of_the_host_are_one_account() {
    // A simulator that takes any key: the account's keys were rotated.
    let sim = SimHarness::start(3, |c| c.keys = None);
    let wd = Workdir::new();
    wd.write("night.csv", chargeback(&(FIRST + 1).to_string()));
    wd.write("again.csv", chargeback(&(FIRST + 1).to_string()));
    wd.write("third.csv", chargeback(&(FIRST + 1).to_string()));
    wd.run(&mut run_job(&wd, &sim, "night.csv", &[]), 0);
    let run = first_run(&wd, &sim);
    let mut rotated = run_job(&wd, &sim, "again.csv", &[]);
    rotated.env("TRACKDRIVE_PUBLIC_KEY", "pk_rotated").env("TRACKDRIVE_PRIVATE_KEY", "sk_rotated");
    let out = wd.run(&mut rotated, 0);
    refused_naming(&wd, &sim, "again", &run);
    assert!(
        by_line(&wd.read("again.results.csv"))[&2]["error"].contains("an earlier run applied"),
        "the ledger, not only the log"
    );
    assert!(stdout(&out).contains("already applied"), "{}", stdout(&out));
    // `localhost` for `127.0.0.1`: the same simulator, the same ledger.
    let url = sim.url().replace("127.0.0.1", "localhost");
    let mut cmd = with_keys(wd.command(&["run", "third.csv", "--base-url", &url, "--quiet", "--rate", "0"]));
    let out = wd.run(&mut cmd, 0);
    refused_naming(&wd, &sim, "third", &run);
    assert!(stdout(&out).contains("already applied"), "{}", stdout(&out));
    let ledgers = std::fs::read_dir(wd.path("state/ledgers")).unwrap().flatten().count();
    assert_eq!(ledgers, 2, "one ledger (and its id) for the account");
}

#[test]
fn a_ledger_deleted_or_emptied_is_said_and_the_audit_log_still_refuses() {
    for how in ["deleted", "emptied"] {
        let sim = SimHarness::start(3, |_| {});
        let wd = Workdir::new();
        wd.write("night.csv", chargeback(&(FIRST + 1).to_string()));
        wd.write("again.csv", chargeback(&(FIRST + 1).to_string()));
        wd.run(&mut run_job(&wd, &sim, "night.csv", &[]), 0);
        let run = first_run(&wd, &sim);
        let ledger = std::fs::read_dir(wd.path("state/ledgers"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "sqlite"))
            .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", ledger.display()));
            match how {
                "deleted" => drop(std::fs::remove_file(&file)),
                _ if file.exists() => std::fs::write(&file, "").unwrap(),
                _ => {}
            }
        }
        let out = wd.run(&mut run_job(&wd, &sim, "again.csv", &["--summary-json", "s.json"]), 0);
        refused_naming(&wd, &sim, "again", &run);
        let text = stdout(&out);
        assert!(text.contains("the ledger was started fresh") && text.contains("audit log"), "{how}: {text}");
        let summary: serde_json::Value = serde_json::from_str(&wd.read("s.json")).unwrap();
        assert_eq!(summary["never_twice"]["ledger"]["state"], "lost", "{how}");
        assert_eq!(summary["never_twice"]["log_refused"], 1, "{how}");
        // Refused at send time, from the audit log.
        let results = by_line(&wd.read("again.results.csv"));
        assert!(results[&2]["error"].contains("TrackDrive's audit log shows"), "{how}: {results:?}");
    }
}

#[test]
fn another_machine_sending_the_same_report_later_is_refused_by_the_audit_log() {
    let sim = SimHarness::start(12, |_| {});
    let cron = Workdir::new();
    let laptop = Workdir::new();
    let mut report = String::from("id,add_revenue\n");
    for i in 0..10 {
        report.push_str(&format!("{},-25.00\n", FIRST + i));
    }
    cron.write("night.csv", &report);
    laptop.write("night.csv", &report);
    // Two machines: two state directories, two ledgers.
    cron.run(&mut run_job(&cron, &sim, "night.csv", &[]), 0);
    let out = laptop.run(&mut run_job(&laptop, &sim, "night.csv", &["--summary-json", "s.json"]), 0);
    assert!(sim.applied(10).iter().all(|&n| n == 1), "{:?}\n{}", sim.applied(10), stdout(&out));
    let results = by_line(&laptop.read("night.results.csv"));
    assert_eq!(results.len(), 10);
    let url = sim.url();
    let history = rows(&stdout(
        &cron.run(&mut with_keys(cron.command(&["history", "--since", "2020-01-01", "--base-url", &url])), 0),
    ));
    let run = &history[0]["run"];
    for r in results.values() {
        assert_eq!(r["status"], "already_applied", "{r:?}");
        assert!(r["error"].contains(&format!("by tdrecon run {run}")), "{r:?}");
    }
    let summary: serde_json::Value = serde_json::from_str(&laptop.read("s.json")).unwrap();
    assert_eq!(summary["never_twice"]["log_checks"], 10);
    assert_eq!(summary["never_twice"]["ledger"]["state"], "new");
    // With --allow-repeat the operator means it: sent.
    laptop.run(&mut run_job(&laptop, &sim, "night.csv", &["--restart", "--allow-repeat"]), 0);
    assert!(sim.applied(10).iter().all(|&n| n == 2));
    assert!(!stderr(&out).contains(PRIVATE) && !stdout(&out).contains(PUBLIC));
}

#[test]
fn a_ledger_named_the_earlier_way_is_adopted_with_its_history() {
    let sim = SimHarness::start(3, |_| {});
    let wd = Workdir::new();
    wd.write("night.csv", chargeback(&(FIRST + 1).to_string()));
    wd.write("again.csv", chargeback(&(FIRST + 1).to_string()));
    wd.run(&mut run_job(&wd, &sim, "night.csv", &[]), 0);
    let run = first_run(&wd, &sim);
    // As an earlier version named it: by URL and public key, no id beside it.
    let dir = wd.path("state/ledgers");
    let current = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sqlite"))
        .unwrap();
    let earlier = dir.join(format!("ledger-{}.sqlite", tdrecon::records::state::earlier_key(&sim.url(), PUBLIC)));
    std::fs::rename(&current, &earlier).unwrap();
    std::fs::remove_file(current.with_extension("id")).unwrap();
    assert_eq!(first_run(&wd, &sim), run, "history finds the adopted ledger");
    assert!(!earlier.exists() && current.exists());
    let out = wd.run(&mut run_job(&wd, &sim, "again.csv", &[]), 0);
    assert!(stdout(&out).contains("already applied"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("started fresh"), "{}", stdout(&out));
    refused_naming(&wd, &sim, "again", &run);
}

#[test]
fn without_references_an_identical_change_from_anyone_is_refused_saying_so() {
    let sim = SimHarness::start(3, |_| {});
    let (one, two) = (Workdir::new(), Workdir::new());
    one.write("night.csv", chargeback(&(FIRST + 1).to_string()));
    two.write("night.csv", chargeback(&(FIRST + 1).to_string()));
    one.run(&mut run_job(&one, &sim, "night.csv", &["--no-reference"]), 0);
    two.run(&mut run_job(&two, &sim, "night.csv", &["--no-reference"]), 0);
    assert_eq!(sim.call(FIRST + 1)["updates_applied"], 1);
    let results = by_line(&two.read("night.results.csv"));
    assert!(results[&2]["error"].contains("it may be someone else's"), "{results:?}");
}

#[test]
fn an_audit_log_that_cannot_be_read_sends_no_add_and_a_resume_finishes() {
    let sim = SimHarness::start(6, |c| c.faults.events_down = true);
    let wd = Workdir::new();
    wd.write("in.csv", format!("id,add_revenue,revenue\n{},-25.00,\n{},,7.00\n", FIRST + 1, FIRST + 2));
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--max-retries", "1"]), 1);
    let results = by_line(&wd.read("in.results.csv"));
    assert_eq!(results[&2]["status"], "failed", "{}", stdout(&out));
    assert!(results[&2]["error"].contains("not sent") && results[&2]["error"].contains("safe to run again"));
    assert_eq!(results[&3]["status"], "ok", "a set costs no check");
    assert_eq!(sim.call(FIRST + 1)["updates_applied"], 0);
    // The log is back: a resume sends the add, once.
    sim.set_faults(tdrecon::sim::FaultConfig::default());
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--resume"]), 0);
    assert_eq!(sim.call(FIRST + 1)["updates_applied"], 1);
    assert_eq!(sim.call(FIRST + 1)["revenue"], "-25.00");
}
