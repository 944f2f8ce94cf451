//! Never twice across runs: the account's ledger. A report sent again —
//! renamed, corrected, from another folder, with its results elsewhere, with
//! a row appended, after a killed run, or by two processes at once — applies
//! no add twice and names the earlier run. And a machine out of file
//! descriptors stops the job, naming the cause, instead of blaming the API.

use std::process::Command;

use crate::harness::{FIRST, PRIVATE, PUBLIC, SimHarness, by_line, rows, run_job, with_keys};
use crate::util::{Workdir, spawn, spawn_quiet, stderr, stdout, summary_line, wait_for};

/// `n` chargebacks, each with a note (so a "corrected" copy can differ in text).
fn report(n: u64) -> String {
    let mut s = String::from("id,add_revenue,agent_call_disposition_notes\n");
    for i in 0..n {
        s.push_str(&format!("{},-25.00,returned by buyer {i}\n", FIRST + i));
    }
    s
}

/// Revenue a call holds, as the simulator reports it.
fn revenue(sim: &SimHarness, i: u64) -> String {
    sim.call(FIRST + i)["revenue"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_report_sent_again_in_any_guise_applies_no_add_twice_and_names_the_earlier_run() {
    const N: u64 = 12;
    let sim = SimHarness::start(N + 1, |_| {});
    let wd = Workdir::new();
    wd.write("report.csv", report(N));
    wd.run(&mut run_job(&wd, &sim, "report.csv", &[]), 0);
    assert!(sim.applied(N).iter().all(|&n| n == 1));
    let first_revenue = revenue(&sim, 0);

    // The same rows under another name; with one row's text corrected; from
    // another folder with its results elsewhere.
    std::fs::create_dir_all(wd.path("elsewhere/out")).unwrap();
    wd.write("report-2.csv", report(N));
    wd.write("corrected.csv", report(N).replace("returned by buyer 3", "returned by José"));
    wd.write("elsewhere/report.csv", report(N));
    let guises: [(&str, &[&str], &str, &str); 3] = [
        ("report-2.csv", &[], "report-2.results.csv", "report-2.errors.csv"),
        ("corrected.csv", &[], "corrected.results.csv", "corrected.errors.csv"),
        (
            "elsewhere/report.csv",
            &["--results", "elsewhere/out/r.csv", "--errors", "elsewhere/out/e.csv"],
            "elsewhere/out/r.csv",
            "elsewhere/out/e.csv",
        ),
    ];
    for (file, extra, results, errors) in guises {
        // Nothing to fix: what happened is in results.csv, and the run exits 0.
        let out = wd.run(&mut run_job(&wd, &sim, file, extra), 0);
        assert!(sim.applied(N).iter().all(|&n| n == 1), "{file}: {:?}\n{}", sim.applied(N), stdout(&out));
        assert_eq!(rows(&wd.read(errors)).len(), 0, "{file}: errors.csv holds only rows to fix");
        let held = by_line(&wd.read(results));
        assert_eq!(held.len() as u64, N, "{file}: every row accounted for");
        for (line, r) in &held {
            assert_eq!(r["status"], "already_applied", "{r:?}");
            let reason = &r["error"];
            let first = wd.path("report.csv").display().to_string();
            assert!(reason.contains(&format!("{first} line {line}")), "{file}: {reason}");
            assert!(reason.contains("add_revenue -25.00") && reason.contains("--allow-repeat"), "{reason}");
        }
        assert!(stdout(&out).contains(&summary_line("  already applied", N)), "{}", stdout(&out));
    }
    assert_eq!(revenue(&sim, 0), first_revenue, "the chargeback is on the call once");

    // The same name with a row appended: only the new row goes out.
    let mut appended = report(N);
    appended.push_str(&format!("{},-25.00,late return\n", FIRST + N));
    wd.write("report.csv", &appended);
    let out = wd.run(&mut run_job(&wd, &sim, "report.csv", &["--restart"]), 0);
    assert!(stdout(&out).contains(&summary_line("  already applied", N)), "{}", stdout(&out));
    let results = by_line(&wd.read("report.results.csv"));
    assert_eq!(results.len() as u64, N + 1, "{results:?}");
    assert_eq!(results[&(N + 2)]["status"], "ok");
    assert_eq!(sim.applied(N + 1), [vec![1; N as usize], vec![1]].concat());

    // What the ledger holds, per call and since a date.
    let url = sim.url();
    let mut history = with_keys(wd.command(&["history", &FIRST.to_string(), "--base-url", &url]));
    let out = wd.run(&mut history, 0);
    let shown = rows(&stdout(&out));
    assert_eq!(shown.len(), 1, "one update applied to the call: {shown:?}");
    assert_eq!(shown[0]["status"], "ok");
    assert!(shown[0]["changes"].contains("add_revenue=-25.00"), "{shown:?}");
    assert!(shown[0]["file"].ends_with("report.csv") && shown[0]["line"] == "2", "{shown:?}");
    assert!(shown[0]["reference"].starts_with(&shown[0]["run"]), "{shown:?}");
    let mut since = with_keys(wd.command(&["history", "--since", "2020-01-01", "--base-url", &url]));
    assert_eq!(rows(&stdout(&wd.run(&mut since, 0))).len() as u64, N + 1);
    // The account's keys rotated: the same account, the same history.
    let mut other = wd.command(&["history", &FIRST.to_string(), "--base-url", &url]);
    other.env("TRACKDRIVE_PUBLIC_KEY", "pk_other").env("TRACKDRIVE_PRIVATE_KEY", PRIVATE);
    let out = wd.run(&mut other, 0);
    assert_eq!(rows(&stdout(&out)).len(), 1, "{}", stderr(&out));
    assert!(!stdout(&out).contains(PUBLIC) && !stderr(&out).contains(PRIVATE));

    // Meant twice: --allow-repeat sends them.
    wd.run(&mut run_job(&wd, &sim, "report-2.csv", &["--restart", "--allow-repeat"]), 0);
    assert!(sim.applied(N).iter().all(|&n| n == 2));
}

/// A run killed with -9 part-way; rows appended to its file, so `--resume`
/// is refused; started again as the refusal advises: every add applied at
/// most once, and each row not applied is either sent now or refused by
/// name as one the killed run may have applied.
#[test]
fn a_killed_run_whose_file_grew_starts_again_without_applying_an_add_twice() {
    const N: u64 = 300;
    let sim = SimHarness::start(N + 10, |c| {
        c.faults.latency = std::time::Duration::from_millis(3);
    });
    let wd = Workdir::new();
    wd.write("in.csv", report(N));
    let mut child = spawn_quiet(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "16"]));
    wait_for("rows applied", || sim.applied(N).iter().filter(|&&n| n > 0).count() >= 50);
    let _ = child.kill();
    let _ = child.wait();
    let mut grown = report(N);
    for i in N..N + 10 {
        grown.push_str(&format!("{},-25.00,appended\n", FIRST + i));
    }
    wd.write("in.csv", &grown);
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--resume"]), 2);
    let advice = stderr(&out);
    assert!(advice.contains("start again without --resume") && advice.contains("ledger"), "{advice}");
    // Started again without a word, the killed version's unsent rows would
    // be forgotten: it asks for --restart.
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "16"]), 2);
    assert!(stderr(&out).contains("another version of this file") && stderr(&out).contains("--restart"));
    wd.run_any(&mut run_job(&wd, &sim, "in.csv", &["--restart", "--concurrency", "16"]), &[0, 1]);
    let counts = sim.applied(N + 10);
    assert!(counts.iter().all(|&n| n <= 1), "{counts:?}");
    let results = by_line(&wd.read("in.results.csv"));
    assert_eq!(rows(&wd.read("in.errors.csv")).len(), 0);
    for i in 0..N + 10 {
        let line = i + 2;
        match results.get(&line).map(|r| (r["status"].as_str(), r)) {
            Some(("ok" | "already_applied", r)) => assert!(counts[i as usize] == 1, "line {line}: {r:?}"),
            // The killed run's outcome is not known: a person must look.
            Some(("unknown", r)) => assert!(r["error"].contains("may have applied"), "line {line}: {r:?}"),
            other => panic!("line {line}: {other:?}"),
        }
    }
    assert!(counts[N as usize..].iter().all(|&n| n == 1), "the appended rows were sent");
}

/// Two copies of one report started at once, as two operators might (one
/// copy's notes retyped, so the input lock, which knows identical bytes,
/// does not stop the second): each call takes the chargeback once, and
/// every row is accounted for in one run or the other.
#[test]
fn two_runs_at_once_on_two_copies_apply_each_add_once() {
    const N: u64 = 400;
    let sim = SimHarness::start(N, |c| c.faults.latency = std::time::Duration::from_millis(10));
    let wd = Workdir::new();
    wd.write("a.csv", report(N));
    // The second copy in reverse order: the two runs meet in the middle,
    // where both try the same calls at the same moment.
    let text = report(N).replace("returned by buyer", "buyer returned");
    let (header, body) = text.split_once('\n').unwrap();
    let reversed: Vec<&str> = body.lines().rev().collect();
    wd.write("b.csv", format!("{header}\n{}\n", reversed.join("\n")));
    let a = spawn(&mut run_job(&wd, &sim, "a.csv", &["--concurrency", "16"]));
    let b = spawn(&mut run_job(&wd, &sim, "b.csv", &["--concurrency", "16"]));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}\n{}", stdout(out), stderr(out));
    }
    let counts = sim.applied(N);
    assert!(counts.iter().all(|&n| n == 1), "{counts:?}");
    let ok = |name: &str| {
        let path = wd.path(name);
        if !path.exists() {
            return 0;
        }
        by_line(&wd.read(name)).values().filter(|r| r["status"] == "ok").count() as u64
    };
    assert_eq!(ok("a.results.csv") + ok("b.results.csv"), N, "each row applied by one run");
    assert!(ok("a.results.csv") > 0 && ok("b.results.csv") > 0, "the runs overlapped");
    // The other run held it back: before sending, or when it read the
    // call's audit log or recorded its intent, naming the first; never as a
    // row to fix. Held while the first was still sending it, its outcome was
    // not yet known: `unknown`, for a person to look at.
    let refusals = |stem: &str| {
        assert_eq!(rows(&wd.read(&format!("{stem}.errors.csv"))).len(), 0);
        by_line(&wd.read(&format!("{stem}.results.csv")))
            .values()
            .filter(|r| {
                (r["status"] == "already_applied" && r["error"].contains("repeats an update"))
                    || (r["status"] == "unknown" && r["error"].contains("may have applied"))
            })
            .count() as u64
    };
    assert_eq!(refusals("a") + refusals("b"), N, "each row refused by the other run");
}

/// Out of file descriptors: the job stops at once and names the cause;
/// nothing is applied twice and every row is accounted for.
#[test]
fn a_machine_out_of_file_descriptors_stops_the_job_naming_it() {
    const N: u64 = 400;
    let sim = SimHarness::start(N, |c| c.faults.latency = std::time::Duration::from_millis(20));
    let wd = Workdir::new();
    wd.write("in.csv", report(N));
    let job = run_job(&wd, &sim, "in.csv", &["--concurrency", "256"]);
    // The same command, under a shell that lowers the limit first.
    let mut limited = Command::new("sh");
    limited.arg("-c").arg("ulimit -n 64 && exec \"$0\" \"$@\"").arg(job.get_program()).args(job.get_args());
    limited.current_dir(job.get_current_dir().unwrap());
    for (k, v) in job.get_envs() {
        match v {
            Some(v) => limited.env(k, v),
            None => limited.env_remove(k),
        };
    }
    let out = wd.run(&mut limited, 3);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("ran out of open files") && text.contains("ulimit -n"), "{text}");
    assert!(!text.contains("retry budget"), "not blamed on the API: {text}");
    assert!(sim.applied(N).iter().all(|&n| n <= 1));
    assert_eq!(by_line(&wd.read("in.results.csv")).len() as u64, N, "every row accounted for");
}

/// A ledger that cannot be opened stops a file that adds before anything is
/// sent (exit 2, naming it); a file that only sets values goes, with a warning.
#[test]
fn a_ledger_that_cannot_be_opened_stops_a_run_that_adds() {
    let sim = SimHarness::start(4, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", report(4));
    wd.write("sets.csv", format!("id,revenue\n{FIRST},5.00\n"));
    wd.write("not-a-dir", "x");
    let state = wd.path("not-a-dir").display().to_string();
    let out = wd.run(run_job(&wd, &sim, "in.csv", &[]).env("TDRECON_STATE_DIR", &state), 2);
    assert!(stderr(&out).contains("cannot keep the ledger") && stderr(&out).contains("not-a-dir"), "{}", stderr(&out));
    assert_eq!(sim.stat("requests"), 0, "nothing sent");
    let out = wd.run(run_job(&wd, &sim, "sets.csv", &[]).env("TDRECON_STATE_DIR", &state), 0);
    assert!(stderr(&out).contains("warning: no ledger for this run"), "{}", stderr(&out));
    assert_eq!(sim.call(FIRST)["updates_applied"], 1);
}

/// A killed run, then a resume that stops before settling anything (its
/// keys refused): the rows the killed run may have applied stay in the
/// ledger, so a renamed copy of the report still applies none twice.
#[test]
fn a_resume_that_stops_early_keeps_what_the_killed_run_may_have_applied() {
    const N: u64 = 300;
    let sim = SimHarness::start(N, |c| c.faults.latency = std::time::Duration::from_millis(3));
    let wd = Workdir::new();
    wd.write("in.csv", report(N));
    let mut child = spawn_quiet(&mut run_job(&wd, &sim, "in.csv", &["--concurrency", "16"]));
    wait_for("rows applied", || sim.applied(N).iter().filter(|&&n| n > 0).count() >= 60);
    let _ = child.kill();
    let _ = child.wait();
    let mut resume = run_job(&wd, &sim, "in.csv", &["--resume", "--concurrency", "16"]);
    resume.env("TRACKDRIVE_PRIVATE_KEY", "sk_wrong");
    wd.run(&mut resume, 3);
    wd.write("copy.csv", report(N));
    wd.run_any(&mut run_job(&wd, &sim, "copy.csv", &["--concurrency", "16"]), &[0, 1]);
    let counts = sim.applied(N);
    assert!(counts.iter().all(|&n| n <= 1), "{counts:?}");
}

/// The same nights with the team's ledger on PostgreSQL (`pg`).
mod on_postgres {
    #[test]
    fn a_report_sent_again_in_any_guise_applies_no_add_twice_and_names_the_earlier_run() {
        crate::pg::on_postgres(super::a_report_sent_again_in_any_guise_applies_no_add_twice_and_names_the_earlier_run);
    }

    #[test]
    fn a_killed_run_whose_file_grew_starts_again_without_applying_an_add_twice() {
        crate::pg::on_postgres(super::a_killed_run_whose_file_grew_starts_again_without_applying_an_add_twice);
    }

    #[test]
    fn two_runs_at_once_on_two_copies_apply_each_add_once() {
        crate::pg::on_postgres(super::two_runs_at_once_on_two_copies_apply_each_add_once);
    }

    #[test]
    fn a_resume_that_stops_early_keeps_what_the_killed_run_may_have_applied() {
        crate::pg::on_postgres(super::a_resume_that_stops_early_keeps_what_the_killed_run_may_have_applied);
    }
}

/// A run whose outcomes never reached the ledger (killed between its
/// requests and their record: its adds stay `sent`): a later run of the
/// same adds reads each call's audit log, finds that run's reference there,
/// and ends the rows `already_applied`, not `unknown`.
#[test]
fn an_earlier_run_left_in_doubt_is_settled_by_its_reference_in_the_audit_log() {
    const N: u64 = 6;
    let sim = SimHarness::start(N, |_| {});
    let wd = Workdir::new();
    wd.write("night.csv", report(N));
    wd.run(&mut run_job(&wd, &sim, "night.csv", &[]), 0);
    // As a kill -9 leaves it: the intents, no outcomes.
    let ledgers = wd.path("state/ledgers");
    let file = std::fs::read_dir(&ledgers)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sqlite"))
        .expect("the account's ledger");
    let conn = rusqlite::Connection::open(&file).unwrap();
    assert_eq!(conn.execute("UPDATE updates SET status = 'sent'", []).unwrap() as u64, N);
    drop(conn);
    wd.write("morning.csv", report(N));
    wd.run(&mut run_job(&wd, &sim, "morning.csv", &[]), 0);
    let results = by_line(&wd.read("morning.results.csv"));
    assert!(
        results
            .values()
            .all(|r| r["status"] == "already_applied" && r["error"].contains("audit log shows that run's update")),
        "{results:?}"
    );
    assert!(sim.applied(N).iter().all(|&n| n == 1));
}
