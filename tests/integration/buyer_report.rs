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

const REPORT: &str = "Date/Time (EST),Caller ID,Campaign,Duration (sec),Status,Payout,Agent Notes,TD Call ID\r\n\
11/27/2026 9:04 AM,(719) 555-0101,Auto,312,Converted,$45.00,sold,400000001\r\n\
11/27/2026 9:30 AM,(719) 555-0102,Auto,95,Not Converted,$0.00,no sale,400000002\r\n\
11/27/2026 10:12 AM,(719) 555-0103,Auto,410,Returned,($45.00),refund,400000003\r\n\
11/27/2026 11:30 AM,(719) 555-0106,Auto,280,Converted,$30.00,sold,\r\n\
11/27/2026 12:01 PM,(719) 555-0107,Auto,120,Refunded,$10.00,?,400000007\r\n";

fn store() -> tdrecon::sim::Store {
    let mut store = tdrecon::sim::Store::default();
    let calls = [
        (400000001, "+17195550101", "2026-11-27T14:04:00Z", "0.00"),
        (400000002, "+17195550102", "2026-11-27T14:30:00Z", "0.00"),
        (400000003, "+17195550103", "2026-11-27T15:12:00Z", "45.00"),
        (400000006, "+17195550106", "2026-11-27T16:30:00Z", "0.00"),
        (400000007, "+17195550107", "2026-11-27T17:01:00Z", "0.00"),
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
    assert_eq!(
        plan[&4]["revenue_after"].trim_start_matches('\''),
        "0.00",
        "the return takes 45.00 off: {:?}",
        plan[&4]
    );
    assert_eq!(plan[&5]["id"], "400000006", "the row without an id is matched by caller and time");
    assert!(sim.call(400000001)["updates_applied"] == 0, "plan sends nothing");

    let out = wd.run(&mut run_job(&wd, &sim, "report.csv", &["--config", "night.toml"]), 1);
    let text = stdout(&out);
    assert!(text.contains("negative revenue, sent as add_revenue") && text.contains("       1"), "{text}");
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
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0]["line"].as_str(), errors[0]["column"].as_str()), ("6", "Status"));
    assert!(errors[0]["reason"].contains("\"Refunded\" is not one of the values mapped for \"Status\""), "{errors:?}");
}
