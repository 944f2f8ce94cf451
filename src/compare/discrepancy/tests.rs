//! What the report and TrackDrive disagree on, judged on tables of calls and rows.

use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn call(id: u64, buyer: &str, converted: bool, revenue: &str) -> CallFacts {
    CallFacts {
        id,
        caller: Some(format!("+1303555{id:04}")),
        at_ms: Some(id as i64 * 60_000),
        buyer_id: (!buyer.is_empty()).then(|| buyer.to_string()),
        buyer: None,
        user_buyer_id: None,
        buyer_converted: Some(converted),
        revenue: Some(d(revenue)),
    }
}

fn row(line: u64, id: u64, side: usize, revenue: Option<Amount>, converted: Option<bool>) -> ReportRow {
    ReportRow { line, call: CallRef::Id(id), at_ms: None, speaks: Speaks::For(side), revenue, converted }
}

fn sides() -> Vec<Side> {
    vec![Side { name: "Acme".into(), buyers: vec!["7".into()] }, Side { name: "Bolt".into(), buyers: vec!["8".into()] }]
}

/// (what the row says, what the call holds) → the one finding, if any.
#[test]
fn each_row_is_judged_once() {
    let set = |s: &str| Some(Amount::Set(d(s)));
    let cases: Vec<(&str, ReportRow, CallFacts, Option<(Finding, &str)>)> = vec![
        ("agrees", row(2, 1, 0, set("20"), Some(true)), call(1, "7", true, "20"), None),
        (
            "amount differs",
            row(2, 1, 0, set("25"), Some(true)),
            call(1, "7", true, "20"),
            Some((Finding::AmountDiffers, "5")),
        ),
        ("paid less", row(2, 1, 0, set("15"), None), call(1, "7", true, "20"), Some((Finding::AmountDiffers, "-5"))),
        (
            "says zero, TrackDrive 20",
            row(2, 1, 0, set("0"), Some(false)),
            call(1, "7", true, "20"),
            Some((Finding::AmountDiffers, "-20")),
        ),
        (
            "another buyer's",
            row(2, 1, 0, set("20"), Some(true)),
            call(1, "8", true, "20"),
            Some((Finding::NotTheirs, "20")),
        ),
        ("no buyer", row(2, 1, 0, set("20"), None), call(1, "", true, "20"), Some((Finding::NotTheirs, "20"))),
        (
            "theirs, not converted in TrackDrive",
            row(2, 1, 0, set("20"), Some(true)),
            call(1, "7", false, "0"),
            Some((Finding::NotConverted, "20")),
        ),
        (
            "converted flag only",
            row(2, 1, 0, None, Some(true)),
            call(1, "7", false, "0"),
            Some((Finding::NotConverted, "0")),
        ),
        ("another buyer's, not paid", row(2, 1, 0, set("0"), Some(false)), call(1, "8", true, "20"), None),
        (
            "says not converted, TrackDrive converted",
            row(2, 1, 0, None, Some(false)),
            call(1, "7", true, "20"),
            Some((Finding::AmountDiffers, "-20")),
        ),
        (
            "same amount, says not converted",
            row(2, 1, 0, set("20"), Some(false)),
            call(1, "7", true, "20"),
            Some((Finding::AmountDiffers, "0")),
        ),
        ("says not converted, agrees", row(2, 1, 0, None, Some(false)), call(1, "7", false, "0"), None),
        (
            "a chargeback on another's call pays nothing",
            row(2, 1, 0, Some(Amount::Add(d("-20"))), Some(true)),
            call(1, "8", true, "20"),
            None,
        ),
        ("a chargeback of theirs", row(2, 1, 0, Some(Amount::Add(d("-20"))), None), call(1, "7", true, "20"), None),
        ("an add of theirs", row(2, 1, 0, Some(Amount::Add(d("5"))), None), call(1, "7", true, "20"), None),
    ];
    for (name, r, c, want) in cases {
        let calls: HashMap<u64, CallFacts> = [(c.id, c)].into();
        // Acme alone is judged: Bolt's calls are nobody's to leave out.
        let found = judge(&[r], &sides()[..1], &calls, &HashMap::new());
        let got = found.items.iter().map(|i| (i.kind, i.dollars)).collect::<Vec<_>>();
        // The row names the call: it is never also left out.
        assert_eq!(got, want.map(|(k, v)| (k, d(v))).into_iter().collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn calls_no_row_names_are_left_out_per_buyer() {
    let calls: HashMap<u64, CallFacts> = [
        call(1, "7", true, "20"),
        call(2, "7", true, "30"),
        call(3, "7", false, "0"),  // not converted: owes nothing
        call(4, "7", false, "12"), // revenue without the flag: counted
        call(5, "8", true, "40"),  // Bolt's, named by Acme's row 3
        call(6, "9", true, "50"),  // a buyer nobody judges
    ]
    .into_iter()
    .map(|c| (c.id, c))
    .collect();
    let rows = [row(2, 1, 0, Some(Amount::Set(d("20"))), Some(true)), row(3, 5, 0, Some(Amount::Set(d("40"))), None)];
    let found = judge(&rows, &sides(), &calls, &HashMap::new());
    let left: Vec<(u64, &str)> = found
        .items
        .iter()
        .filter(|i| i.kind == Finding::LeftOut)
        .map(|i| (i.facts.as_ref().unwrap().id, i.side.as_str()))
        .collect();
    // Call 5 is Bolt's, paid on an Acme row: one finding (not theirs),
    // never also left out of Bolt's rows, as the report holds it.
    assert_eq!(left, [(2, "Acme"), (4, "Acme")]);
    assert_eq!(found.total(Finding::LeftOut), Count { calls: 2, dollars: d("42") });
    assert_eq!(found.by_side["Acme"][&Finding::NotTheirs], Count { calls: 1, dollars: d("40") });
    assert_eq!(found.by_side["Acme"][&Finding::LeftOut], Count { calls: 2, dollars: d("42") });
    assert!(found.items.iter().all(|i| i.facts.as_ref().is_none_or(|f| f.id != 6)));
    // Judging Acme alone, Bolt's call 5 is nobody's to leave out either.
    let alone = judge(&rows, &sides()[..1], &calls, &HashMap::new());
    assert_eq!(alone.total(Finding::LeftOut).calls, 2);
}

#[test]
fn amounts_paid_over_and_under_are_kept_apart() {
    let calls: HashMap<u64, CallFacts> =
        [call(1, "7", true, "35"), call(2, "7", true, "45")].into_iter().map(|c| (c.id, c)).collect();
    let rows = [row(2, 1, 0, Some(Amount::Set(d("50"))), None), row(3, 2, 0, Some(Amount::Set(d("30"))), None)];
    let found = judge(&rows, &sides()[..1], &calls, &HashMap::new());
    assert_eq!(found.total(Finding::AmountDiffers), Count { calls: 2, dollars: d("0") });
    assert_eq!(found.over_under(None), (d("15"), d("-15")));
    assert_eq!(found.over_under(Some("Bolt")), (d("0"), d("0")));
}

#[test]
fn rows_outside_the_window_and_unjudged_rows() {
    let calls: HashMap<u64, CallFacts> = [(1, call(1, "7", true, "20"))].into();
    let uuid = CallRef::parse("c3b20b12-3b3b-4322-b15d-0f1c5f653479").unwrap();
    let mut by_uuid = HashMap::new();
    if let CallRef::Uuid(u) = uuid {
        by_uuid.insert(u, 1);
    }
    let rows = [
        // By UUID: the window's call 1, so nothing is left out.
        ReportRow {
            line: 2,
            call: uuid,
            at_ms: None,
            speaks: Speaks::For(0),
            revenue: Some(Amount::Set(d("20"))),
            converted: None,
        },
        row(3, 99, 0, Some(Amount::Set(d("10"))), None),
        ReportRow {
            line: 4,
            call: CallRef::Id(98),
            at_ms: None,
            speaks: Speaks::Unknown,
            revenue: Some(Amount::Set(d("10"))),
            converted: None,
        },
    ];
    let found = judge(&rows, &sides(), &calls, &by_uuid);
    assert_eq!(found.items.len(), 1, "{:?}", found.items);
    assert!(found.items.iter().all(|i| i.line != Some(4)), "an unknown buyer's row is not judged");
    assert_eq!(
        (found.items[0].kind, found.items[0].line, found.items[0].call),
        (Finding::NoSuchCall, Some(3), CallRef::Id(99))
    );
    assert!(found.items[0].why.contains("not among the window's calls"));
    assert_eq!(found.by_side["Bolt"].len(), 0, "a clean side is listed, with nothing");
}

/// A row of an unknown buyer (rejected, or a label naming nobody) may be
/// the buyer's own: its call is not left out. A row of another buyer's
/// report is not the judged buyer's: its call is.
#[test]
fn unknown_rows_keep_their_calls_from_being_left_out() {
    let calls: HashMap<u64, CallFacts> =
        [call(1, "7", true, "20"), call(2, "7", true, "30")].into_iter().map(|c| (c.id, c)).collect();
    let other = |line, id, speaks| ReportRow {
        line,
        call: CallRef::Id(id),
        at_ms: None,
        speaks,
        revenue: None,
        converted: None,
    };
    let rows = [other(2, 1, Speaks::Unknown), other(3, 2, Speaks::Another)];
    let found = judge(&rows, &sides()[..1], &calls, &HashMap::new());
    let left: Vec<u64> = found.items.iter().map(|i| i.facts.as_ref().unwrap().id).collect();
    assert_eq!(left, [2]);
}

/// Rows of several buyers together (`--buyer` twice, no label): a finding
/// on one of theirs is counted under that buyer; the joint side is listed
/// only for what is on no buyer of it.
#[test]
fn a_joint_sides_findings_go_to_the_calls_buyer() {
    let mut all = sides();
    all.push(Side { name: "Acme + Bolt".into(), buyers: vec!["7".into(), "8".into()] });
    let calls: HashMap<u64, CallFacts> =
        [call(1, "7", true, "20"), call(2, "8", true, "20")].into_iter().map(|c| (c.id, c)).collect();
    let rows = [row(2, 1, 2, Some(Amount::Set(d("25"))), None), row(3, 2, 2, Some(Amount::Set(d("20"))), None)];
    let found = judge(&rows, &all, &calls, &HashMap::new());
    assert_eq!(found.by_side.keys().collect::<Vec<_>>(), ["Acme", "Bolt"]);
    assert_eq!(found.by_side["Acme"][&Finding::AmountDiffers], Count { calls: 1, dollars: d("5") });
    let rows = [row(2, 9, 2, Some(Amount::Set(d("25"))), None)];
    let found = judge(&rows, &all, &calls, &HashMap::new());
    assert_eq!(found.by_side["Acme + Bolt"][&Finding::NoSuchCall], Count { calls: 1, dollars: d("25") });
}
