//! The unattended night: `--notify` sends word when a run or plan ends,
//! whatever its exit code, to a webhook receiver on loopback that records
//! every POST; one that never answers holds the exit back no longer than
//! the documented bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{PRIVATE, PUBLIC, SimHarness, add_rows, plan_job, run_job};
use crate::util::{Workdir, signal, spawn, stderr, wait_for};

/// A webhook receiver: the bodies of the POSTs it took (answering 200), or,
/// `silent`, reading them and never answering.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    fn start(silent: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/services/T0/B0/SECRETPATH", listener.local_addr().unwrap().port());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut length = 0;
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        line.clear();
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if let Ok(json) = serde_json::from_slice(&body) {
                        seen.lock().unwrap().push(json);
                    }
                    if silent {
                        std::thread::sleep(Duration::from_secs(60));
                    } else {
                        let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                    }
                });
            }
        });
        Receiver { url, bodies }
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// One POST per run, its line ending in the exit code, its fields the
/// summary's, and no key anywhere in it.
fn one_post_saying(receiver: &Receiver, exit: i32) -> serde_json::Value {
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = bodies[0].clone();
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("tdrecon ") && text.ends_with(&format!("— exit {exit}")), "{text}");
    assert_eq!(body["exit_code"], exit, "{body}");
    let all = body.to_string();
    assert!(!all.contains(PUBLIC) && !all.contains(PRIVATE), "a key in the notification: {all}");
    body
}

#[test]
fn each_run_sends_one_word_whatever_its_exit_code() {
    let sim = SimHarness::start(40, |c| c.faults.latency = Duration::from_millis(20));
    let wd = Workdir::new();
    // 0: every row applied.
    wd.write("ok.csv", add_rows(3, |i| format!("-{}.00", i + 1)));
    let hook = Receiver::start(false);
    wd.run(&mut run_job(&wd, &sim, "ok.csv", &["--notify", &hook.url]), 0);
    let body = one_post_saying(&hook, 0);
    assert!(body["text"].as_str().unwrap().contains("ok.csv (127.0.0.1): 3 ok"), "{body}");
    assert_eq!(body["statuses"]["ok"], 3);
    // 1: a row to fix.
    wd.write("one.csv", "id,revenue\n100000010,5.00\nnot-an-id,5.00\n");
    let hook = Receiver::start(false);
    wd.run(&mut run_job(&wd, &sim, "one.csv", &["--notify", &hook.url]), 1);
    assert!(one_post_saying(&hook, 1)["text"].as_str().unwrap().contains("1 ok, 1 invalid"));
    // 3: the keys refused.
    let hook = Receiver::start(false);
    let mut refused = run_job(&wd, &sim, "one.csv", &["--notify", &hook.url, "--restart"]);
    refused.env("TRACKDRIVE_PRIVATE_KEY", "sk_wrong");
    wd.run(&mut refused, 3);
    one_post_saying(&hook, 3);
    // 2, after the start: a shared ledger out of reach, for a file that adds.
    let hook = Receiver::start(false);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ledger = format!("postgres://tdrecon@127.0.0.1:{port}/x");
    wd.write("fresh.csv", add_rows(3, |i| format!("-{}.25", i + 1)));
    wd.run(&mut run_job(&wd, &sim, "fresh.csv", &["--notify", &hook.url, "--ledger", &ledger]), 2);
    let body = one_post_saying(&hook, 2);
    assert!(body["error"].as_str().unwrap().contains("cannot reach the ledger"), "{body}");
    // 130: Ctrl-C.
    wd.write("slow.csv", add_rows(30, |i| format!("-{i}.50")).replace("100000001", "100000011"));
    let hook = Receiver::start(false);
    let mut slow = run_job(&wd, &sim, "slow.csv", &["--notify", &hook.url, "--rate", "5"]);
    let child = spawn(&mut slow);
    wait_for("a row sent", || {
        sim.calls_by_id()
            .values()
            .any(|c| c["updates_applied"].as_u64() > Some(0) && c["id"].as_u64() > Some(100000010))
    });
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(one_post_saying(&hook, 130)["text"].as_str().unwrap().contains("interrupted"));
    // A plan says so too.
    let hook = Receiver::start(false);
    wd.run(&mut plan_job(&wd, &sim, "one.csv", &["--notify", &hook.url]), 0);
    assert!(one_post_saying(&hook, 0)["text"].as_str().unwrap().starts_with("tdrecon plan one.csv"));
}

#[test]
fn a_receiver_that_never_answers_holds_the_exit_back_no_longer_than_the_bound() {
    let sim = SimHarness::start(3, |_| {});
    let wd = Workdir::new();
    wd.write("ok.csv", add_rows(3, |i| format!("-{}.00", i + 1)));
    let (silent, answering) = (Receiver::start(true), Receiver::start(false));
    let started = Instant::now();
    let out = wd.run(&mut run_job(&wd, &sim, "ok.csv", &["--notify", &silent.url, "--notify", &answering.url]), 0);
    let took = started.elapsed();
    // The bound is 5 s (GUIDE.md); the run itself takes well under a second.
    assert!(took < Duration::from_secs(9), "the exit waited {took:?}");
    assert_eq!(answering.bodies().len(), 1, "the other receiver got its word");
    let warned = stderr(&out);
    assert!(warned.contains("--notify 127.0.0.1: not delivered within 5s"), "{warned}");
    assert!(!warned.contains("SECRETPATH"), "a webhook's path is its secret: {warned}");
    // And a receiver that is not https (nor this machine) is refused at once.
    let out = wd.run(&mut run_job(&wd, &sim, "ok.csv", &["--notify", "http://hooks.example.com/x/SECRET"]), 2);
    assert!(stderr(&out).contains("https://") && !stderr(&out).contains("SECRET"), "{}", stderr(&out));
}

/// A night whose server fails a third of the requests: the summary prints
/// the one command that sends the failed rows; run as printed (the server
/// well again) it sends those rows and no other, even though the night ran
/// with --reconcile.
#[test]
fn the_printed_retry_command_sends_exactly_the_rows_that_failed() {
    const N: u64 = 40;
    let sim = SimHarness::start(N, |c| {
        c.faults.fail_5xx = 0.3;
        c.faults.seed = 7;
    });
    let wd = Workdir::new();
    let mut file = String::from("id,revenue\n");
    for i in 0..N {
        file.push_str(&format!("{},{}.50\n", crate::harness::FIRST + i, 10 + i));
    }
    wd.write("night.csv", &file);
    let out = wd.run(&mut run_job(&wd, &sim, "night.csv", &["--reconcile", "--max-retries", "0"]), 1);
    let said = crate::util::stdout(&out);
    let failed: Vec<u64> = crate::harness::by_line(&wd.read("night.results.csv"))
        .into_iter()
        .filter(|(_, r)| r["status"] == "failed")
        .map(|(line, _)| line)
        .collect();
    assert!(!failed.is_empty(), "the faults failed some rows: {said}");
    let command = said
        .lines()
        .skip_while(|l| !l.starts_with("retry: "))
        .nth(1)
        .unwrap_or_else(|| panic!("no retry command: {said}"))
        .trim()
        .to_string();
    assert!(command.starts_with("tdrecon run night.csv") && command.ends_with("--resume --failed-only"), "{command}");
    assert!(said.contains(&format!("retry: {} rows failed or were not sent", failed.len())), "{said}");
    sim.set_faults(tdrecon::sim::FaultConfig::default());
    let before = sim.applied(N);
    // Run as printed, from a shell, by its name on PATH.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_tdrecon")).parent().unwrap().display().to_string();
    let mut shell = std::process::Command::new("bash");
    shell.arg("-c").arg(&command).current_dir(wd.path(""));
    for (k, v) in crate::harness::with_keys(wd.command(&[])).get_envs() {
        match v {
            Some(v) => shell.env(k, v),
            None => shell.env_remove(k),
        };
    }
    shell.env("PATH", format!("{bin}:{}", std::env::var("PATH").unwrap_or_default()));
    wd.run(&mut shell, 0);
    let after = sim.applied(N);
    for i in 0..N as usize {
        let line = i as u64 + 2;
        let want = before[i] + u64::from(failed.contains(&line));
        assert_eq!(after[i], want, "line {line}: only the failed rows were sent");
    }
    let results = crate::harness::by_line(&wd.read("night.results.csv"));
    assert!(results.values().all(|r| r["status"] != "failed"), "{results:?}");
    assert_eq!(results.len() as u64, N);
}

/// A report served over HTTP on loopback: its body (changeable), the
/// Content-Length it claims (`None`: the body's), and the GETs it took.
struct Served {
    url: String,
    body: Arc<Mutex<(String, Option<u64>)>>,
    gets: Arc<Mutex<u64>>,
}

impl Served {
    fn start(path: &str, body: &str) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}{path}", listener.local_addr().unwrap().port());
        let body = Arc::new(Mutex::new((body.to_string(), None)));
        let gets = Arc::new(Mutex::new(0));
        let (served, counted) = (Arc::clone(&body), Arc::clone(&gets));
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                *counted.lock().unwrap() += 1;
                let (text, claimed) = served.lock().unwrap().clone();
                let length = claimed.unwrap_or(text.len() as u64);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(text.as_bytes());
            }
        });
        Served { url, body, gets }
    }
}

/// `tdrecon run http://…` (a pre-signed URL's shape): fetched into a kept
/// copy that the run reads and its journal is bound to; a resume reads that
/// copy though the URL now serves another file; the signature is in no
/// output; a body past the size limit is refused before anything is sent.
#[test]
fn a_report_fetched_from_a_url_runs_and_resumes_from_the_bytes_it_fetched() {
    const N: u64 = 12;
    let sim = SimHarness::start(2 * N, |c| c.faults.latency = Duration::from_millis(20));
    let wd = Workdir::new();
    let served =
        Served::start("/nightly/acme.csv?X-Amz-Signature=SIGSECRET", &add_rows(N, |i| format!("-{}.00", i + 1)));
    let mut first = run_job(&wd, &sim, &served.url, &["--rate", "4"]);
    let child = spawn(&mut first);
    wait_for("a row sent", || sim.applied(N).iter().any(|&n| n > 0));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    // Named after the URL's last segment and a hash of the whole URL.
    let named = |suffix: &str| {
        std::fs::read_dir(wd.path(""))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("acme-") && n.ends_with(suffix))
    };
    let results = named(".results.csv").expect("results named after the URL");
    assert!(named(".download.csv").is_some(), "the kept copy");
    // The URL now serves another night: the resume reads what was fetched.
    served.body.lock().unwrap().0 = add_rows(2 * N, |i| format!("-{}.75", i + 1));
    let gets = *served.gets.lock().unwrap();
    let resumed = wd.run(&mut run_job(&wd, &sim, &served.url, &["--resume", "--summary-json", "s.json"]), 0);
    assert_eq!(*served.gets.lock().unwrap(), gets, "not fetched again");
    assert_eq!(sim.applied(2 * N), [vec![1; N as usize], vec![0; N as usize]].concat());
    let summary = wd.read("s.json");
    assert!(summary.contains("http://127.0.0.1:") && summary.contains("/nightly/acme.csv"), "{summary}");
    for text in [stderr(&out), crate::util::stdout(&resumed), stderr(&resumed), summary, wd.read(&results)] {
        assert!(!text.contains("SIGSECRET"), "the URL's signature was shown: {text}");
    }
    // Another URL that ends alike is another report: its own copy and journal.
    let other = Served::start("/other/acme.csv", &add_rows(1, |_| "-9.00".into()).replace("100000001", "100000020"));
    wd.run(&mut run_job(&wd, &sim, &other.url, &[]), 0);
    assert_eq!(sim.applied(2 * N)[19], 1);
    assert!(wd.run(&mut run_job(&wd, &sim, &served.url, &["--resume"]), 0).status.success());
    assert_eq!(*served.gets.lock().unwrap(), gets, "the first URL's copy is still its own");
    // Past the size limit (512 MiB, as the server claims): refused, nothing sent.
    served.body.lock().unwrap().1 = Some(600 << 20);
    let before = sim.applied(2 * N);
    let out = wd.run(&mut run_job(&wd, &sim, &served.url, &["--restart"]), 2);
    assert!(stderr(&out).contains("more than 512 MiB") && !stderr(&out).contains("SIGSECRET"), "{}", stderr(&out));
    assert_eq!(sim.applied(2 * N), before);
    // Plain http to another machine is refused before any request.
    let out = wd.run(&mut run_job(&wd, &sim, "http://reports.example.com/a.csv", &[]), 2);
    assert!(stderr(&out).contains("https://"), "{}", stderr(&out));
}

/// A plan signed off, one call corrected by a teammate after it, then
/// `run --plan`: every other change sent once, that call left as the
/// teammate set it and reported `changed_since_plan` with both values; a
/// plan of another file or account, edited, or too old, refused.
#[test]
fn a_signed_plan_is_applied_exactly_and_a_call_changed_since_is_left_alone() {
    use crate::harness::{FIRST, by_line};
    let sim = SimHarness::start(8, |_| {});
    let wd = Workdir::new();
    let mut night = String::from("id,revenue\n");
    for i in 0..6 {
        night.push_str(&format!("{},{}.25\n", FIRST + i, 40 + i));
    }
    wd.write("night.csv", &night);
    let out = wd.run(&mut plan_job(&wd, &sim, "night.csv", &["--report", "night.html"]), 0);
    let said = crate::util::stdout(&out);
    let seal: serde_json::Value = serde_json::from_str(&wd.read("night.plan.json")).unwrap();
    let digest = seal["plan_sha256"].as_str().unwrap().to_string();
    assert!(said.contains("plan sealed: night.plan.json") && said.contains("--plan night.plan.csv"), "{said}");
    assert!(wd.read("night.html").contains(&digest), "the page names the plan it signs");
    assert!(sim.applied(8).iter().all(|&n| n == 0), "a plan sends nothing");
    // A teammate corrects one call after the sign-off.
    wd.write("fix.csv", format!("id,revenue\n{},99.00\n", FIRST + 2));
    wd.run(&mut run_job(&wd, &sim, "fix.csv", &[]), 0);
    let out =
        wd.run(&mut run_job(&wd, &sim, "night.csv", &["--plan", "night.plan.csv", "--summary-json", "s.json"]), 1);
    let applied = sim.applied(8);
    assert_eq!(applied, [1, 1, 1, 1, 1, 1, 0, 0], "the teammate's one update, and the plan's five");
    assert_eq!(sim.call(FIRST + 2)["revenue"], "99.00", "the correction stands");
    assert_eq!(sim.call(FIRST + 4)["revenue"], "44.25");
    let results = by_line(&wd.read("night.results.csv"));
    let held = &results[&4];
    assert_eq!(held["status"], "changed_since_plan", "{held:?}");
    assert!(held["error"].contains("revenue was") && held["error"].contains("99.00"), "{held:?}");
    assert_eq!(results.values().filter(|r| r["status"] == "ok").count(), 5);
    assert!(crate::util::stdout(&out).contains("changed since the plan"), "{}", crate::util::stdout(&out));
    let summary: serde_json::Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert_eq!(summary["plan"]["seal"]["plan_sha256"], digest.as_str());
    // Refused, exit 2, nothing sent: another file, another account, an
    // edited plan, a plan too old.
    wd.write("other.csv", format!("id,revenue\n{},1.00\n", FIRST + 6));
    let out = wd.run(&mut run_job(&wd, &sim, "other.csv", &["--plan", "night.plan.csv"]), 2);
    assert!(stderr(&out).contains("the plan of another file"), "{}", stderr(&out));
    let elsewhere = SimHarness::start(8, |_| {});
    let out = wd.run(&mut run_job(&wd, &elsewhere, "night.csv", &["--plan", "night.plan.csv", "--restart"]), 2);
    assert!(stderr(&out).contains("is a plan for"), "{}", stderr(&out));
    let plan = wd.read("night.plan.csv");
    wd.write("night.plan.csv", plan.replace("40.25", "41.25"));
    let out = wd.run(&mut run_job(&wd, &sim, "night.csv", &["--plan", "night.plan.csv", "--restart"]), 2);
    assert!(stderr(&out).contains("was changed after it was made"), "{}", stderr(&out));
    wd.write("night.plan.csv", &plan);
    let mut old = seal.clone();
    old["made_at_ms"] = serde_json::json!(seal["made_at_ms"].as_i64().unwrap() - 25 * 3_600_000);
    wd.write("night.plan.json", old.to_string());
    let out = wd.run(&mut run_job(&wd, &sim, "night.csv", &["--plan", "night.plan.csv", "--restart"]), 2);
    assert!(stderr(&out).contains("more than --plan-max-age ago"), "{}", stderr(&out));
    assert_eq!(sim.applied(8), applied, "nothing sent by a refused plan");
    // The same file read another way than the plan read it (its column
    // mapped to another field, or a column the plan ignored): nothing the
    // plan did not show goes out.
    wd.write("night.plan.json", seal.to_string());
    wd.write("amounts.csv", format!("id,Amt,add_payout\n{},10.00,-2.00\n{},20.00,-2.00\n", FIRST + 6, FIRST + 7));
    wd.run(&mut plan_job(&wd, &sim, "amounts.csv", &["--map", "Amt=revenue", "--ignore-column", "add_payout"]), 0);
    for other in [&["--map", "Amt=add_payout", "--ignore-column", "add_payout"][..], &["--map", "Amt=revenue"][..]] {
        let mut args = vec!["--plan", "amounts.plan.csv", "--restart"];
        args.extend_from_slice(other);
        wd.run_any(&mut run_job(&wd, &sim, "amounts.csv", &args), &[1, 2]);
        assert_eq!(sim.applied(8), applied, "{other:?}: nothing the plan did not show was sent");
    }
    wd.run(
        &mut run_job(
            &wd,
            &sim,
            "amounts.csv",
            &["--plan", "amounts.plan.csv", "--restart", "--map", "Amt=revenue", "--ignore-column", "add_payout"],
        ),
        0,
    );
    assert_eq!(&sim.applied(8)[6..], [1, 1], "read as the plan read it, it is sent");
}

/// A run of a signed plan, interrupted, resumes only as a run of that
/// plan: a resume without `--plan` is refused; with it, every change of
/// the plan once.
#[test]
fn an_interrupted_signed_plan_resumes_only_held_to_its_plan() {
    use crate::harness::FIRST;
    const N: u64 = 30;
    let sim = SimHarness::start(N, |c| c.faults.latency = Duration::from_millis(10));
    let wd = Workdir::new();
    let mut night = String::from("id,add_revenue\n");
    for i in 0..N {
        night.push_str(&format!("{},-{}.50\n", FIRST + i, i + 1));
    }
    wd.write("night.csv", &night);
    wd.run(&mut plan_job(&wd, &sim, "night.csv", &[]), 0);
    let child = spawn(&mut run_job(&wd, &sim, "night.csv", &["--plan", "night.plan.csv", "--rate", "5"]));
    wait_for("a row sent", || sim.applied(N).iter().any(|&n| n > 0));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let out = wd.run(&mut run_job(&wd, &sim, "night.csv", &["--resume"]), 2);
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
    wd.run(&mut run_job(&wd, &sim, "night.csv", &["--plan", "night.plan.csv", "--resume"]), 0);
    assert!(sim.applied(N).iter().all(|&n| n == 1), "{:?}", sim.applied(N));
}

/// A chargeback on a call the API does not have is refused for good
/// (`rejected`), not `failed` with a retry command that could never work.
#[test]
fn an_add_for_a_call_that_does_not_exist_is_refused_and_no_retry_is_offered() {
    let sim = SimHarness::start(2, |_| {});
    let wd = Workdir::new();
    wd.write("adds.csv", "id,add_revenue\n100000001,-5.00\n300000099,-5.00\n");
    let out = wd.run(&mut run_job(&wd, &sim, "adds.csv", &[]), 1);
    let results = crate::harness::by_line(&wd.read("adds.results.csv"));
    assert_eq!(results[&2]["status"], "ok");
    assert_eq!(results[&3]["status"], "rejected", "{:?}", results[&3]);
    assert!(!crate::util::stdout(&out).contains("retry:"), "{}", crate::util::stdout(&out));
}
