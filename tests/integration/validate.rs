//! `tdrecon validate` and `tdrecon template` on real files.

use crate::util::{Workdir, stderr, stdout, summary_line};

#[test]
fn errors_csv_has_exact_rows_and_real_line_numbers() {
    let wd = Workdir::new();
    // CRLF endings, a blank line, a quoted field over two lines, a BOM.
    let input = "\u{FEFF}Call ID,Revenue,Buyer Converted,Notes\r\n\
                 100000001,$1,234.50,Yes,\r\n\
                 \r\n\
                 100000002,12.345,no,\"two\r\nlines\"\r\n\
                 1.00E+08,5,yes,\r\n\
                 100000001,7,yes,\r\n\
                 100000003,=1+1,yes,\r\n\
                 100000004,,,\r\n\
                 100000005,5\r\n";
    wd.write("in.csv", input.replace(",Notes", ",Agent Call Disposition Notes").replace("$1,234.50", "\"$1,234.50\""));
    let out = wd.run(wd.command(&["validate", "in.csv", "--errors", "err.csv"]).env("X", "1"), 1);
    let errors = wd.read("err.csv");
    let rows: Vec<&str> = errors.lines().collect();
    assert_eq!(rows[0], "line,column,value,reason,Call ID,Revenue,Buyer Converted,Agent Call Disposition Notes");
    let expected = [
        // A properly quoted note over two lines: no word of a quote left open.
        "4,Revenue,12.345,more than 2 decimal places: amounts are never rounded,100000002,12.345,no,\"two",
        "lines\"",
        "6,Call ID,1.00E+08,looks like a spreadsheet reformatted this id as a number (scientific notation or decimals): format the id column as text and export again,1.00E+08,5,yes,",
        "7,Call ID,100000001,call 100000001 already appears on line 2,100000001,7,yes,",
        "8,Revenue,'=1+1,\"not an amount: expected an amount like 1234.50 or $1,234.50\",100000003,'=1+1,yes,",
        "9,Call ID,100000004,nothing to update: every other cell is empty,100000004,,,",
        "10,,,\"expected 4 fields like the header row, found 2\",100000005,5",
    ];
    assert_eq!(&rows[1..], &expected, "errors.csv:\n{errors}");
    let summary = stdout(&out);
    for (label, n) in [("rows read", 7), ("  valid", 1), ("  invalid", 6), ("    invalid value (Revenue)", 2)] {
        assert!(summary.contains(&summary_line(label, n)), "{label}: {summary}");
    }
}

#[test]
fn all_valid_exits_zero_and_writes_an_empty_report() {
    let wd = Workdir::new();
    wd.write("ok.csv", "id,revenue\n1,2\n3,4\n");
    wd.run(&mut wd.command(&["validate", "ok.csv"]), 0);
    // The default report sits in the working directory, named after the input.
    assert_eq!(wd.read("ok.errors.csv"), "line,column,value,reason,id,revenue\n");
}

/// errors.csv cannot be written (a full disk): validation stops at once with
/// exit 3 and says which file, rather than finishing the file or hanging.
#[test]
fn a_full_disk_under_errors_csv_stops_validation() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: this machine has no /dev/full");
        return;
    }
    let wd = Workdir::new();
    let rows: String = (0..50_000).map(|i| format!("{},not money\n", 100_000_000 + i)).collect();
    wd.write("bad.csv", format!("call_id,revenue\n{rows}"));
    let out = wd.run(&mut wd.command(&["validate", "bad.csv", "--errors", "/dev/full"]), 3);
    assert!(stderr(&out).contains("cannot write /dev/full"), "{}", stderr(&out));
}

#[test]
fn unclosed_quote_is_reported_with_its_line() {
    let wd = Workdir::new();
    wd.write("q.csv", "id,agent_call_disposition_notes\n1,fine\n2,\"never closed\n3,lost\n4,lost\n");
    wd.run(&mut wd.command(&["validate", "q.csv", "--errors", "e.csv"]), 1);
    let errors = wd.read("e.csv");
    assert!(errors.contains("3,,,a quote opened in this record is never closed: it swallowed lines 3-5"), "{errors}");
}

#[test]
fn invalid_utf8_names_the_column() {
    let wd = Workdir::new();
    wd.write("u.csv", b"id,revenue\n1,\xff\xfe\n2,3\n");
    wd.run(&mut wd.command(&["validate", "u.csv", "--errors", "e.csv"]), 1);
    let errors = wd.read("e.csv");
    assert!(errors.contains("2,revenue,\u{FFFD}\u{FFFD},\"not valid UTF-8 text: looks like Windows-1252"), "{errors}");
    assert!(errors.contains("add --encoding windows-1252"), "{errors}");
}

#[test]
fn header_problems_exit_2_with_one_clear_sentence() {
    let wd = Workdir::new();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "typo.csv",
            b"id,revenu,Call Summary\n1,2,x\n",
            "unknown columns: \"revenu\" (did you mean `revenue`?), \"Call Summary\"",
        ),
        ("noid.csv", b"revenue,payout\n1,2\n", "no id column"),
        ("empty.csv", b"", "is empty"),
        ("png.csv", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", "is not text: byte 8 is a NUL byte"),
        ("prose.csv", b"Dear operator, here is the report\n", "no column tdrecon knows"),
    ];
    for (name, content, want) in cases {
        wd.write(name, content);
        let out = wd.run(&mut wd.command(&["validate", name]), 2);
        let err = stderr(&out);
        assert!(err.contains(want), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: one sentence, got {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    }
    let out = wd.run(&mut wd.command(&["validate", "missing.csv"]), 2);
    assert!(stderr(&out).contains("cannot read missing.csv"), "{}", stderr(&out));
    let out = wd.run(&mut wd.command(&["validate", "."]), 2);
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

#[test]
fn map_ignore_and_delimiter() {
    let wd = Workdir::new();
    wd.write("m.csv", "Call;Buyer Revenue;Buyer Name\n1;$5.00;Acme\n");
    wd.run(&mut wd.command(&["validate", "m.csv", "--delimiter", ";"]), 2);
    wd.run(
        &mut wd.command(&[
            "validate",
            "m.csv",
            "--delimiter",
            ";",
            "--map",
            "Call=id",
            "--map",
            "Buyer Revenue=revenue",
            "--ignore-column",
            "Buyer Name",
        ]),
        0,
    );
    let out = wd.run(&mut wd.command(&["validate", "m.csv", "--map", "Call=revenu"]), 2);
    assert!(stderr(&out).contains("did you mean `revenue`"), "{}", stderr(&out));
}

#[test]
fn samples_validate_as_documented() {
    let wd = Workdir::new();
    let root = env!("CARGO_MANIFEST_DIR");
    let nightly = format!("{root}/samples/nightly-buyer-report.csv");
    let out = wd.run(&mut wd.command(&["validate", &nightly, "--errors", "e.csv"]), 1);
    assert!(stdout(&out).contains(&summary_line("  invalid", 4)), "{}", stdout(&out));
    let lines: Vec<String> =
        wd.read("e.csv").lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect();
    assert_eq!(lines, ["41", "124", "205", "255"]);
    assert!(!stdout(&out).contains("note:"), "no column reassigns calls: {}", stdout(&out));
    wd.run(&mut wd.command(&["validate", &format!("{root}/samples/disposition-backfill.csv")]), 0);
    // Moving calls to other buyers takes an explicit Reassign Buyer column.
    let by_name = format!("{root}/samples/disposition-by-name.csv");
    let out = wd.run(&mut wd.command(&["validate", &by_name]), 0);
    assert!(stdout(&out).contains("reassign_buyer"), "{}", stdout(&out));
}

#[test]
fn templates_print_valid_files() {
    let wd = Workdir::new();
    for use_case in ["revenue", "disposition", "tokens", "all"] {
        let out = wd.run(&mut wd.command(&["template", use_case]), 0);
        wd.write("t.csv", &out.stdout);
        wd.run(&mut wd.command(&["validate", "t.csv"]), 0);
    }
    let out = wd.run(&mut wd.command(&["template", "nonsense"]), 2);
    assert!(stderr(&out).contains("invalid value"), "{}", stderr(&out));
}
