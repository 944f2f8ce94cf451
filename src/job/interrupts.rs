//! Stopping gracefully: the signal watcher that drains the job, and the
//! command line that resumes it.

use crate::exit::Exit;
use crate::trackdrive::gate::Stop;
use crate::trackdrive::gate::StopReason;

/// Ctrl-C or SIGTERM stops admitting rows and lets those in flight finish;
/// a second one exits at once (the journal still reads back: every record
/// is either whole or ignored).
pub(super) async fn watch_for_interrupts(stop: Stop) {
    crate::signals::wait_for_signal().await;
    stop.trigger(StopReason::Interrupted);
    crate::console::warn("stopping: no new rows; waiting for the requests in flight (Ctrl-C again to quit at once)");
    crate::signals::wait_for_signal().await;
    crate::console::warn(&format!("quit at once; to continue: {}", resume_command()));
    std::process::exit(Exit::Interrupted as i32);
}

/// This process's command line with `--resume`: safe to print, because no
/// secret is ever taken from an argument.
pub(super) fn resume_command() -> String {
    command_with(&["--resume"])
}

/// This process's command line with `--resume --failed-only`: sends the
/// rows that failed or were not sent, and nothing else.
pub(super) fn retry_command() -> String {
    command_with(&["--resume", "--failed-only"])
}

/// This process's command line without `--restart`, with `flags`.
fn command_with(flags: &[&str]) -> String {
    // A report's URL without its query (a pre-signed URL's signature): a
    // resume reads the copy the run kept, and fetches nothing.
    let mut args: Vec<String> = Vec::new();
    let mut given = std::env::args().skip(1);
    while let Some(a) = given.next() {
        // --notify's URLs are secrets (a webhook's path is its key): left
        // out; the rows sent are the same without them.
        if a == "--notify" {
            given.next();
            continue;
        }
        if a == "--restart" || a.starts_with("--notify=") {
            continue;
        }
        let secret = a.contains(['?', '#', '@']);
        args.push(if secret && crate::trackdrive::fetch::is_url(&a) { crate::trackdrive::fetch::shown(&a) } else { a });
    }
    for flag in flags {
        if !args.iter().any(|a| a == flag) {
            args.push((*flag).into());
        }
    }
    let quoted = args.iter().map(|a| {
        if a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c)) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    });
    std::iter::once("tdrecon".to_string()).chain(quoted).collect::<Vec<_>>().join(" ")
}
