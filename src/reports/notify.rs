//! `--notify URL`: word when a run or plan ends, whatever its exit code. A
//! POST of the summary (the fields of `--summary-json`) with a one-line
//! `text` that Slack's and Teams' incoming webhooks show as it is:
//! `tdrecon run night.csv (acme.trackdrive.com): 2,981 ok, 12 invalid,
//! 7 need a look — exit 1`.
//!
//! Bounded: every receiver together may hold the exit back `BUDGET` at
//! most (each attempt limited to what is left of it, a failed one retried
//! after a short pause while time remains); a receiver that never answers
//! is said in a warning naming its host alone (a webhook URL's path is its
//! secret). The summary holds no key, and none is sent.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::reports::summary::RunSummary;

/// The longest the notifications may delay the exit, all receivers together.
pub const BUDGET: Duration = Duration::from_secs(5);
/// The pause before a failed attempt is tried again.
const PAUSE: Duration = Duration::from_millis(300);

/// Why a notification URL is refused.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--notify {}: not a URL ({e})", host_of(url)))?;
    let host = parsed.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback =
        bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "--notify {}: an https:// URL (plain http only to this machine): a summary is not sent in clear",
            host_of(url)
        )),
    }
}

/// The host of a URL, for messages: never its path or query.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| "(a URL)".into())
}

/// The line a chat shows: what ran, on which file and account, the rows by
/// what a person does next, and the exit code.
pub fn line(command: &str, input: &str, account: &str, s: &RunSummary, exit: i32) -> String {
    use crate::outcome::Status;
    let mut parts = Vec::new();
    for (n, words) in [
        (s.count(Status::Ok), "ok"),
        (s.count(Status::WouldChange), "would change"),
        (s.count(Status::Unchanged), "unchanged"),
        (s.count(Status::AlreadyApplied), "already applied"),
        (s.validation.rejected, "invalid"),
        (s.failures() + s.count(Status::NotSent), "need a look"),
    ] {
        if n > 0 || words == "ok" && command == "run" {
            parts.push(format!("{} {words}", thousands(n)));
        }
    }
    let stopped = match &s.stop {
        Some(crate::trackdrive::gate::StopReason::Interrupted) => ", interrupted".to_string(),
        Some(crate::trackdrive::gate::StopReason::Aborted(why)) => format!(", stopped: {}", first_line(why)),
        None => String::new(),
    };
    format!("tdrecon {command} {input} ({account}): {}{stopped} — exit {exit}", parts.join(", "))
}

/// The line of a command that ended before it had a summary.
pub fn failure_line(command: &str, input: &str, error: &str, exit: i32) -> String {
    format!("tdrecon {command} {input}: {} — exit {exit}", first_line(error))
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

/// `2,981`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The body: the summary's fields, and `text`.
pub fn body(summary: &Value, text: &str) -> Value {
    let mut body = match summary {
        Value::Object(map) => Value::Object(map.clone()),
        other => json!({ "summary": other }),
    };
    body["text"] = json!(text);
    body
}

/// Posts `body` to every URL, within `BUDGET`; warns of each that did not
/// take it. Blocking: runs on a thread of its own (the caller may be inside
/// the job's runtime).
pub fn send(urls: &[String], body: &Value) {
    // A URL refused at the start (its refusal is the failure being said)
    // is never tried.
    let urls: Vec<String> = urls.iter().filter(|u| check_url(u).is_ok()).cloned().collect();
    if urls.is_empty() {
        return;
    }
    let body = body.clone();
    let failures = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let Ok(runtime) = runtime else { return vec!["cannot start the notifier".to_string()] };
        runtime.block_on(post_all(&urls, &body))
    })
    .join()
    .unwrap_or_else(|_| vec!["the notifier failed".to_string()]);
    for failure in failures {
        crate::console::warn(&format!("warning: {failure}"));
    }
}

async fn post_all(urls: &[String], body: &Value) -> Vec<String> {
    let deadline = Instant::now() + BUDGET;
    let client = match crate::trackdrive::http::client_builder().redirect(reqwest::redirect::Policy::none()).build() {
        Ok(c) => c,
        Err(e) => return vec![format!("cannot notify: {e}")],
    };
    let posts = urls.iter().map(|url| post(&client, url, body, deadline));
    futures::future::join_all(posts).await.into_iter().flatten().collect()
}

/// One receiver: `None` once it answered 2xx, else why it did not.
async fn post(client: &reqwest::Client, url: &str, body: &Value, deadline: Instant) -> Option<String> {
    let mut last = String::from("no time left");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(format!("--notify {}: not delivered within {}s ({last})", host_of(url), BUDGET.as_secs()));
        }
        match client.post(url).timeout(left).json(body).send().await {
            Ok(r) if r.status().is_success() => return None,
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                return Some(format!("--notify {}: refused ({})", host_of(url), r.status()));
            }
            // A redirect is not followed (the summary goes where it was
            // told, or nowhere), nor tried again.
            Ok(r) if r.status().is_redirection() => {
                return Some(format!("--notify {}: answered {}, a redirect: not followed", host_of(url), r.status()));
            }
            Ok(r) => last = format!("answered {}", r.status()),
            Err(e) if e.is_timeout() => last = "no answer".into(),
            Err(_) => last = "cannot connect".into(),
        }
        tokio::time::sleep(PAUSE.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_this_machine() {
        for ok in ["https://hooks.slack.com/services/T0/B0/XYZ", "http://127.0.0.1:9/hook", "http://localhost/x"] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        let e = check_url("http://hooks.example.com/services/SECRET").unwrap_err();
        assert!(e.contains("hooks.example.com") && !e.contains("SECRET"), "{e}");
        assert!(check_url("ftp://x/y").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn the_line_counts_what_a_person_does_next() {
        let mut s = RunSummary::default();
        s.statuses.insert(crate::outcome::Status::Ok, 2981);
        s.statuses.insert(crate::outcome::Status::Failed, 7);
        s.validation.rejected = 12;
        assert_eq!(
            line("run", "night.csv", "acme.trackdrive.com", &s, 1),
            "tdrecon run night.csv (acme.trackdrive.com): 2,981 ok, 12 invalid, 7 need a look — exit 1"
        );
        s.stop = Some(crate::trackdrive::gate::StopReason::Aborted("401 Unauthorized\nmore".into()));
        assert!(line("run", "n.csv", "a", &s, 3).ends_with(", stopped: 401 Unauthorized — exit 3"));
        assert_eq!(failure_line("run", "n.csv", "no API keys\nhint", 2), "tdrecon run n.csv: no API keys — exit 2");
        assert_eq!(
            (thousands(0), thousands(999), thousands(1000), thousands(1234567)),
            ("0".into(), "999".into(), "1,000".into(), "1,234,567".into())
        );
    }

    #[test]
    fn the_body_is_the_summary_and_its_line() {
        let b = body(&json!({"exit_code": 1, "statuses": {"ok": 3}}), "tdrecon run a.csv: 3 ok — exit 1");
        assert_eq!(b["exit_code"], 1);
        assert_eq!(b["text"], "tdrecon run a.csv: 3 ok — exit 1");
    }
}
