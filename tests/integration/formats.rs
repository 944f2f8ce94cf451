//! Buyer reports as they arrive: the same report as CSV, TSV, gzip, standard
//! input and a spreadsheet gives the same results; accounting negatives;
//! spreadsheet cells under the CSV rules; a saved profile instead of flags.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use crate::harness::{SimHarness, by_line, rows, run_job};
use crate::util::{Workdir, stderr, stdout};

const HEADER: [&str; 5] = ["Call ID", "Revenue", "Add Revenue", "Buyer Converted", "Agent Call Disposition Notes"];

/// The report's rows as text cells: chargebacks as a spreadsheet exports them.
fn report() -> Vec<[&'static str; 5]> {
    vec![
        ["100000001", "12.50", "", "yes", "first"],
        ["100000002", "", "(2.50)", "", "chargeback"],
        ["100000003", "", "($1,000.00)", "no", ""],
        ["100000004", "7", "", "", "a \"quoted\" note"],
        ["100000005", "", "$-3.25", "yes", "x"],
        ["100000006", "-1.00", "", "", "refused: a set amount may not be negative"],
    ]
}

fn delimited(sep: char) -> String {
    let quote =
        |c: &str| if c.contains(['"', sep, ',']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.to_string() };
    let mut s = HEADER.join(&sep.to_string());
    s.push('\n');
    for row in report() {
        s.push_str(&row.iter().map(|c| quote(c)).collect::<Vec<_>>().join(&sep.to_string()));
        s.push('\n');
    }
    s
}

fn xlsx(path: &std::path::Path) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, col as u16, *h).unwrap();
    }
    for (r, row) in report().iter().enumerate() {
        let r = r as u32 + 1;
        // Ids and set amounts as numbers, the rest as text, as exports mix them.
        sheet.write_number(r, 0, row[0].parse::<f64>().unwrap()).unwrap();
        match row[1].parse::<f64>() {
            Ok(n) => sheet.write_number(r, 1, n).unwrap(),
            Err(_) => sheet.write_string(r, 1, row[1]).unwrap(),
        };
        for (c, cell) in row.iter().enumerate().skip(2) {
            sheet.write_string(r, c as u16, *cell).unwrap();
        }
    }
    book.save(path).unwrap();
}

/// What a run did to each call, and each row's status (line and timing aside).
fn outcome(wd: &Workdir, results: &str, sim: &SimHarness) -> (BTreeMap<String, String>, BTreeMap<u64, String>) {
    let statuses = rows(&wd.read(results)).into_iter().map(|r| (r["id"].clone(), r["status"].clone())).collect();
    let revenue =
        sim.calls_by_id().into_iter().map(|(id, c)| (id, c["revenue"].as_str().unwrap().to_string())).collect();
    (statuses, revenue)
}

fn run(wd: &Workdir, sim: &SimHarness, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = run_job(wd, sim, args[0], &args[1..]);
    let out = match stdin {
        None => cmd.output().unwrap(),
        Some(text) => {
            let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        }
    };
    assert_eq!(out.status.code(), Some(1), "one row is invalid: {}\n{}", stdout(&out), stderr(&out));
    out
}

#[test]
fn the_same_report_as_csv_tsv_gzip_stdin_and_xlsx_gives_the_same_results() {
    let wd = Workdir::new();
    wd.write("r.csv", delimited(','));
    wd.write("t.tsv", delimited('\t'));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(delimited(',').as_bytes()).unwrap();
    wd.write("g.csv.gz", gz.finish().unwrap());
    xlsx(&wd.path("x.xlsx"));

    let cases: [(&[&str], Option<&str>, &str); 5] = [
        (&["r.csv"], None, "r.results.csv"),
        (&["t.tsv"], None, "t.results.csv"),
        (&["g.csv.gz"], None, "g.results.csv"),
        (&["-"], Some(&delimited(',')), "stdin.results.csv"),
        (&["x.xlsx"], None, "x.results.csv"),
    ];
    let mut seen = Vec::new();
    for (args, stdin, results) in cases {
        let sim = SimHarness::start(6, |_| {});
        run(&wd, &sim, args, stdin);
        let errors = results.replace("results", "errors");
        let invalid = rows(&wd.read(&errors));
        assert_eq!(invalid.len(), 1, "{args:?}: {invalid:?}");
        assert_eq!((invalid[0]["line"].as_str(), invalid[0]["column"].as_str()), ("7", "Revenue"), "{args:?}");
        let lines: Vec<u64> = by_line(&wd.read(results)).keys().copied().collect();
        assert_eq!(lines.len(), 5, "{args:?}");
        seen.push((args[0], outcome(&wd, results, &sim)));
    }
    let (first, want) = &seen[0];
    let revenue = &want.1;
    assert_eq!(revenue[&100000002], "-2.50");
    assert_eq!(revenue[&100000003], "-1000.00");
    assert_eq!(revenue[&100000005], "-3.25");
    assert_eq!(revenue[&100000004], "7.00");
    for (name, got) in &seen[1..] {
        assert_eq!(got, want, "{name} differs from {first}");
    }
}

#[test]
fn spreadsheet_numbers_follow_the_csv_rules_and_rows_keep_their_numbers() {
    let wd = Workdir::new();
    let mut book = rust_xlsxwriter::Workbook::new();
    let other = book.add_worksheet();
    other.set_name("Notes").unwrap();
    other.write_string(0, 0, "not the calls").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Calls").unwrap();
    sheet.write_string(0, 0, "id").unwrap();
    sheet.write_string(0, 1, "revenue").unwrap();
    sheet.write_number(1, 0, 100000001.0).unwrap();
    sheet.write_number(1, 1, 1234.5).unwrap();
    // A blank row, then a formula's float that is not two decimals.
    sheet.write_number(3, 0, 100000002.0).unwrap();
    sheet.write_number(3, 1, 1234.4999999999998).unwrap();
    sheet.write_number(4, 0, 9_007_199_254_740_993.0).unwrap();
    sheet.write_number(4, 1, 5.0).unwrap();
    book.save(wd.path("book.xlsx")).unwrap();

    // It opens on its first sheet, which is not the report: the one that is, is named.
    let out = wd.run(&mut wd.command(&["validate", "book.xlsx"]), 2);
    let said = stderr(&out);
    assert!(said.contains("no column tdrecon knows") && said.contains(r#"on the sheet "Calls""#), "{said}");
    let out = wd.run(&mut wd.command(&["validate", "book.xlsx", "--sheet", "Nope"]), 2);
    assert!(stderr(&out).contains(r#"its sheets are: "Notes", "Calls""#), "{}", stderr(&out));
    wd.run(&mut wd.command(&["validate", "book.xlsx", "--sheet", "Calls"]), 1);
    let errors = rows(&wd.read("book.errors.csv"));
    let found: Vec<(&str, &str)> = errors.iter().map(|r| (r["line"].as_str(), r["reason"].as_str())).collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "4", "the sheet's row number");
    assert!(found[0].1.contains("more than 2 decimal places"), "{found:?}");
    assert_eq!(found[1].0, "5");
    assert!(found[1].1.contains("spreadsheet"), "an id past 2^53 is refused with the spreadsheet hint: {found:?}");
    let sim = SimHarness::start(2, |_| {});
    run(&wd, &sim, &["book.xlsx", "--sheet", "Calls"], None);
    assert_eq!(sim.call(100000001)["revenue"], "1234.50");
}

#[test]
fn a_profile_reproduces_a_run_that_needed_four_flags() {
    let wd = Workdir::new();
    let text = "Call;Buyer Revenue;Internal;Sold\n100000001;$5.00;x;yes\n100000002;;y;no\n100000003;abc;z;yes\n";
    wd.write("in.csv", text);
    let flags = [
        "--delimiter",
        ";",
        "--map",
        "Call=id",
        "--map",
        "Buyer Revenue=revenue",
        "--map",
        "Sold=buyer_converted",
        "--ignore-column",
        "Internal",
    ];
    let sim = SimHarness::start(3, |_| {});
    let mut args = vec!["in.csv", "--results", "flags.csv", "--errors", "flags.errors.csv"];
    args.extend_from_slice(&flags);
    run(&wd, &sim, &args, None);
    let by_flags = outcome(&wd, "flags.csv", &sim);

    wd.write(
        "nightly.toml",
        "delimiter = \";\"\nignore_column = [\"Internal\"]\n[map]\nCall = \"id\"\n\"Buyer Revenue\" = \"revenue\"\nSold = \"buyer_converted\"\n",
    );
    let sim = SimHarness::start(3, |_| {});
    run(
        &wd,
        &sim,
        &["in.csv", "--config", "nightly.toml", "--results", "profile.csv", "--errors", "profile.errors.csv"],
        None,
    );
    assert_eq!(outcome(&wd, "profile.csv", &sim), by_flags);
    assert_eq!(wd.read("profile.errors.csv"), wd.read("flags.errors.csv"));

    // Flags win over the file; the file may not hold keys or unknown keys.
    wd.write("bad.toml", "rat = 5\n");
    let out = wd.run(&mut wd.command(&["validate", "in.csv", "--config", "bad.toml"]), 2);
    assert!(stderr(&out).contains("unknown key `rat` (did you mean `rate`?)"), "{}", stderr(&out));
    wd.write("secret.toml", "private_key = \"sk_live_123\"\n");
    let out = wd.run(&mut wd.command(&["validate", "in.csv", "--config", "secret.toml"]), 2);
    assert!(
        stderr(&out).contains("Keys never go in a profile") && !stderr(&out).contains("sk_live"),
        "{}",
        stderr(&out)
    );
    let template = stdout(&wd.run(&mut wd.command(&["template", "--config"]), 0));
    wd.write("t.toml", &template);
    // As printed, it validates a plain file.
    wd.write("plain.csv", "id,revenue\n100000001,25.00\n");
    wd.run(&mut wd.command(&["validate", "plain.csv", "--config", "t.toml"]), 0);
    // A profile's delimiter that does not fit the file is named as the cause.
    wd.write("semi.toml", "delimiter = \";\"\n");
    let out = wd.run(&mut wd.command(&["validate", "plain.csv", "--config", "semi.toml"]), 2);
    assert!(stderr(&out).contains("read with the delimiter ';'"), "{}", stderr(&out));
    // Its tables uncommented, as an operator starts from them.
    let uncommented: String = template
        .lines()
        .map(|l| l.strip_prefix("# ").filter(|rest| rest.starts_with(['[', '"'])).unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    wd.write("t.toml", &uncommented);
    wd.run(
        &mut wd.command(&[
            "validate",
            "in.csv",
            "--config",
            "t.toml",
            "--delimiter",
            ";",
            "--map",
            "Call=id",
            "--ignore-column",
            "Internal",
            "--map",
            "Sold=buyer_converted",
        ]),
        1,
    );
}
