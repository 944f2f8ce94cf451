//! The operator's night: what a person reads (summaries, errors, JSON for
//! the scheduler) says each thing once, in words, and for every exit.

use crate::harness::{SimHarness, run_job};
use crate::util::{Workdir, stderr, stdout, summary_line};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn errors_say_a_thing_once_and_in_words() {
    let wd = Workdir::new();
    let out = wd.run(&mut wd.command(&["validate", "nope.csv"]), 2);
    assert_eq!(stderr(&out).trim(), "tdrecon: cannot read nope.csv: No such file or directory (os error 2)");
    wd.write("in.csv", "id,revenue\n1,pending\n");
    let out = wd.run(&mut wd.command(&["run", "in.csv", "--base-url", "notaurl"]), 2);
    assert!(stderr(&out).contains("is not a web address: write it whole, like https://"), "{}", stderr(&out));
    wd.run(&mut wd.command(&["validate", "in.csv"]), 1);
    assert!(wd.read("in.errors.csv").contains("not an amount"), "{}", wd.read("in.errors.csv"));
}

#[test]
fn summary_json_is_written_for_every_exit_and_to_stdout_with_a_dash() {
    let wd = Workdir::new();
    wd.write("in.csv", "id,revenue\n100000001,1.00\n100000002,x\n");
    // Exit 2 before anything is read: the scheduler still gets its JSON.
    wd.run(&mut wd.command(&["run", "in.csv", "--base-url", "notaurl", "--summary-json", "s.json"]), 2);
    let s = json(&wd.read("s.json"));
    assert_eq!(s["exit_code"], 2);
    assert!(s["error"].as_str().unwrap().contains("--base-url"), "{s}");
    for key in ["version", "started_at", "finished_at", "input_sha256"] {
        assert!(s[key].is_string(), "{key}: {s}");
    }
    // `-`: the JSON alone on stdout, the text summary on stderr.
    let sim = SimHarness::start(2, |_| {});
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--summary-json", "-"]), 1);
    let s = json(&stdout(&out));
    assert_eq!((s["exit_code"].as_i64(), s["invalid"].as_i64(), s["processed"].as_i64()), (Some(1), Some(1), Some(1)));
    assert_eq!(s["input_sha256"].as_str().map(str::len), Some(64));
    assert!(stderr(&out).contains(&summary_line("  ok", 1)), "{}", stderr(&out));
    // validate takes it too.
    let out = wd.run(&mut wd.command(&["validate", "in.csv", "--summary-json", "-"]), 1);
    let s = json(&stdout(&out));
    assert_eq!(
        (s["command"].as_str(), s["rows_read"].as_i64(), s["invalid"].as_i64()),
        (Some("validate"), Some(2), Some(1))
    );
}

#[test]
fn a_resume_with_nothing_left_reports_no_rate_and_plurals_agree() {
    let sim = SimHarness::start(1, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", "id,revenue\n100000001,1.00\n");
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile"]), 0);
    assert!(stdout(&out).contains("over 1 call\n"), "{}", stdout(&out));
    assert!(stdout(&out).contains("rows/s over 1 row"), "{}", stdout(&out));
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--resume"]), 0);
    assert!(stdout(&out).contains("no row processed"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("rows/s"), "{}", stdout(&out));
}

#[test]
fn a_target_that_cannot_be_reached_stops_the_job_before_any_row_is_sent() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let wd = Workdir::new();
    wd.write("in.csv", "id,add_revenue\n100000001,1.00\n100000002,2.00\n");
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = wd.command(&["run", "in.csv", "--base-url", &url, "--summary-json", "s.json", "--quiet"]);
    cmd.env("TRACKDRIVE_PUBLIC_KEY", "k").env("TRACKDRIVE_PRIVATE_KEY", "s");
    let out = wd.run(&mut cmd, 3);
    let text = stdout(&out);
    assert!(text.contains("ABORTED: cannot connect to 127.0.0.1: connection refused"), "{text}");
    assert!(text.contains(&summary_line("  not sent", 2)), "{text}");
    let s = json(&wd.read("s.json"));
    assert!(s["stopped"]["aborted"].as_str().unwrap().contains("connection refused"), "{s}");
    assert_eq!(s["rows_with_requests"], 0);
}

#[test]
fn run_help_groups_its_options_and_ends_with_exit_codes_and_examples() {
    let wd = Workdir::new();
    let help = stdout(&wd.run(&mut wd.command(&["run", "--help"]), 0));
    let at = |heading: &str| help.find(&format!("\n{heading}:\n")).unwrap_or_else(|| panic!("{heading}: {help}"));
    let order = ["Input", "Target", "Pacing", "Outputs", "Safety", "Exit codes", "Examples"].map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{help}");
    assert!(help.contains("130  interrupted"), "{help}");
}
