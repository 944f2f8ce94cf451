//! The columns' tables: headers to fields, schemas, maps and value maps.

use super::*;

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn header_matching() {
    let cases = [
        ("id", Some(Field::Id)),
        ("Call ID", Some(Field::Id)),
        ("call-uuid", Some(Field::Id)),
        ("  UUID ", Some(Field::Id)),
        ("Revenue", Some(Field::Call(CallField::Revenue, false))),
        ("Add Revenue", Some(Field::Call(CallField::Revenue, true))),
        ("ADD-PAYOUT", Some(Field::Call(CallField::Payout, true))),
        ("Buyer Converted", Some(Field::Call(CallField::BuyerConverted, false))),
        ("fire outgoing webhook ids", Some(Field::Call(CallField::Webhooks, false))),
        ("post_call_tokens", Some(Field::Call(CallField::Tokens, false))),
        ("traffic_source_converted", None),
        ("token:First_Name", Some(Field::Token("First_Name".into()))),
        ("Token: zip ", Some(Field::Token("zip".into()))),
        ("post_call_tokens.Loan Amount", Some(Field::Token("Loan Amount".into()))),
        ("Post Call Tokens.zip", Some(Field::Token("zip".into()))),
        ("token:", None),
        ("revenu", None),
        ("", None),
    ];
    for (header, want) in cases {
        assert_eq!(field_for(header), want, "{header:?}");
    }
}

#[test]
fn suggestions() {
    assert_eq!(nearest("revenu"), Some("revenue"));
    assert_eq!(nearest("Buyer Convertd"), Some("buyer_converted"));
    assert_eq!(nearest("addrevenue"), Some("add_revenue"));
    // One of a single column's words.
    assert_eq!(nearest("Notes"), Some("agent_call_disposition_notes"));
    assert_eq!(nearest("Call"), None, "the word of many columns suggests none");
    assert_eq!(nearest("completely different"), None);
}

#[test]
fn schema_from_headers() {
    let s = Schema::from_headers(headers(&["Call ID", "Revenue", "token:zip"]), &HeaderOptions::default()).unwrap();
    assert_eq!(
        s.columns,
        vec![(0, Field::Id), (1, Field::Call(CallField::Revenue, false)), (2, Field::Token("zip".into()))]
    );

    let err = Schema::from_headers(headers(&["id", "revenu", "Call Summary"]), &HeaderOptions::default()).unwrap_err();
    assert_eq!(err, HeaderError::Unknown(headers(&["revenu", "Call Summary"])));
    let msg = err.to_string();
    assert!(msg.contains("\"revenu\" (did you mean `revenue`?)"), "{msg}");
    assert!(msg.contains("\"Call Summary\";"), "{msg}");

    assert_eq!(Schema::from_headers(headers(&["revenue"]), &HeaderOptions::default()).unwrap_err(), HeaderError::NoId);
    assert_eq!(
        Schema::from_headers(headers(&["foo", "bar"]), &HeaderOptions::default()).unwrap_err(),
        HeaderError::NothingKnown
    );
    assert!(matches!(
        Schema::from_headers(headers(&["id", "revenue", "Revenue "]), &HeaderOptions::default()),
        Err(HeaderError::Duplicate { .. })
    ));
    // Two id columns are fine: each row fills one.
    assert!(Schema::from_headers(headers(&["call_id", "uuid", "revenue"]), &HeaderOptions::default()).is_ok());
}

/// A buyer report's own Buyer or Publisher column only describes; moving
/// a call takes the explicit reassign columns (or a --map onto them).
#[test]
fn descriptive_columns_never_reassign() {
    let fields = |names: &[&str], opts: &HeaderOptions| {
        let s = Schema::from_headers(headers(names), opts).unwrap();
        s.columns.into_iter().map(|(_, f)| f).collect::<Vec<_>>()
    };
    let plain = HeaderOptions::default();
    let cases: [(&[&str], Field); 6] = [
        (&["Call ID", "Buyer"], Field::Describes(Described::Buyer)),
        (&["Call ID", "Buyer Name"], Field::Describes(Described::Buyer)),
        (&["Call ID", "Traffic Source"], Field::Describes(Described::TrafficSource)),
        (&["Call ID", "Publisher"], Field::Describes(Described::TrafficSource)),
        (&["Call ID", "Reassign Buyer"], Field::BuyerName),
        (&["Call ID", "reassign_traffic_source"], Field::TrafficSourceName),
    ];
    for (names, want) in cases {
        assert_eq!(fields(names, &plain)[1], want, "{names:?}");
    }
    let mapped = HeaderOptions { maps: vec![HeaderOptions::parse_map("Buyer=reassign_buyer").unwrap()], ..plain };
    assert_eq!(fields(&["Call ID", "Buyer"], &mapped)[1], Field::BuyerName);
    let s = Schema::from_headers(headers(&["Call ID", "Buyer", "Revenue"]), &HeaderOptions::default()).unwrap();
    assert!(!s.uses_names(), "a descriptive column reads no API list");
}

#[test]
fn map_and_ignore() {
    let opts = HeaderOptions {
        maps: vec![HeaderOptions::parse_map("Buyer Revenue=revenue").unwrap()],
        ignore: vec!["Notes (internal)".into()],
        ..HeaderOptions::default()
    };
    let s = Schema::from_headers(headers(&["id", "Buyer Revenue", "Notes (internal)"]), &opts).unwrap();
    assert_eq!(s.columns, vec![(0, Field::Id), (1, Field::Call(CallField::Revenue, false))]);
    assert!(HeaderOptions::parse_map("no equals").is_err());
    assert!(HeaderOptions::parse_map("X=revenu").unwrap_err().contains("did you mean `revenue`"));
}

#[test]
fn a_fixed_errors_csv_is_read_without_its_own_columns() {
    let h = headers(&["line", "column", "value", "reason", "id", "revenue"]);
    let s = Schema::from_headers(h, &HeaderOptions::default()).unwrap();
    assert_eq!(s.columns, vec![(4, Field::Id), (5, Field::Call(CallField::Revenue, false))]);
    // Only as errors.csv writes them, first.
    let h = headers(&["id", "line", "revenue"]);
    assert!(matches!(Schema::from_headers(h, &HeaderOptions::default()), Err(HeaderError::Unknown(_))));
}

#[test]
fn value_maps_are_checked_when_the_header_is_read() {
    let parse = HeaderOptions::parse_value_map;
    assert_eq!(parse("Status:Not Converted=no"), Ok(("Status".into(), "Not Converted".into(), "no".into())));
    assert_eq!(parse("Status:Pending="), Ok(("Status".into(), "Pending".into(), String::new())));
    assert!(parse("Status=yes").is_err() && parse(":x=y").is_err());
    let maps = HeaderOptions::parse_map("Status=buyer_converted").unwrap();
    let with = |values: &[&str]| HeaderOptions {
        maps: vec![maps.clone()],
        values: values.iter().map(|v| parse(v).unwrap()).collect(),
        ..HeaderOptions::default()
    };
    let h = headers(&["id", "Status"]);
    let s = Schema::from_headers(h.clone(), &with(&["Status:Converted=yes", "status:Returned=no"])).unwrap();
    assert_eq!(s.value_map(1).map(<[_]>::len), Some(2));
    let e = Schema::from_headers(h.clone(), &with(&["Sold:Y=yes"])).unwrap_err().to_string();
    assert!(e.contains("\"Sold\", which is not a column"), "{e}");
    let e = Schema::from_headers(h.clone(), &with(&["Status:Converted=yes", "Status:converted=no"])).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    // Keys equal as values are compared: case in Unicode's full folding, space around.
    for (a, b) in [("Straße", " STRASSE "), ("Converted", "CONVERTED"), ("Éxito", "éXITO")] {
        let (a, b) = (format!("Status:{a}=yes"), format!("status:{b}=no"));
        let e = Schema::from_headers(h.clone(), &with(&[&a, &b])).unwrap_err().to_string();
        assert!(e.contains("twice"), "{a} {b}: {e}");
        // The same meaning twice is one map.
        let same = format!("{}=yes", b.trim_end_matches("=no"));
        assert_eq!(Schema::from_headers(h.clone(), &with(&[&a, &same])).unwrap().value_map(1).map(<[_]>::len), Some(1));
    }
    assert!(same_value("Straße", "STRASSE") && !same_value("Converted", "Convert ed"));
}
