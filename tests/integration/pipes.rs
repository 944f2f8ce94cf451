//! A closed pipe on standard output (`tdrecon … | head -1`) is not a crash:
//! the command finishes and exits with its own code, never 101.

use std::process::Stdio;

use crate::util::Workdir;

/// Runs `args` with standard output's reader gone before anything is
/// written; returns the exit code and standard error.
fn with_stdout_closed(wd: &Workdir, args: &[&str]) -> (Option<i32>, String) {
    let mut child = wd
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tdrecon");
    // Dropping the read end: every write to stdout now fails with EPIPE.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for tdrecon");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_leaves_each_command_its_own_exit_code() {
    let wd = Workdir::new();
    let sample = format!("{}/samples/nightly-buyer-report.csv", env!("CARGO_MANIFEST_DIR"));
    let cases: [(&[&str], i32); 4] = [
        // The sample has invalid rows and calls the sandbox leaves out: 1.
        (&["run", &sample, "--sandbox", "--quiet", "--rate", "0"], 1),
        (&["validate", &sample], 1),
        (&["template"], 0),
        (&["template", "--config"], 0),
    ];
    for (args, want) in cases {
        let (code, stderr) = with_stdout_closed(&wd, args);
        assert_eq!(code, Some(want), "{args:?}\nstderr:\n{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{args:?}\nstderr:\n{stderr}");
    }
}
