//! The summary's words and its JSON.

use super::*;
use crate::input::values::CallRef;

#[test]
fn totals_per_buyer() {
    let mut s = RunSummary::default();
    let mut o = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
    o.before = Snapshot::parse(r#"{"revenue":"10.00","payout":"1.00","buyer_id":"7"}"#);
    o.after = Snapshot::parse(r#"{"revenue":"12.50","payout":"1.00","buyer_id":"7"}"#);
    s.record(&o);
    let mut r = RowOutcome::new(3, CallRef::Id(2), Status::Rejected);
    r.before = Snapshot::parse(r#"{"revenue":"5.00","payout":"0.00"}"#);
    s.record(&r);
    assert_eq!(s.totals.rows, 2);
    assert_eq!(
        (s.totals.revenue_before.to_string(), s.totals.revenue_after.to_string()),
        ("15.00".into(), "17.50".into())
    );
    assert_eq!(s.by_buyer["7"].revenue_after.to_string(), "12.50");
    assert!(s.render().contains("revenue 15.00 -> 17.50 (+2.50)"), "{}", s.render());
}

fn row(line: u64, id: u64, status: Status) -> RowOutcome {
    RowOutcome::new(line, CallRef::Id(id), status)
}

#[test]
fn exit_codes() {
    let mut s = RunSummary::default();
    assert_eq!(s.exit(), Exit::Ok);
    s.record(&row(2, 1, Status::Ok));
    s.record(&row(4, 3, Status::Unchanged));
    assert_eq!(s.exit(), Exit::Ok);
    s.record(&row(3, 2, Status::Unknown));
    assert_eq!(s.exit(), Exit::SomeRowsFailed);
    assert_eq!(s.unknown, [(3, "2".to_string())]);
    s.stop = Some(StopReason::Aborted("x".into()));
    assert_eq!(s.exit(), Exit::Aborted);
    s.stop = Some(StopReason::Interrupted);
    assert_eq!(s.exit(), Exit::Interrupted);
    let json = s.to_json();
    assert_eq!(json["statuses"]["unknown"], 1);
    assert_eq!(json["exit_code"], 130);
}

/// A row tdrecon held back is never counted as the API's answer.
#[test]
fn rows_held_before_sending_are_not_the_apis_4xx() {
    let refused =
        |s: &RunSummary| s.render().lines().find(|l| l.starts_with("  refused")).unwrap_or_default().to_string();
    let mut s = RunSummary::default();
    let mut api = row(2, 1, Status::Rejected);
    api.exchange.http_status = Some(422);
    api.exchange.attempts = 1;
    s.record(&api);
    assert!(refused(&s).ends_with("the API answered 4xx (status rejected); not applied"), "{}", refused(&s));
    s.record(&row(3, 2, Status::Rejected));
    assert!(
        refused(&s).ends_with("1 answered 4xx by the API, 1 held by tdrecon before sending; not applied"),
        "{}",
        refused(&s)
    );
    let mut held = RunSummary::default();
    held.record(&row(3, 2, Status::Rejected));
    assert!(refused(&held).contains("held by tdrecon before sending"), "{}", refused(&held));
    assert_eq!(held.to_json()["rejected_before_sending"], 1);
}
