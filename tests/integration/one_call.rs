//! One call, one row, and call times never guessed: rows that reach the same
//! call by caller-number match, or by id and by UUID, are a repeat naming
//! the earlier line (never a panic); a local time that happened twice is
//! tried at both instants; one that never happened is refused naming the
//! change of the clocks.

use tdrecon::sim::SimConfig;

use crate::harness::{SimHarness, by_line, plan_job, rows, run_job};
use crate::util::Workdir;

fn store(calls: &[(u64, &str, &str)]) -> tdrecon::sim::Store {
    let mut store = tdrecon::sim::Store::default();
    for &(id, caller, at) in calls {
        let mut call = tdrecon::sim::Call::new(id, tdrecon::sim::store::uuid_for(id));
        call.created_at_ms = at.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        call.caller_number = caller.to_string();
        store.insert(call);
    }
    store
}

#[test]
fn two_rows_matched_to_one_call_are_a_repeat_for_run_plan_and_resume() {
    let sim = SimHarness::start(0, |c: &mut SimConfig| {
        c.store = store(&[(300000001, "+17191231234", "2026-11-27T15:00:00Z")]);
    });
    let wd = Workdir::new();
    // Two rows a minute apart find the same call; the second is a repeat.
    wd.write(
        "in.csv",
        "caller_number,call_time,add_revenue\n\
         +17191231234,2026-11-27T15:00:00Z,-25.00\n\
         (719) 123-1234,2026-11-27T15:01:00Z,-25.00\n",
    );
    wd.run(&mut plan_job(&wd, &sim, "in.csv", &[]), 0);
    let errors = rows(&wd.read("in.errors.csv"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0]["line"].as_str(), errors[0]["column"].as_str()), ("3", "caller_number"));
    assert!(
        errors[0]["reason"].contains("call 300000001 (found by caller number and call time) already appears on line 2")
    );
    wd.run(&mut run_job(&wd, &sim, "in.csv", &[]), 1);
    assert_eq!(sim.call(300000001)["updates_applied"], 1);
    assert_eq!(by_line(&wd.read("in.results.csv"))[&2]["status"], "ok");
    // A resume reads the file again: the same refusal, nothing sent.
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--resume"]), 1);
    assert_eq!(sim.call(300000001)["updates_applied"], 1);
    assert_eq!(rows(&wd.read("in.errors.csv")).len(), 1);
}

#[test]
fn a_call_named_by_its_id_and_by_its_uuid_is_one_call() {
    let sim = SimHarness::start(0, |c: &mut SimConfig| {
        c.store = store(&[(300000001, "+17191231234", "2026-11-27T15:00:00Z")]);
    });
    let uuid = sim.call(300000001)["uuid"].as_str().unwrap().to_string();
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        format!(
            "call_id,call_time,add_revenue\n\
             300000001,2026-11-27T15:00:00Z,-25.00\n\
             {uuid},2026-11-27T15:00:00Z,-25.00\n"
        ),
    );
    // The window read (--reconcile, from the rows' call times) knows the UUID's id.
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--reconcile"]), 1);
    assert_eq!(sim.call(300000001)["updates_applied"], 1, "-25.00 applied once");
    let errors = rows(&wd.read("in.errors.csv"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], "3");
    assert!(
        errors[0]["reason"].contains(&format!("call {uuid}, which is call 300000001, already appears on line 2")),
        "{errors:?}"
    );
}

#[test]
fn daylight_saving_is_tried_both_ways_or_refused_naming_the_change() {
    let sim = SimHarness::start(0, |c: &mut SimConfig| {
        c.store = store(&[
            // 01:30 in New York on 2026-11-01 happened at 05:30Z (EDT) and
            // at 06:30Z (EST). One caller called at the second only…
            (300000001, "+17191231234", "2026-11-01T06:30:00Z"),
            // …another at both.
            (300000002, "+17195550000", "2026-11-01T05:30:00Z"),
            (300000003, "+17195550000", "2026-11-01T06:30:00Z"),
            (300000004, "+13035550100", "2026-03-08T08:00:00Z"),
        ]);
    });
    let wd = Workdir::new();
    wd.write(
        "in.csv",
        "caller_number,call_time,revenue\n\
         +17191231234,2026-11-01 01:30,10.00\n\
         +17195550000,2026-11-01 01:30,11.00\n\
         +13035550100,2026-03-08 02:30,12.00\n",
    );
    wd.run(&mut run_job(&wd, &sim, "in.csv", &["--time-zone", "America/New_York"]), 1);
    let results = by_line(&wd.read("in.results.csv"));
    assert_eq!((results[&2]["id"].as_str(), results[&2]["status"].as_str()), ("300000001", "ok"));
    assert_eq!(sim.call(300000001)["revenue"], "10.00");
    let errors = rows(&wd.read("in.errors.csv"));
    let reason = |line: &str| errors.iter().find(|r| r["line"] == line).map(|r| r["reason"].clone()).unwrap();
    let both = reason("3");
    assert!(both.contains("ids 300000002, 300000003") && both.contains("happened twice"), "{both}");
    // Both instants, as the report's zone writes them.
    assert!(both.contains("2026-11-01 01:30 EDT (-04:00) or of 2026-11-01 01:30 EST (-05:00)"), "{both}");
    assert_eq!(
        reason("4"),
        "02:30 never happened in America/New_York: clocks went from 02:00 to 03:00 on 2026-03-08; \
         write the time with its offset"
    );
    for id in [300000002, 300000003, 300000004] {
        assert_eq!(sim.call(id)["updates_applied"], 0, "call {id} untouched");
    }
}
