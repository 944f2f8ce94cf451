//! A report read exactly as the buyer sees it: workbooks, encodings and
//! value maps made the way buyers and CRMs make them, each checked against
//! the simulator's state: every amount the file shows applied once, and
//! nothing applied that it does not show.

use std::collections::HashMap;
use std::io::{Read, Write};

use rust_xlsxwriter::{CalculationMode, Formula, Workbook, Worksheet};
use serde_json::Value;

use crate::harness::{FIRST, SimHarness, by_line, plan_job, rows, run_job};
use crate::util::{Workdir, stderr, stdout};

/// Each call's revenue, payout and updates, to compare before and after.
fn money(sim: &SimHarness) -> HashMap<u64, (String, String, u64)> {
    let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    sim.calls_by_id()
        .into_iter()
        .map(|(id, c)| (id, (text(&c, "revenue"), text(&c, "payout"), c["updates_applied"].as_u64().unwrap())))
        .collect()
}

/// The calls whose revenue, payout or update count changed between two reads.
fn changed(before: &HashMap<u64, (String, String, u64)>, after: &HashMap<u64, (String, String, u64)>) -> Vec<u64> {
    let mut ids: Vec<u64> = after.iter().filter(|(id, v)| before[id] != **v).map(|(id, _)| *id).collect();
    ids.sort();
    ids
}

fn write_row(sheet: &mut Worksheet, row: u32, cells: &[&str]) {
    for (col, cell) in cells.iter().enumerate() {
        match cell.parse::<f64>() {
            Ok(n) => sheet.write_number(row, col as u16, n).unwrap(),
            Err(_) => sheet.write_string(row, col as u16, *cell).unwrap(),
        };
    }
}

/// Case 1: a hidden first sheet is never read unless named; the sheet the
/// workbook opens on is.
#[test]
fn the_sheet_read_is_the_one_the_workbook_opens_on_never_a_hidden_one() {
    let wd = Workdir::new();
    let mut book = Workbook::new();
    let old = book.add_worksheet().set_name("Old night").unwrap();
    write_row(old, 0, &["Call ID", "Add Payout"]);
    write_row(old, 1, &[&FIRST.to_string(), "-99.00"]);
    old.set_hidden(true);
    let tonight = book.add_worksheet().set_name("Tonight").unwrap();
    write_row(tonight, 0, &["Call ID", "Add Payout"]);
    write_row(tonight, 1, &[&(FIRST + 1).to_string(), "-5.00"]);
    tonight.set_active(true);
    book.save(wd.path("night.xlsx")).unwrap();

    let sim = SimHarness::start(3, |_| {});
    let before = money(&sim);
    wd.run(&mut run_job(&wd, &sim, "night.xlsx", &[]), 0);
    let after = money(&sim);
    assert_eq!(changed(&before, &after), [FIRST + 1], "only the visible sheet's call");
    // A text file's delimiter (a profile's, say) does not apply to a workbook.
    let out = wd.run(&mut wd.command(&["validate", "night.xlsx", "--delimiter", ";"]), 0);
    assert!(stdout(&out).contains(r#"read from the sheet "Tonight""#), "said which sheet: {}", stdout(&out));
    let (_, payout, updates) = &after[&(FIRST + 1)];
    let was: f64 = before[&(FIRST + 1)].1.parse().unwrap();
    assert_eq!((payout.parse::<f64>().unwrap(), *updates), (was - 5.0, 1));
    // Named, a hidden sheet is read: the user asked for it.
    let out = wd.run(&mut wd.command(&["validate", "night.xlsx", "--sheet", "Old night"]), 0);
    assert!(stdout(&out).contains("valid                                        1"), "{}", stdout(&out));

    // A workbook opening on its third sheet is read from it, not its first.
    let mut book = Workbook::new();
    write_row(book.add_worksheet().set_name("Summary").unwrap(), 0, &["Call ID", "Revenue"]);
    write_row(book.worksheet_from_name("Summary").unwrap(), 1, &[&FIRST.to_string(), "1.00"]);
    write_row(book.add_worksheet().set_name("Notes").unwrap(), 0, &["read me"]);
    let calls = book.add_worksheet().set_name("Calls").unwrap();
    write_row(calls, 0, &["Call ID", "Revenue"]);
    write_row(calls, 1, &[&(FIRST + 2).to_string(), "30.00"]);
    calls.set_active(true);
    book.save(wd.path("third.xlsx")).unwrap();
    let before = money(&sim);
    wd.run(&mut run_job(&wd, &sim, "third.xlsx", &[]), 0);
    let after = money(&sim);
    assert_eq!(changed(&before, &after), [FIRST + 2]);
    assert_eq!(after[&(FIRST + 2)].0, "30.00");

    // A workbook opening on a sheet without the report names the sheets that carry it.
    let mut book = Workbook::new();
    write_row(book.add_worksheet().set_name("Cover").unwrap(), 0, &["Acme Leads nightly report"]);
    write_row(book.add_worksheet().set_name("Calls").unwrap(), 0, &["Call ID", "Revenue"]);
    let hidden = book.add_worksheet().set_name("Old").unwrap();
    write_row(hidden, 0, &["call_id", "add_revenue"]);
    hidden.set_hidden(true);
    book.save(wd.path("cover.xlsx")).unwrap();
    let out = wd.run(&mut wd.command(&["validate", "cover.xlsx"]), 2);
    let said = stderr(&out);
    assert!(
        said.contains(r#"read from the sheet "Cover"; tdrecon columns are on the sheets "Calls", "Old" (hidden): name one with --sheet"#),
        "{said}"
    );
    // A workbook whose every sheet is hidden says so.
    let mut book = Workbook::new();
    write_row(book.add_worksheet().set_name("A").unwrap(), 0, &["id"]);
    let b = book.add_worksheet().set_name("B").unwrap();
    b.set_hidden(true);
    b.set_active(false);
    book.save(wd.path("hidden.xlsx")).unwrap();
    rewrite(&wd.path("hidden.xlsx"), |name, xml| {
        if name == "xl/workbook.xml" {
            xml.replace(r#"<sheet name="A""#, r#"<sheet state="hidden" name="A""#)
        } else {
            xml
        }
    });
    let out = wd.run(&mut wd.command(&["validate", "hidden.xlsx"]), 2);
    assert!(
        stderr(&out).contains(r#"every sheet of it is hidden ("A", "B"); name the one to read with --sheet"#),
        "{}",
        stderr(&out)
    );
}

/// Rewrites the parts of an `.xlsx` through `edit(name, text)`.
fn rewrite(path: &std::path::Path, edit: impl Fn(&str, String) -> String) {
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        out.start_file(name.as_str(), options).unwrap();
        out.write_all(edit(&name, text).as_bytes()).unwrap();
    }
    out.finish().unwrap();
}

/// Case 2: a formula whose value a spreadsheet never computed is refused,
/// naming its cell; one whose value it computed is read by that value.
#[test]
fn a_formula_never_computed_is_refused_naming_its_cell() {
    let wd = Workdir::new();
    let book_with = |mode: Option<CalculationMode>, result: Option<&str>| {
        let mut book = Workbook::new();
        if let Some(mode) = mode {
            book.set_calculation_mode(mode);
        }
        let sheet = book.add_worksheet();
        write_row(sheet, 0, &["Call ID", "Revenue", "Agent Call Disposition Notes", "Add Payout"]);
        for r in 1..14u32 {
            write_row(sheet, r, &[&(FIRST + u64::from(r) - 1).to_string(), "10.00", "sold"]);
        }
        let formula = Formula::new("=-25");
        let formula = match result {
            Some(value) => formula.set_result(value),
            None => formula,
        };
        sheet.write_formula(13, 3, formula).unwrap();
        book
    };
    // As a script writes it (rust_xlsxwriter, XlsxWriter, openpyxl): the
    // workbook asks to be recalculated, and stores 0 for the formula.
    book_with(None, None).save(wd.path("script.xlsx")).unwrap();
    // As openpyxl writes it: no value at all, nor any word of recalculating.
    book_with(Some(CalculationMode::Manual), None).save(wd.path("openpyxl.xlsx")).unwrap();
    rewrite(&wd.path("openpyxl.xlsx"), |name, xml| {
        if name.starts_with("xl/worksheets/") { xml.replace("</f><v>0</v>", "</f><v/>") } else { xml }
    });
    // As Excel saves it: the value it computed.
    book_with(Some(CalculationMode::Manual), Some("-25")).save(wd.path("excel.xlsx")).unwrap();

    let sim = SimHarness::start(14, |_| {});
    let before = money(&sim);
    for (file, why) in [("script.xlsx", "asks to be recalculated"), ("openpyxl.xlsx", "never computed")] {
        for verb in [&["validate", file][..], &["run", file]] {
            let mut cmd = if verb[0] == "run" { run_job(&wd, &sim, file, &[]) } else { wd.command(verb) };
            let said = stderr(&wd.run(&mut cmd, 2));
            assert!(said.contains("cell D14 of the sheet \"Sheet1\" holds a formula (=-25)"), "{file}: {said}");
            assert!(
                said.contains(why) && said.contains("open the workbook in Excel or LibreOffice and save it"),
                "{said}"
            );
        }
    }
    assert_eq!(changed(&before, &money(&sim)), Vec::<u64>::new(), "nothing of a refused workbook is sent");
    assert_eq!(sim.stat("requests"), 0);

    wd.run(&mut run_job(&wd, &sim, "excel.xlsx", &[]), 0);
    let after = money(&sim);
    let last = FIRST + 12;
    let was: f64 = before[&last].1.parse().unwrap();
    assert_eq!(
        (after[&last].1.parse::<f64>().unwrap(), after[&last].2),
        (was - 25.0, 1),
        "the computed -25 applied once"
    );
    assert_eq!(changed(&before, &after).len(), 13);
}

/// Case 4: a UTF-8 file declared windows-1252 is refused with what it would have sent.
#[test]
fn a_utf8_file_declared_single_byte_is_refused() {
    let wd = Workdir::new();
    wd.write(
        "crm.csv",
        "Call ID,Agent Call Disposition Notes,Revenue\n\
         100000001,\"José called back — said “ok”\",5.00\n\
         100000002,Renée,6.00\n",
    );
    let sim = SimHarness::start(2, |_| {});
    for encoding in ["windows-1252", "latin-1", "iso-8859-15"] {
        let out = wd.run(&mut run_job(&wd, &sim, "crm.csv", &["--encoding", encoding]), 2);
        let said = stderr(&out);
        assert!(
            said.contains("but it holds UTF-8 text") && said.contains(r#""José" would be sent as "JosÃ©""#),
            "{said}"
        );
    }
    assert_eq!(sim.stat("requests"), 0);
    // Told it really is windows-1252, tdrecon reads it so.
    wd.run(&mut run_job(&wd, &sim, "crm.csv", &["--encoding", "windows-1252", "--trust-encoding"]), 0);
    assert!(sim.call(FIRST)["disposition_notes"].as_str().unwrap().starts_with("JosÃ©"));
    // A file of mixed encodings: its UTF-8 rows would be misread all the same.
    wd.write(
        "mixed.csv",
        [&b"Call ID,Agent Call Disposition Notes\n100000002,Ren\xe9e\n"[..], "100000001,José\n".as_bytes()].concat(),
    );
    let said = stderr(&wd.run(&mut run_job(&wd, &sim, "mixed.csv", &["--encoding", "windows-1252"]), 2));
    assert!(said.contains(r#""José" would be sent as "JosÃ©""#), "{said}");
    // A real windows-1252 file is read as one, and its bytes are never UTF-8.
    wd.write("legacy.csv", b"Call ID,Agent Call Disposition Notes\n100000002,Ren\xe9e\n");
    wd.run(&mut run_job(&wd, &sim, "legacy.csv", &["--encoding", "windows-1252"]), 0);
    assert_eq!(sim.call(FIRST + 1)["disposition_notes"], "Renée");
}

/// Case 5: two value maps for one value are refused, however their keys are written.
#[test]
fn two_meanings_of_one_value_are_refused() {
    let wd = Workdir::new();
    wd.write("in.csv", "Call ID,Status\n100000001,Converted\n100000002,converted\n");
    let typed: [&[&str]; 3] = [
        &["Status:Converted=yes", "Status:CONVERTED=no"],
        &["Status:Converted=yes", "Status: Converted =no"],
        &["Status:Converted=yes", "status:converted=no"],
    ];
    for maps in typed {
        let mut args = vec!["validate", "in.csv", "--map", "Status=buyer_converted"];
        for m in maps {
            args.extend(["--value-map", m]);
        }
        let said = stderr(&wd.run(&mut wd.command(&args), 2));
        assert!(said.contains("twice") && said.contains("keep the one you mean"), "{maps:?}: {said}");
    }
    // In a profile, too; and a typed map replaces the profile's for its value.
    wd.write(
        "p.toml",
        "[map]\nStatus = \"buyer_converted\"\n[value_map.Status]\nConverted = \"yes\"\n\"CONVERTED \" = \"no\"\n",
    );
    let said = stderr(&wd.run(&mut wd.command(&["validate", "in.csv", "--config", "p.toml"]), 2));
    assert!(said.contains("twice"), "{said}");
    wd.write("q.toml", "[map]\nStatus = \"buyer_converted\"\n[value_map.Status]\nConverted = \"yes\"\n");
    let sim = SimHarness::start(2, |_| {});
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--config", "q.toml", "--value-map", "Status:CONVERTED=no"]), 0);
    assert_eq!(
        (sim.call(FIRST)["buyer_converted"].clone(), sim.call(FIRST + 1)["buyer_converted"].clone()),
        (Value::Bool(false), Value::Bool(false))
    );
}

/// Case 6: a value map that names a disposition resolves it as the column does.
#[test]
fn a_value_map_naming_a_disposition_resolves_it() {
    let wd = Workdir::new();
    let mut csv = String::from("Call ID,Status\n");
    for i in 0..8 {
        csv.push_str(&format!("{},{}\n", FIRST + i, if i % 2 == 0 { "Dup" } else { "Sold" }));
    }
    wd.write("in.csv", &csv);
    wd.write(
        "p.toml",
        "[map]\nStatus = \"buyer_converted\"\n[value_map.Status]\nSold = \"yes\"\n\
         Dup = { buyer_converted = \"no\", call_disposition = \"Duplicate Call\" }\n",
    );
    let sim = SimHarness::start(8, |_| {});
    let out = wd.run(&mut plan_job(&wd, &sim, "in.csv", &["--config", "p.toml"]), 0);
    let plan = by_line(&wd.read("in.plan.csv"));
    assert!(plan.values().all(|r| r["status"] == "would_change"), "{plan:?}\n{}", stderr(&out));
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--config", "p.toml"]), 0);
    let calls = sim.calls_by_id();
    for i in 0..8 {
        let c = &calls[&(FIRST + i)];
        let want =
            if i % 2 == 0 { ("Duplicate Call", false) } else { (c["disposition_name"].as_str().unwrap_or(""), true) };
        assert_eq!(
            (c["disposition_name"].as_str().unwrap_or(""), c["buyer_converted"].as_bool().unwrap()),
            want,
            "call {i}"
        );
        assert_eq!(c["updates_applied"], 1);
    }
    // A name the account lacks is refused as the column's would be, before a request.
    wd.write("q.toml", "[map]\nStatus = \"buyer_converted\"\n[value_map.Status]\nSold = \"yes\"\nDup = { call_disposition = \"Dupe Call\" }\n");
    let sim = SimHarness::start(8, |_| {});
    let out = wd.run(&mut run_job(&wd, &sim, "in.csv", &["--config", "q.toml", "--summary-json", "s.json"]), 1);
    let errors = rows(&wd.read("in.errors.csv"));
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(errors[0]["column"], "Status (call_disposition by --value-map)");
    assert!(errors[0]["reason"].contains("Dupe Call") || errors[0]["value"] == "Dupe Call", "{errors:?}");
    let summary: Value = serde_json::from_str(&wd.read("s.json")).unwrap();
    assert_eq!(
        (summary["statuses"]["rejected"].as_u64(), summary["statuses"]["ok"].as_u64()),
        (Some(0), Some(4)),
        "{}",
        stdout(&out)
    );
    assert_eq!(sim.applied(8), [0, 1, 0, 1, 0, 1, 0, 1]);
}

/// Case 7: a negative zero in a set column sent as adds adds nothing; it
/// never sets the amount to zero.
#[test]
fn a_negative_zero_under_negative_as_add_is_an_add_of_zero() {
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "Call ID,Revenue,Buyer Converted\n100000001,(0.00),\n100000002,-$0,yes\n100000003,0.00,\n100000004,(12.50),\n",
    );
    let sim = SimHarness::start(4, |_| {});
    // Every call starts with revenue, so a wipe would show.
    wd.write("seed.csv", "Call ID,Revenue\n100000001,40.00\n100000002,40.00\n100000003,40.00\n100000004,40.00\n");
    wd.run(&mut run_job(&wd, &sim, "seed.csv", &[]), 0);
    let before = money(&sim);
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--negative-as-add", "revenue"]), 1);
    let after = money(&sim);
    let revenue = |id: u64| after[&id].0.clone();
    assert_eq!(
        [revenue(FIRST), revenue(FIRST + 1), revenue(FIRST + 2), revenue(FIRST + 3)],
        ["40.00", "40.00", "0.00", "27.50"]
    );
    assert_eq!(changed(&before, &after), [FIRST + 1, FIRST + 2, FIRST + 3], "the (0.00) row sends nothing");
    let errors = rows(&wd.read("in.errors.csv"));
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["reason"].contains("\"Revenue\" adds 0, which changes nothing"), "{errors:?}");
}

/// Case 8: a CRM export: GUIDs in braces and as URNs, notes over several lines.
#[test]
fn a_crm_export_with_braced_guids_and_multi_line_notes() {
    let wd = Workdir::new();
    let sim = SimHarness::start(4, |_| {});
    let calls = sim.calls_by_id();
    let uuid = |i: u64| calls[&(FIRST + i)]["uuid"].as_str().unwrap().to_string();
    let csv = format!(
        "Call UUID,Add Revenue,Agent Call Disposition Notes\r\n\
         {{{}}},-5.00,\"called back\r\nsaid ok\"\r\n\
         urn:uuid:{},-6.00,plain\r\n\
         {{{}}},-7.001,\"a note\r\nover two lines\"\r\n\
         {},-8.00,\r\n",
        uuid(0).to_uppercase(),
        uuid(1),
        uuid(2),
        uuid(3)
    );
    wd.write("crm.csv", &csv);
    let before = money(&sim);
    wd.run(&mut run_job(&wd, &sim, "crm.csv", &[]), 1);
    let after = money(&sim);
    assert_eq!(changed(&before, &after), [FIRST, FIRST + 1, FIRST + 3]);
    for (i, amount) in [(0, -5.0), (1, -6.0), (3, -8.0)] {
        let was: f64 = before[&(FIRST + i)].0.parse().unwrap();
        assert_eq!(
            (after[&(FIRST + i)].0.parse::<f64>().unwrap(), after[&(FIRST + i)].2),
            (was + amount, 1),
            "call {i}"
        );
    }
    assert_eq!(sim.call(FIRST)["disposition_notes"], "called back\r\nsaid ok");
    let errors = rows(&wd.read("crm.errors.csv"));
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0]["line"].as_str(), errors[0]["column"].as_str()), ("5", "Add Revenue"));
    assert!(!errors[0]["reason"].contains("quote"), "a properly quoted note is no quote left open: {errors:?}");
}

/// An `.xls` as a script writes it (xlwt's records): globals, then each
/// sheet's cells. `opens`: the sheet WINDOW1 says it opens on, if any.
mod xls {
    use std::io::Write;

    pub fn rec(typ: u16, body: &[u8]) -> Vec<u8> {
        [&typ.to_le_bytes()[..], &(body.len() as u16).to_le_bytes(), body].concat()
    }

    fn bof(kind: u16) -> Vec<u8> {
        rec(
            0x0809,
            &[&0x0600u16.to_le_bytes()[..], &kind.to_le_bytes(), &[0xBB, 0x0D, 0xCC, 0x07, 0, 0, 0, 0, 6, 0, 0, 0]]
                .concat(),
        )
    }

    pub fn label(row: u16, col: u16, text: &str) -> Vec<u8> {
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let body =
            [&row.to_le_bytes()[..], &col.to_le_bytes(), &[0, 0], &(text.len() as u16).to_le_bytes(), &[1], &utf16]
                .concat();
        rec(0x0204, &body)
    }

    pub fn number(row: u16, col: u16, value: f64) -> Vec<u8> {
        rec(0x0203, &[&row.to_le_bytes()[..], &col.to_le_bytes(), &[0, 0], &value.to_le_bytes()].concat())
    }

    /// `=value` (an integer), whose stored result is xlwt's empty string.
    pub fn formula(row: u16, col: u16, value: u16) -> Vec<u8> {
        let rgce = [&[0x1Eu8][..], &value.to_le_bytes()].concat();
        let result = [3u8, 0, 0, 0, 0, 0, 0xFF, 0xFF];
        let body = [
            &row.to_le_bytes()[..],
            &col.to_le_bytes(),
            &[0, 0],
            &result,
            &[0, 0],
            &[0; 4],
            &(rgce.len() as u16).to_le_bytes(),
            &rgce,
        ]
        .concat();
        rec(0x0006, &body)
    }

    pub fn write(path: &std::path::Path, opens: Option<u16>, sheets: &[(&str, Vec<Vec<u8>>)]) {
        let window = opens.map(|i| {
            let mut body = vec![0u8; 18];
            body[10..12].copy_from_slice(&i.to_le_bytes());
            rec(0x003D, &body)
        });
        let boundsheet = |at: u32, name: &str| {
            let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            rec(0x0085, &[&at.to_le_bytes()[..], &[0, 0, name.len() as u8, 1], &utf16].concat())
        };
        let globals = |at: &[u32]| {
            let mut g = [bof(0x0005), rec(0x0042, &1200u16.to_le_bytes()), window.clone().unwrap_or_default()].concat();
            for ((name, _), at) in sheets.iter().zip(at) {
                g.extend(boundsheet(*at, name));
            }
            [g, rec(0x000A, &[])].concat()
        };
        let streams: Vec<Vec<u8>> =
            sheets.iter().map(|(_, cells)| [bof(0x0010), cells.concat(), rec(0x000A, &[])].concat()).collect();
        let mut at = Vec::new();
        let mut offset = globals(&vec![0; sheets.len()]).len() as u32;
        for s in &streams {
            at.push(offset);
            offset += s.len() as u32;
        }
        let book = [globals(&at), streams.concat()].concat();
        let mut file = cfb::create(path).unwrap();
        file.create_stream("/Workbook").unwrap().write_all(&book).unwrap();
        file.flush().unwrap();
    }
}

/// An `.xls` as a script writes it: its formulas' stored values cannot be
/// told from placeholders (refused); the sheet it opens on is read; a file
/// that does not say, with several sheets, is asked about; a hostile extent
/// or a damaged record is refused, never a crash.
#[test]
fn an_xls_is_read_as_the_buyer_sees_it_or_refused() {
    use xls::{formula, label, number, rec};
    let wd = Workdir::new();
    let header = || vec![label(0, 0, "Call ID"), label(0, 1, "Add Payout")];
    let row =
        |id: u64, amount: f64| number(1, 0, id as f64).into_iter().chain(number(1, 1, amount)).collect::<Vec<u8>>();
    xls::write(
        &wd.path("night.xls"),
        Some(1),
        &[
            ("Old", [header(), vec![row(FIRST, -99.0)]].concat()),
            ("New", [header(), vec![row(FIRST + 1, -5.0)]].concat()),
        ],
    );
    let sim = SimHarness::start(3, |_| {});
    let before = money(&sim);
    wd.run(&mut run_job(&wd, &sim, "night.xls", &[]), 0);
    assert_eq!(changed(&before, &money(&sim)), [FIRST + 1], "the sheet WINDOW1 opens on");

    // No WINDOW1, two visible sheets: which one is not guessed.
    xls::write(&wd.path("unsaid.xls"), None, &[("Old", header()), ("New", header())]);
    let said = stderr(&wd.run(&mut wd.command(&["validate", "unsaid.xls"]), 2));
    assert!(said.contains("does not say which sheet it opens on") && said.contains(r#""Old", "New""#), "{said}");

    // xlwt's formula: an empty placeholder, and the file asks for recalculation.
    let cells = vec![label(0, 0, "Call ID"), label(0, 1, "Revenue"), number(1, 0, FIRST as f64), formula(1, 1, 25)];
    xls::write(&wd.path("script.xls"), Some(0), &[("Calls", cells)]);
    let said = stderr(&wd.run(&mut run_job(&wd, &sim, "script.xls", &[]), 2));
    assert!(
        said.contains("cell B2 of the sheet \"Calls\" holds a formula") && said.contains("an .xls cannot tell"),
        "{said}"
    );

    // A 4 KB file claiming 2^32 rows by 65,535 columns: refused before calamine reserves them.
    let claims = rec(
        0x0200,
        &[&0u32.to_le_bytes()[..], &u32::MAX.to_le_bytes(), &0u16.to_le_bytes(), &u16::MAX.to_le_bytes(), &[0, 0]]
            .concat(),
    );
    xls::write(&wd.path("claims.xls"), Some(0), &[("Calls", [header(), vec![claims]].concat())]);
    let said = stderr(&wd.run(&mut wd.command(&["validate", "claims.xls"]), 2));
    assert!(said.contains("sheet 1's cells") && said.contains("save the sheet as CSV"), "{said}");

    // A formula record whose tokens run past its end: a damaged file, said as one.
    let mut damaged = formula(1, 1, 25);
    let cce = damaged.len() - 5;
    damaged[cce..cce + 2].copy_from_slice(&200u16.to_le_bytes());
    xls::write(
        &wd.path("damaged.xls"),
        Some(0),
        &[("Calls", [header(), vec![number(1, 0, FIRST as f64), damaged]].concat())],
    );
    let said = stderr(&wd.run(&mut wd.command(&["validate", "damaged.xls"]), 2));
    assert!(said.contains("it is damaged") && !said.contains("internal error"), "{said}");
}

/// A workbook whose one cell holds megabytes (an inline string, a shared
/// string, a formula): refused before calamine holds it, within the bound.
#[test]
fn a_cell_of_megabytes_is_refused_before_it_is_held() {
    let wd = Workdir::new();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    write_row(sheet, 0, &["Call ID", "Agent Call Disposition Notes"]);
    write_row(sheet, 1, &[&FIRST.to_string(), "placeholder"]);
    book.save(wd.path("big.xlsx")).unwrap();
    let huge = "x".repeat(3 << 20);
    rewrite(
        &wd.path("big.xlsx"),
        |name, xml| if name == "xl/sharedStrings.xml" { xml.replace("placeholder", &huge) } else { xml },
    );
    let said = stderr(&wd.run(&mut wd.command(&["validate", "big.xlsx"]), 2));
    assert!(said.contains("longest text or tag in its shared strings would take 4 MiB, over the 1 MiB"), "{said}");
}
