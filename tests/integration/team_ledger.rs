//! A team's ledger on a real PostgreSQL (`--ledger postgres://…`, see
//! `pg`): two machines (two state and lock directories) sending one report
//! at the same moment, and one after the other; a machine's SQLite history
//! imported; the server stopped mid-run and started again; unreachable at
//! the start; and the password nowhere but where it was given. Runs vouch
//! (`--ledger-vouches`: no audit-log read before an add), so what keeps an
//! add from going out twice is the shared ledger alone.

use std::process::{Command, Output};

use crate::harness::{FIRST, SimHarness, by_line, rows, run_job};
use crate::pg::Server;
use crate::util::{Workdir, spawn, stderr, stdout, wait_for};

/// `n` chargebacks on calls `FIRST + from ..`, in order or reversed.
fn adds(from: u64, n: u64, reversed: bool) -> String {
    let mut lines: Vec<String> = (from..from + n).map(|i| format!("{},-25.00", FIRST + i)).collect();
    if reversed {
        lines.reverse();
    }
    format!("id,add_revenue\n{}\n", lines.join("\n"))
}

/// A run on machine `machine` (its own state and lock directories), through
/// the shared ledger `url`, vouching.
fn on_machine(wd: &Workdir, sim: &SimHarness, server: &Server, machine: &str, file: &str, url: &str) -> Command {
    let mut cmd = run_job(wd, sim, file, &["--ledger", url, "--ledger-vouches", "--concurrency", "16"]);
    cmd.env("TDRECON_STATE_DIR", wd.path(&format!("state-{machine}")))
        .env("TDRECON_LOCK_DIR", wd.path(&format!("locks-{machine}")))
        .env("PGPASSWORD", &server.password);
    cmd
}

/// Every row of `stem`'s results: how many were applied, and whether every
/// other was held back naming the other run's file.
fn applied_and_held(wd: &Workdir, stem: &str, other: &str) -> (u64, u64) {
    let results = by_line(&wd.read(&format!("{stem}.results.csv")));
    let ok = results.values().filter(|r| r["status"] == "ok").count() as u64;
    let held = results
        .values()
        .filter(|r| matches!(r["status"].as_str(), "already_applied" | "unknown") && r["error"].contains(other))
        .count() as u64;
    assert_eq!(ok + held, results.len() as u64, "{stem}: every row applied or held naming {other}: {results:?}");
    (ok, held)
}

/// What no file, output or table may hold: the database's password.
fn assert_no_password(wd: &Workdir, server: &Server, db: &str, outputs: &[&Output]) {
    let secret = server.password.as_str();
    for out in outputs {
        assert!(!stdout(out).contains(secret) && !stderr(out).contains(secret), "the password was printed");
    }
    let mut stack = vec![wd.path("")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                assert!(!String::from_utf8_lossy(&bytes).contains(secret), "the password is in {}", path.display());
            }
        }
    }
    let mut client = server.client(db);
    for table in ["tdrecon_runs", "tdrecon_updates"] {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table} t WHERE t::text LIKE '%' || $1 || '%'"), &[&secret])
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "the password is in {table}");
    }
}

#[test]
fn two_machines_sending_one_report_at_the_same_moment_apply_each_add_once() {
    let Some(server) = crate::pg::shared() else { return };
    let db = server.database();
    let url = server.url(&db);
    const N: u64 = 150;
    let sim = SimHarness::start(2 * N, |c| c.faults.latency = std::time::Duration::from_millis(5));
    let wd = Workdir::new();
    let mut outputs = Vec::new();
    // The same order (they race for every call), then one reversed (they
    // meet in the middle).
    for (round, reversed) in [(0, false), (1, true)] {
        let (a, b) = (format!("a{round}.csv"), format!("b{round}.csv"));
        wd.write(&a, adds(round * N, N, false));
        wd.write(&b, adds(round * N, N, reversed));
        let first = spawn(&mut on_machine(&wd, &sim, server, "a", &a, &url));
        let second = spawn(&mut on_machine(&wd, &sim, server, "b", &b, &url));
        let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
        for out in [&first, &second] {
            assert!(matches!(out.status.code(), Some(0 | 1)), "{}\n{}", stdout(out), stderr(out));
        }
        let counts = sim.applied(2 * N);
        let this_round = &counts[(round * N) as usize..((round + 1) * N) as usize];
        assert!(this_round.iter().all(|&n| n == 1), "round {round}: {this_round:?}");
        let (a_ok, _) = applied_and_held(&wd, &format!("a{round}"), &b);
        let (b_ok, _) = applied_and_held(&wd, &format!("b{round}"), &a);
        assert_eq!(a_ok + b_ok, N, "round {round}: each add applied by one machine");
        outputs.extend([first, second]);
    }
    // The ledger holds each add once: a row held back by the other
    // machine's record left no record of its own (it was never sent).
    let twice: i64 = server
        .client(&db)
        .query_one("SELECT count(*) FROM (SELECT call FROM tdrecon_updates GROUP BY call HAVING count(*) > 1) t", &[])
        .unwrap()
        .get(0);
    assert_eq!(twice, 0, "calls the ledger shows with two adds");
    let all: Vec<&Output> = outputs.iter().collect();
    assert_no_password(&wd, server, &db, &all);
}

#[test]
fn a_second_machine_after_the_first_is_refused_naming_its_run() {
    let Some(server) = crate::pg::shared() else { return };
    let db = server.database();
    let url = server.url(&db);
    const N: u64 = 20;
    let sim = SimHarness::start(N, |_| {});
    let wd = Workdir::new();
    wd.write("night.csv", adds(0, N, false));
    wd.write("laptop.csv", adds(0, N, true));
    let first = wd.run(&mut on_machine(&wd, &sim, server, "cron", "night.csv", &url), 0);
    let second = wd.run(&mut on_machine(&wd, &sim, server, "laptop", "laptop.csv", &url), 0);
    assert!(sim.applied(N).iter().all(|&n| n == 1));
    let results = by_line(&wd.read("laptop.results.csv"));
    assert!(
        results.values().all(|r| r["status"] == "already_applied" && r["error"].contains("night.csv line")),
        "{results:?}"
    );
    assert!(stdout(&second).contains("already applied"), "{}", stdout(&second));
    assert!(stdout(&second).contains(&format!("ledger: the team's, {url}")), "{}", stdout(&second));
    // Both machines read one history.
    let mut history = crate::harness::with_keys(wd.command(&["history", "--runs", "--base-url", &sim.url()]));
    history.env("TDRECON_LEDGER", &url).env("PGPASSWORD", &server.password);
    let runs = rows(&stdout(&wd.run(&mut history, 0)));
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((runs[0]["rows"].as_str(), runs[1]["rows"].as_str()), ("ok=20", "already_applied=20"));
    assert_no_password(&wd, server, &db, &[&first, &second]);
}

#[test]
fn a_machines_sqlite_history_imported_refuses_the_same_report_through_the_shared_ledger() {
    let Some(server) = crate::pg::shared() else { return };
    let db = server.database();
    let url = server.url(&db);
    const N: u64 = 15;
    let sim = SimHarness::start(N, |_| {});
    let wd = Workdir::new();
    wd.write("night.csv", adds(0, N, false));
    // The old way: this machine's own SQLite ledger.
    let mut old = run_job(&wd, &sim, "night.csv", &[]);
    old.env("TDRECON_STATE_DIR", wd.path("state-old"));
    wd.run(&mut old, 0);
    let import = |wd: &Workdir| {
        let mut cmd = wd.command(&["ledger", "import", "--ledger", &url]);
        cmd.env("TDRECON_STATE_DIR", wd.path("state-old")).env("PGPASSWORD", &server.password);
        wd.run(&mut cmd, 0)
    };
    let first = import(&wd);
    assert!(stdout(&first).contains(&format!("1 runs and {N} updates copied")), "{}", stdout(&first));
    let again = import(&wd);
    assert!(
        stdout(&again).contains(&format!("0 runs and 0 updates copied into {url}, {N} updates it held")),
        "{}",
        stdout(&again)
    );
    // Sent again from another machine through the shared ledger: refused
    // by the ledger alone (vouching: no audit log read).
    wd.write("resent.csv", adds(0, N, false));
    let out = wd.run(&mut on_machine(&wd, &sim, server, "new", "resent.csv", &url), 0);
    assert!(sim.applied(N).iter().all(|&n| n == 1), "{:?}", sim.applied(N));
    let results = by_line(&wd.read("resent.results.csv"));
    assert!(
        results.values().all(|r| r["status"] == "already_applied" && r["error"].contains("night.csv")),
        "{results:?}"
    );
    assert_no_password(&wd, server, &db, &[&first, &again, &out]);
}

#[test]
fn the_database_stopped_mid_run_stops_the_job_and_a_resume_applies_every_add_once() {
    let Some(server) = Server::private() else { return };
    let db = server.database();
    let url = server.url(&db);
    const N: u64 = 200;
    let sim = SimHarness::start(N, |c| c.faults.latency = std::time::Duration::from_millis(2));
    let wd = Workdir::new();
    wd.write("night.csv", adds(0, N, false));
    let mut cmd = on_machine(&wd, &sim, &server, "a", "night.csv", &url);
    cmd.args(["--rate", "100"]);
    let child = spawn(&mut cmd);
    wait_for("adds applied", || sim.applied(N).iter().filter(|&&n| n > 0).count() >= 40);
    server.stop("immediate");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "the job stops: {}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("ledger") || stdout(&out).contains("ledger"), "{}", stderr(&out));
    let counts = sim.applied(N);
    assert!(counts.iter().all(|&n| n <= 1), "{counts:?}");
    // Every call changed had its intent committed before it went out.
    server.restart();
    let intents: std::collections::HashSet<u64> = server
        .client(&db)
        .query("SELECT call FROM tdrecon_updates", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0).parse().unwrap())
        .collect();
    for (i, &n) in counts.iter().enumerate() {
        assert!(n == 0 || intents.contains(&(FIRST + i as u64)), "call {} applied without an intent", FIRST + i as u64);
    }
    let mut resume = on_machine(&wd, &sim, &server, "a", "night.csv", &url);
    resume.arg("--resume");
    let resumed = wd.run_any(&mut resume, &[0, 1]);
    let counts = sim.applied(N);
    assert!(counts.iter().all(|&n| n == 1), "{counts:?}\n{}", stdout(&resumed));
    // The outcomes the stopped run could not record were given again by
    // the resume: no add is left `sent` (in doubt) to hold another run back.
    let in_doubt: i64 =
        server.client(&db).query_one("SELECT count(*) FROM tdrecon_updates WHERE status = 'sent'", &[]).unwrap().get(0);
    assert_eq!(in_doubt, 0, "updates left without their outcome");
    assert_no_password(&wd, &server, &db, &[&out, &resumed]);
}

#[test]
fn a_shared_ledger_out_of_reach_stops_a_file_that_adds_before_anything_is_sent() {
    let sim = SimHarness::start(3, |_| {});
    let wd = Workdir::new();
    wd.write("night.csv", adds(0, 3, false));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://tdrecon@127.0.0.1:{port}/ledger");
    let out = wd.run(&mut run_job(&wd, &sim, "night.csv", &["--ledger", &url]), 2);
    assert!(stderr(&out).contains(&format!("cannot reach the ledger {url}")), "{}", stderr(&out));
    assert_eq!(sim.applied(3), [0, 0, 0]);
    // A password in the URL is refused, and not repeated.
    let with_password = format!("postgres://tdrecon:hunter2@127.0.0.1:{port}/ledger");
    let out = wd.run(&mut run_job(&wd, &sim, "night.csv", &["--ledger", &with_password]), 2);
    assert!(stderr(&out).contains("PGPASSWORD") && !stderr(&out).contains("hunter2"), "{}", stderr(&out));
}
