//! A buyer's report as it arrives (Excel on Windows: CRLF, its own headers,
//! `Converted` / `Not Converted` / `Returned`, a return as `($45.00)` in the
//! same Payout column as the sales, a row with no call id), taken by one
//! profile and no other flag but the target: value maps and sign routing.

use tdrecon::sim::SimConfig;

use crate::harness::{SimHarness, by_line, plan_job, rows, run_job};
use crate::util::{Workdir, stdout};

const PROFILE: &str = r#"time_zone = "America/New_York"
ignore_column = ["Campaign", "Duration (sec)"]
negative_as_add = ["revenue"]

[map]
"TD Call ID" = "id"
"Caller ID" = "caller_number"
"Date/Time (EST)" = "call_time"
"Status" = "buyer_converted"
"Payout" = "revenue"
"Agent Notes" = "agent_call_disposition_notes"

[value_map.Status]
"Converted" = "yes"
"Not Converted" = "no"
"Returned" = "no"
"#;

/// The report as Excel on Windows saves it (CRLF), and the same report in
/// Windows-1252 with an accented name in its notes: tests/fixtures/.
const REPORT: &str = include_str!("../fixtures/buyer-report.csv");
const REPORT_1252: &[u8] = include_bytes!("../fixtures/buyer-report-windows-1252.csv");

fn store() -> tdrecon::sim::Store {
    let mut store = tdrecon::sim::Store::default();
    let calls = [
        (400000001, "+17195550101", "2026-11-27T14:04:00Z", "0.00"),
        (400000002, "+17195550102", "2026-11-27T14:30:00Z", "0.00"),
        (400000003, "+17195550103", "2026-11-27T15:12:00Z", "45.00"),
        (400000006, "+17195550106", "2026-11-27T16:30:00Z", "0.00"),
        (400000007, "+17195550107", "2026-11-27T17:01:00Z", "0.00"),
        (400000008, "+17195550108", "2026-11-27T18:15:00Z", "0.00"),
    ];
    for (id, caller, at, revenue) in calls {
        let mut call = tdrecon::sim::Call::new(id, tdrecon::sim::store::uuid_for(id));
        call.created_at_ms = at.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        call.caller_number = caller.to_string();
        let revenue = tdrecon::input::fields::Value::Money(revenue.parse().unwrap());
        call.set(tdrecon::input::fields::CallField::Revenue, Some(revenue));
        store.insert(call);
    }
    store
}

#[test]
fn a_buyer_report_goes_through_plan_and_run_with_one_profile() {
    let sim = SimHarness::start(0, |c: &mut SimConfig| c.store = store());
    let wd = Workdir::new();
    wd.write("night.toml", PROFILE);
    wd.write("report.csv", REPORT);
    let out = wd.run(&mut plan_job(&wd, &sim, "report.csv", &["--config", "night.toml"]), 0);
    assert!(stdout(&out).contains("negative revenue, sent as add_revenue"), "{}", stdout(&out));
    let plan = by_line(&wd.read("report.plan.csv"));
    assert_eq!(plan[&4]["revenue_after"].as_str(), "0.00", "the return takes 45.00 off: {:?}", plan[&4]);
    assert_eq!(plan[&5]["id"], "400000006", "the row without an id is matched by caller and time");
    assert!(sim.call(400000001)["updates_applied"] == 0, "plan sends nothing");

    let out = wd.run(&mut run_job(&wd, &sim, "report.csv", &["--config", "night.toml"]), 1);
    let text = stdout(&out);
    assert!(text.contains("negative revenue, sent as add_revenue") && text.contains("       1"), "{text}");
    // A plain run says what it sent, and lists no plan's "would change".
    assert!(text.contains("sent (calls not read first): revenue set 75.00, added -45.00; payout set 0.00"), "{text}");
    assert!(!text.contains("would change"), "{text}");
    let call = |id: u64| sim.call(id);
    assert_eq!(
        (call(400000001)["revenue"].as_str(), call(400000001)["buyer_converted"].as_bool()),
        (Some("45.00"), Some(true))
    );
    assert_eq!(call(400000002)["buyer_converted"], false);
    assert_eq!(
        (call(400000003)["revenue"].as_str(), call(400000003)["buyer_converted"].as_bool()),
        (Some("0.00"), Some(false))
    );
    assert_eq!(call(400000006)["revenue"], "30.00");
    assert_eq!(call(400000007)["updates_applied"], 0);
    let errors = rows(&wd.read("report.errors.csv"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0]["line"].as_str(), errors[0]["column"].as_str()), ("6", "Status"));
    assert!(errors[0]["reason"].contains("\"Refunded\" is not one of the values mapped for \"Status\""), "{errors:?}");
    // The id a spreadsheet mangled is explained, with how the row can still go.
    assert_eq!((errors[1]["line"].as_str(), errors[1]["column"].as_str()), ("7", "TD Call ID"));
    assert!(errors[1]["reason"].contains("leave its id empty and `run` finds the call by them"), "{errors:?}");
    assert_eq!(call(400000008)["updates_applied"], 0);
}

/// The same report as Excel on Windows saves it (Windows-1252, "José"), and
/// as UTF-16 with its byte-order mark: without `--encoding` the text rows
/// are refused naming the likely encoding; with it (or, for UTF-16, by its
/// mark) every row goes, the name intact.
#[test]
fn a_windows_1252_report_is_named_and_read_with_its_encoding() {
    let sim = SimHarness::start(0, |c: &mut SimConfig| c.store = store());
    let wd = Workdir::new();
    wd.write("night.toml", PROFILE);
    wd.write("report.csv", REPORT_1252);
    let text = REPORT.replace("sold,400000001", "José called back,400000001");
    let out = wd.run(&mut plan_job(&wd, &sim, "report.csv", &["--config", "night.toml"]), 0);
    let errors = rows(&wd.read("report.errors.csv"));
    let jose = errors.iter().find(|r| r["line"] == "2").unwrap_or_else(|| panic!("{errors:?}\n{}", stdout(&out)));
    assert_eq!(jose["column"], "Agent Notes");
    assert!(jose["reason"].contains("looks like Windows-1252 (é as 0xE9): add --encoding windows-1252"), "{jose:?}");
    // The profile says the report's encoding: no other flag but the target.
    wd.write("night-1252.toml", format!("encoding = \"windows-1252\"\n{PROFILE}"));
    wd.run(&mut plan_job(&wd, &sim, "report.csv", &["--config", "night-1252.toml"]), 0);
    let plan = by_line(&wd.read("report.plan.csv"));
    assert_eq!(plan[&4]["revenue_after"], "0.00", "the return as a chargeback: {:?}", plan[&4]);
    wd.run(&mut run_job(&wd, &sim, "report.csv", &["--config", "night-1252.toml"]), 1);
    assert_eq!(sim.call(400000001)["disposition_notes"], "José called back");
    assert_eq!(rows(&wd.read("report.errors.csv")).len(), 2, "only the unmapped Status and the mangled id");

    // UTF-16 with its mark, as Excel's "Unicode Text" saves it: read as such.
    let sim = SimHarness::start(0, |c: &mut SimConfig| c.store = store());
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    wd.write("report16.csv", &utf16);
    wd.run(&mut run_job(&wd, &sim, "report16.csv", &["--config", "night.toml"]), 1);
    assert_eq!(sim.call(400000001)["disposition_notes"], "José called back");
}

/// A fixed errors.csv runs as it is: its own four columns are not read and
/// the formula guard tdrecon put on its cells is taken off.
#[test]
fn a_fixed_errors_csv_runs_as_it_is() {
    let sim = SimHarness::start(3, |_| {});
    let wd = Workdir::new();
    wd.write("in.csv", "id,add_revenue\n100000001,-2.00\n100000002,abc\n100000003,oops\n");
    wd.run(&mut run_job(&wd, &sim, "in.csv", &[]), 1);
    let errors = wd.read("in.errors.csv");
    assert!(errors.starts_with("line,column,value,reason,id,add_revenue\n"), "{errors}");
    // The operator fixes each row's last cell (one as tdrecon would have
    // guarded it) and runs the file.
    let fixed: Vec<String> = errors
        .lines()
        .map(|l| match l.rsplit_once(',') {
            Some((rest, "abc")) => format!("{rest},'-2.50"),
            Some((rest, "oops")) => format!("{rest},-3.00"),
            _ => l.to_string(),
        })
        .collect();
    wd.write("fixed.csv", fixed.join("\n") + "\n");
    wd.run(&mut run_job(&wd, &sim, "fixed.csv", &[]), 0);
    assert_eq!(sim.call(100000002)["revenue"], "-2.50");
    assert_eq!(sim.call(100000003)["revenue"], "-3.00");
}

/// A long id a spreadsheet turned into `4.00000001E+08` is refused, saying
/// the row can find its call by its caller number and time; emptied, it does.
#[test]
fn a_mangled_id_says_how_the_row_can_still_find_its_call() {
    let sim = SimHarness::start(0, |c: &mut SimConfig| c.store = store());
    let wd = Workdir::new();
    wd.write("night.toml", PROFILE);
    let report = |id: &str| {
        format!(
            "Date/Time (EST),Caller ID,Campaign,Duration (sec),Status,Payout,Agent Notes,TD Call ID\r\n\
             11/27/2026 9:04 AM,(719) 555-0101,Auto,312,Converted,$45.00,sold,{id}\r\n"
        )
    };
    wd.write("report.csv", report("4.00000001E+08"));
    wd.run(&mut run_job(&wd, &sim, "report.csv", &["--config", "night.toml"]), 1);
    let errors = rows(&wd.read("report.errors.csv"));
    assert_eq!(errors[0]["column"], "TD Call ID");
    assert!(errors[0]["reason"].contains("leave its id empty and `run` finds the call by them"), "{errors:?}");
    wd.write("report.csv", report(""));
    wd.run(&mut run_job(&wd, &sim, "report.csv", &["--config", "night.toml"]), 0);
    assert_eq!(sim.call(400000001)["revenue"], "45.00");
}

/// `validate` shows the mapping it used before anything is sent, and a bare
/// `Payout` header taken as TrackDrive's payout is said.
#[test]
fn validate_shows_the_mapping_and_warns_of_a_bare_payout() {
    let wd = Workdir::new();
    wd.write("night.toml", PROFILE);
    wd.write("report.csv", REPORT);
    let out = wd.run(&mut wd.command(&["validate", "report.csv", "--config", "night.toml"]), 1);
    let text = stdout(&out);
    assert!(
        text.contains("\"Status\" -> buyer_converted [Converted -> yes, Not Converted -> no, Returned -> no]"),
        "{text}"
    );
    assert!(text.contains("\"Payout\" -> revenue (negative amounts as add_revenue)"), "{text}");
    assert!(text.contains("not read: \"Campaign\", \"Duration (sec)\""), "{text}");
    wd.write("bare.csv", "id,Payout\n1,45.00\n");
    let out = wd.run(&mut wd.command(&["validate", "bare.csv"]), 0);
    assert!(
        crate::util::stderr(&out).contains("\"Payout\" is taken as TrackDrive's payout"),
        "{}",
        crate::util::stderr(&out)
    );
}

/// A header mapped twice on the command line is refused; a typed --map
/// replaces the profile's for its header.
#[test]
fn a_header_mapped_twice_is_refused_and_a_typed_map_replaces_the_profiles() {
    let wd = Workdir::new();
    wd.write("in.csv", "id,Payout\n1,45.00\n");
    let mut twice = wd.command(&["validate", "in.csv", "--map", "Payout=revenue", "--map", "Payout=add_revenue"]);
    let out = wd.run(&mut twice, 2);
    assert!(crate::util::stderr(&out).contains("--map maps \"Payout\" twice, to `revenue` and to `add_revenue`"));
    wd.write("p.toml", "[map]\n\"Payout\" = \"payout\"\n");
    let out = wd.run(&mut wd.command(&["validate", "in.csv", "--config", "p.toml", "--map", "Payout=revenue"]), 0);
    assert!(stdout(&out).contains("\"Payout\" -> revenue"), "{}", stdout(&out));
}
