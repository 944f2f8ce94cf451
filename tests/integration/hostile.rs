//! Hostile input and hostile servers: huge files, cells and records, files
//! that are not text, servers that flood or lie, flags out of range. Huge
//! inputs are made at test time (sparse files, or written in chunks) and
//! huge responses streamed by a loopback server here; nothing is committed.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};

use crate::harness::{SimHarness, by_line, rows, run_job, with_keys};
use crate::util::{Workdir, stderr, stdout, summary_line};

#[test]
fn a_file_of_zeros_stops_validate_and_run_at_its_first_byte() {
    let wd = Workdir::new();
    // 5 GiB, sparse: `truncate -s 5G big.csv`.
    std::fs::File::create(wd.path("big.csv")).unwrap().set_len(5 << 30).unwrap();
    let out = wd.run(&mut wd.command(&["validate", "big.csv"]), 2);
    assert!(stderr(&out).contains("big.csv is not text: byte 0 is a NUL byte"), "{}", stderr(&out));
    let sim = SimHarness::start(1, |_| {});
    let url = sim.url();
    let mut cmd = with_keys(wd.command(&["run", "big.csv", "--base-url", &url]));
    let out = wd.run(&mut cmd, 2);
    assert!(stderr(&out).contains("byte 0 is a NUL byte"), "{}", stderr(&out));
    // NUL part-way: found before anything is sent.
    wd.write("late.csv", b"id,revenue\n100000001,1\n100000001\0\0\0,2\n");
    let mut cmd = with_keys(wd.command(&["run", "late.csv", "--base-url", &url]));
    let out = wd.run(&mut cmd, 2);
    assert!(stderr(&out).contains("byte 32 is a NUL byte"), "{}", stderr(&out));
    assert_eq!(sim.stat("requests"), 0);
}

/// Writes `count` copies of `piece` to `w` without building them in memory.
fn repeat(w: &mut impl Write, piece: &[u8], count: usize) {
    for _ in 0..count {
        w.write_all(piece).unwrap();
    }
}

#[test]
fn huge_cells_records_and_token_objects_are_rejected_with_their_line_and_the_rest_goes_on() {
    let wd = Workdir::new();
    let mut f = BufWriter::new(std::fs::File::create(wd.path("in.csv")).unwrap());
    f.write_all(b"id,agent_call_disposition_notes,post_call_tokens\n100000001,fine,\n").unwrap();
    // Line 3: a 200 MB note.
    f.write_all(b"100000002,\"").unwrap();
    repeat(&mut f, &[b'n'; 1 << 20], 200);
    f.write_all(b"\",\n").unwrap();
    // Line 4: 50 million commas.
    f.write_all(b"100000003,").unwrap();
    repeat(&mut f, &[b','; 1 << 20], 50);
    f.write_all(b"\n").unwrap();
    // Line 5: a 100 KB token object; line 6: a key twice.
    let big = format!("{{\"\"note\"\":\"\"{}\"\"}}", "t".repeat(100_000));
    f.write_all(format!("100000004,,\"{big}\"\n").as_bytes()).unwrap();
    f.write_all(b"100000005,,\"{\"\"zip\"\":\"\"1\"\",\"\"zip\"\":\"\"2\"\"}\"\n100000006,also fine,\n").unwrap();
    f.into_inner().unwrap().sync_all().unwrap();

    let out = wd.run(&mut wd.command(&["validate", "in.csv"]), 1);
    let errors = rows(&wd.read("in.errors.csv"));
    let found: Vec<(&str, &str)> = errors.iter().map(|r| (r["line"].as_str(), r["reason"].as_str())).collect();
    assert_eq!(found.len(), 4, "{found:?}\n{}", stdout(&out));
    let want = [
        ("3", "over the limit of 1 MiB a record"),
        ("4", "over the limit of 1,000 fields a record"),
        ("5", "over the limit of 64 KiB a cell"),
        ("6", "\"zip\" appears twice"),
    ];
    for ((line, reason), (want_line, want_reason)) in found.iter().zip(want) {
        assert_eq!(*line, want_line);
        assert!(reason.contains(want_reason), "line {line}: {reason}");
    }
    // The report stays small: oversize records are not echoed.
    assert!(std::fs::metadata(wd.path("in.errors.csv")).unwrap().len() < 200_000);
    assert!(stdout(&out).contains(&summary_line("  valid", 2)), "{}", stdout(&out));

    let sim = SimHarness::start(10, |_| {});
    wd.run(&mut run_job(&wd, &sim, "in.csv", &[]), 1);
    let results = by_line(&wd.read("in.results.csv"));
    let mut lines: Vec<u64> = results.keys().copied().collect();
    lines.sort();
    assert_eq!(lines, [2, 7]);
    assert!(results.values().all(|r| r["status"] == "ok"));
}

/// A loopback server that answers each call's update as its id says:
/// 1, 200 with a 1 GiB body; 2, 422 with a 512 MiB body; 3, 200 with HTML.
fn lying_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    url
}

fn answer(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let (mut path, mut length) = (String::new(), 0usize);
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        if path.is_empty() {
            path = line.split(' ').nth(1).unwrap_or_default().to_string();
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut out = stream;
    let (status, size, fill): (&str, u64, u8) = match path.rsplit('/').next() {
        Some("1") => ("200 OK", 1 << 30, b'a'),
        Some("2") => ("422 Unprocessable Entity", 512 << 20, b'e'),
        _ => ("200 OK", 0, 0),
    };
    if size == 0 {
        let html = "<html><body>Saved!</body></html>";
        let _ = write!(out, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}", html.len());
        return;
    }
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    let chunk = vec![fill; 1 << 16];
    let mut sent = 0;
    // Stops when the client hangs up, as it should long before the end.
    while sent < size && out.write_all(&chunk).is_ok() {
        sent += chunk.len() as u64;
    }
}

#[test]
fn a_server_that_floods_or_lies_cannot_grow_memory_and_rows_follow_the_status() {
    let url = lying_server();
    let wd = Workdir::new();
    wd.write("in.csv", "id,revenue\n1,1.00\n2,2.00\n3,3.00\n");
    let mut cmd = with_keys(wd.command(&[
        "run",
        "in.csv",
        "--base-url",
        &url,
        "--rate",
        "0",
        "--quiet",
        "--summary-json",
        "s.json",
    ]));
    let out = wd.run(&mut cmd, 1);
    let results = by_line(&wd.read("in.results.csv"));
    let flood = &results[&2];
    assert_eq!(flood["status"], "ok");
    assert!(flood["error"].contains("response not understood: the body is over 1048576 bytes"), "{flood:?}");
    assert_eq!(flood["revenue_after"], "");
    let refused = &results[&3];
    assert_eq!(refused["status"], "rejected");
    assert!(refused["error"].starts_with("422: ee") && refused["error"].chars().count() <= 301, "{refused:?}");
    let html = &results[&4];
    assert_eq!(html["status"], "ok");
    assert!(html["error"].contains("not the JSON object the API sends (\"<html>"), "{html:?}");
    assert!(stdout(&out).contains(&summary_line("  responses not understood", 2)), "{}", stdout(&out));
    let summary: serde_json::Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert_eq!(summary["responses_not_understood"], 2);
}

/// The window's page is answered with HTML: the plan goes on a row at a
/// time, and the discrepancies say why there are none, not "no window".
#[test]
fn a_window_that_cannot_be_read_says_so_of_the_discrepancies() {
    let url = lying_server();
    let wd = Workdir::new();
    wd.write("in.csv", "id,call_time,revenue\n4,2026-11-27 18:02,1.00\n5,2026-11-27 18:09,2.00\n");
    let args = ["plan", "in.csv", "--base-url", &url, "--buyer", "7", "--discrepancies-only", "--quiet"];
    let out = wd.run(&mut with_keys(wd.command(&args)), 0);
    let text = stdout(&out);
    assert!(text.contains("cannot read the calls of the window"), "{text}");
    assert!(text.contains("no discrepancies: the window's calls could not be read"), "{text}");
}

#[test]
fn numbers_and_durations_out_of_range_are_usage_errors_naming_the_flag() {
    let wd = Workdir::new();
    wd.write("in.csv", "id,revenue\n1,1\n");
    let cases = [
        (&["--timeout", "99999999999999999999"][..], "--timeout"),
        (&["--max-pause", "18000000000000000000"], "--max-pause"),
        (&["--concurrency", "0"], "--concurrency"),
        (&["--rate", "1000000"], "--rate"),
        (&["--max-retries", "4294967295"], "--max-retries"),
    ];
    for (flags, name) in cases {
        let mut args = vec!["run", "in.csv", "--sandbox"];
        args.extend_from_slice(flags);
        let out = wd.run(&mut wd.command(&args), 2);
        let err = stderr(&out);
        assert!(err.contains(name) && (err.contains("not in") || err.contains("expected")), "{flags:?}: {err}");
    }
    // The simulator's faults file: a value out of range is refused naming its key.
    wd.write("faults.toml", "latency_ms = 99999999999\n");
    let out = wd.run(&mut wd.command(&["sim", "--faults", "faults.toml"]), 2);
    assert!(stderr(&out).contains("latency_ms"), "{}", stderr(&out));
}
