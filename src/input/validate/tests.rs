//! The validator's table-driven tests.

use super::*;
use crate::input::columns::HeaderOptions;
use crate::input::fields::CallField;

const HEADERS: &[&str] = &[
    "Call ID",
    "uuid",
    "revenue",
    "add_revenue",
    "payout",
    "add_payout",
    "buyer_converted",
    "offer_converted",
    "manual_transcribe",
    "trackdrive_buyer_id",
    "trackdrive_traffic_source_id",
    "call_disposition_id",
    "agent_call_disposition_notes",
    "contact_field_type",
    "fire_outgoing_webhook_ids",
    "post_call_tokens",
    "token:zip",
];

fn schema() -> Schema {
    Schema::from_headers(HEADERS.iter().map(|s| s.to_string()).collect(), &HeaderOptions::default()).unwrap()
}

/// A record with the given cells set by header name and the rest empty.
fn row(cells: &[(&str, &str)]) -> ByteRecord {
    let mut values = vec![String::new(); HEADERS.len()];
    for (name, value) in cells {
        let i = HEADERS.iter().position(|h| h == name).unwrap_or_else(|| panic!("no header {name}"));
        values[i] = value.to_string();
    }
    ByteRecord::from(values)
}

fn body(cells: &[(&str, &str)]) -> serde_json::Value {
    let update = validate_record(&schema(), &row(cells)).unwrap_or_else(|r| panic!("{cells:?}: {r:?}"));
    serde_json::Value::Object(update.body())
}

fn rejection(cells: &[(&str, &str)]) -> Rejection {
    match validate_record(&schema(), &row(cells)) {
        Ok(u) => panic!("{cells:?} was accepted: {u:?}"),
        Err(r) => r,
    }
}

#[test]
fn accepted_rows() {
    use serde_json::json;
    let cases: Vec<(Vec<(&str, &str)>, serde_json::Value)> = vec![
        (vec![("Call ID", "7"), ("revenue", "$1,234.5")], json!({"revenue": "1234.50"})),
        (
            vec![("uuid", "C3B20B12-3B3B-4322-B15D-0F1C5F653479"), ("add_revenue", "-5")],
            json!({"add_revenue": "-5.00"}),
        ),
        (
            vec![("Call ID", "7"), ("payout", "3"), ("add_revenue", "1")],
            json!({"payout": "3.00", "add_revenue": "1.00"}),
        ),
        (vec![("Call ID", "7"), ("add_payout", "0.5")], json!({"add_payout": "0.50"})),
        // Adding zero, however written, is not sent.
        (vec![("Call ID", "7"), ("add_revenue", "-0"), ("payout", "1")], json!({"payout": "1.00"})),
        (
            vec![("Call ID", "7"), ("buyer_converted", "Yes"), ("offer_converted", "off")],
            json!({"buyer_converted": true, "offer_converted": false}),
        ),
        (vec![("Call ID", "7"), ("manual_transcribe", "1")], json!({"manual_transcribe": true})),
        (
            vec![("Call ID", "7"), ("trackdrive_buyer_id", "55"), ("trackdrive_traffic_source_id", "66")],
            json!({"trackdrive_buyer_id": "55", "trackdrive_traffic_source_id": "66"}),
        ),
        (vec![("Call ID", "7"), ("call_disposition_id", "#clear")], json!({"call_disposition_id": ""})),
        (
            vec![("Call ID", "7"), ("call_disposition_id", "12"), ("agent_call_disposition_notes", "left voicemail")],
            json!({"call_disposition_id": "12", "agent_call_disposition_notes": "left voicemail"}),
        ),
        (
            vec![("Call ID", "7"), ("agent_call_disposition_notes", "#CLEAR")],
            json!({"agent_call_disposition_notes": ""}),
        ),
        (vec![("Call ID", "7"), ("contact_field_type", " 9 ")], json!({"contact_field_type": "9"})),
        (vec![("Call ID", "7"), ("fire_outgoing_webhook_ids", "1;2")], json!({"fire_outgoing_webhook_ids": [1, 2]})),
        (
            vec![("Call ID", "7"), ("post_call_tokens", r#"{"first_name":"Jo"}"#), ("token:zip", "90210")],
            json!({"post_call_tokens": {"first_name": "Jo", "zip": "90210"}}),
        ),
    ];
    for (cells, want) in cases {
        assert_eq!(body(&cells), want, "{cells:?}");
    }
}

#[test]
fn rejected_rows_name_column_and_reason() {
    let cases: Vec<(Vec<(&str, &str)>, &str, &str)> = vec![
        (vec![("revenue", "5")], "Call ID", "missing call id"),
        (vec![("Call ID", "1.23E+08"), ("revenue", "5")], "Call ID", "spreadsheet"),
        (
            vec![("Call ID", "7"), ("uuid", "c3b20b12-3b3b-4322-b15d-0f1c5f653479"), ("revenue", "1")],
            "uuid",
            "both \"Call ID\" and \"uuid\"",
        ),
        (vec![("Call ID", "7")], "Call ID", "nothing to update"),
        (vec![("Call ID", "7"), ("add_revenue", "(0)")], "Call ID", "\"add_revenue\" adds 0"),
        (vec![("Call ID", "7"), ("add_payout", "$-0.00")], "Call ID", "\"add_payout\" adds 0"),
        (vec![("Call ID", "7"), ("revenue", "abc")], "revenue", "expected an amount"),
        (vec![("Call ID", "7"), ("revenue", "-1")], "revenue", "0 or more"),
        (vec![("Call ID", "7"), ("revenue", "1.005")], "revenue", "decimal places"),
        (vec![("Call ID", "7"), ("revenue", "1e3")], "revenue", "exponents"),
        (
            vec![("Call ID", "7"), ("revenue", "1"), ("add_revenue", "2")],
            "add_revenue",
            "both \"revenue\" and \"add_revenue\"",
        ),
        (
            vec![("Call ID", "7"), ("payout", "1"), ("add_payout", "2")],
            "add_payout",
            "both \"payout\" and \"add_payout\"",
        ),
        (vec![("Call ID", "7"), ("buyer_converted", "maybe")], "buyer_converted", "expected one of"),
        (vec![("Call ID", "7"), ("trackdrive_buyer_id", "abc")], "trackdrive_buyer_id", "numeric id"),
        (vec![("Call ID", "7"), ("call_disposition_id", "x1")], "call_disposition_id", "numeric id"),
        (vec![("Call ID", "7"), ("revenue", "#clear")], "revenue", "only allowed on"),
        (vec![("Call ID", "7"), ("token:zip", "#clear")], "token:zip", "only allowed on"),
        (vec![("Call ID", "7"), ("fire_outgoing_webhook_ids", "1;x")], "fire_outgoing_webhook_ids", "whole numbers"),
        (vec![("Call ID", "7"), ("post_call_tokens", "[1]")], "post_call_tokens", "JSON object"),
        (
            vec![("Call ID", "7"), ("post_call_tokens", r#"{"zip":"1"}"#), ("token:zip", "2")],
            "token:zip",
            "also set by column \"post_call_tokens\"",
        ),
    ];
    for (cells, column, reason) in cases {
        let r = rejection(&cells);
        assert_eq!(r.column, column, "{cells:?}: {r:?}");
        assert!(r.reason.contains(reason), "{cells:?}: {r:?} lacks {reason:?}");
    }
}

#[test]
fn rejected_value_echoes_the_cell() {
    let r = rejection(&[("Call ID", "7"), ("revenue", "12,34")]);
    assert_eq!(r.value, "12,34");
}

#[test]
fn malformed_records() {
    let short = ByteRecord::from(vec!["7", "1"]);
    let r = validate_record(&schema(), &short).unwrap_err();
    assert_eq!(r.column, "");
    assert!(r.reason.contains(&format!("expected {} fields", HEADERS.len())), "{r:?}");

    let mut bad_utf8 = row(&[("Call ID", "7")]);
    let mut cells: Vec<Vec<u8>> = bad_utf8.iter().map(|c| c.to_vec()).collect();
    cells[2] = b"\xff12".to_vec();
    bad_utf8 = ByteRecord::from(cells);
    let r = validate_record(&schema(), &bad_utf8).unwrap_err();
    assert_eq!(r.column, "revenue");
    assert!(r.reason.starts_with("not valid UTF-8 text"), "{r:?}");
}

/// Cells are cut from the record's text checked once: characters of
/// several bytes survive, in any cell, and a bad byte still names its
/// own column when the other cells are fine.
#[test]
fn text_cells_keep_their_characters() {
    let cells = [("Call ID", "7"), ("agent_call_disposition_notes", "café ✓ «ok»"), ("token:zip", "Zoë")];
    let update = validate_record(&schema(), &row(&cells)).unwrap();
    assert_eq!(update.text(CallField::DispositionNotes), Some("café ✓ «ok»"));
    assert_eq!(update.tokens.get("zip"), Some("Zoë"));

    let mut cells: Vec<Vec<u8>> = row(&cells).iter().map(|c| c.to_vec()).collect();
    let notes = HEADERS.iter().position(|h| *h == "agent_call_disposition_notes").unwrap();
    cells[notes] = b"caf\xc3".to_vec();
    let r = validate_record(&schema(), &ByteRecord::from(cells)).unwrap_err();
    assert_eq!(
        (r.column.as_str(), r.reason.as_str()),
        (
            "agent_call_disposition_notes",
            "not valid UTF-8 text: looks like Windows-1252 (Ã as 0xC3): add --encoding windows-1252, or save \
             the file as \"CSV UTF-8\""
        )
    );
}

#[test]
fn repeated_ids_name_the_first_line() {
    let mut v = Validator::new(schema());
    let check = |v: &mut Validator, line: u64, cells: &[(&str, &str)]| {
        let raw = row(cells);
        v.check(&Record { line, end_line: line, raw: &raw, unclosed_quote: false, oversize: None })
    };
    assert!(check(&mut v, 2, &[("Call ID", "7"), ("revenue", "1")]).is_ok());
    assert!(check(&mut v, 3, &[("uuid", "c3b20b12-3b3b-4322-b15d-0f1c5f653479"), ("revenue", "1")]).is_ok());
    let r = check(&mut v, 9, &[("Call ID", "007"), ("revenue", "2")]).unwrap_err();
    assert_eq!(r.column, "Call ID");
    assert!(r.reason.contains("already appears on line 2"), "{r:?}");
    let r = check(&mut v, 10, &[("uuid", "C3B20B12-3B3B-4322-B15D-0F1C5F653479"), ("payout", "2")]).unwrap_err();
    assert!(r.reason.contains("line 3"), "{r:?}");
    // A rejected row does not claim its id.
    assert!(check(&mut v, 11, &[("Call ID", "8"), ("revenue", "x")]).is_err());
    assert!(check(&mut v, 12, &[("Call ID", "8"), ("revenue", "1")]).is_ok());
}

#[test]
fn multi_line_rejections_hint_at_quotes() {
    let mut v = Validator::new(schema());
    let raw = row(&[("Call ID", "7"), ("revenue", "1\n8,2")]);
    let r = v.check(&Record { line: 4, end_line: 5, raw: &raw, unclosed_quote: false, oversize: None }).unwrap_err();
    assert!(r.reason.contains("spans lines 4-5"), "{r:?}");
    let r = v.check(&Record { line: 4, end_line: 9, raw: &raw, unclosed_quote: true, oversize: None }).unwrap_err();
    assert!(r.reason.contains("never closed"), "{r:?}");
    // A note properly quoted over two lines, refused for another cell: no hint.
    let raw = row(&[("Call ID", "{7}"), ("agent_call_disposition_notes", "called back\nsaid ok")]);
    let r = v.check(&Record { line: 4, end_line: 5, raw: &raw, unclosed_quote: false, oversize: None }).unwrap_err();
    assert!(!r.reason.contains("quote") && r.column == "Call ID", "{r:?}");
}

#[test]
fn a_buyer_reports_conventions_map_onto_tdrecons() {
    use serde_json::json;
    // Status says Converted / Not Converted / Returned; Payout carries
    // sales and, in parentheses, returns.
    let headers = ["TD Call ID", "Status", "Payout"].map(String::from).to_vec();
    let opts = HeaderOptions {
        maps: ["TD Call ID=id", "Status=buyer_converted", "Payout=revenue"]
            .iter()
            .map(|m| HeaderOptions::parse_map(m).unwrap())
            .collect(),
        values: ["Status:Converted=yes", "Status:Not Converted=no", "Status:Returned=no", "Status:Pending="]
            .iter()
            .map(|v| HeaderOptions::parse_value_map(v).unwrap())
            .collect(),
        negative_as_add: vec![CallField::Revenue],
        ..HeaderOptions::default()
    };
    let schema = Schema::from_headers(headers, &opts).unwrap();
    let check = |cells: [&str; 3]| validate_record(&schema, &ByteRecord::from(cells.to_vec()));
    let body = |cells: [&str; 3]| serde_json::Value::Object(check(cells).unwrap().body());
    assert_eq!(body(["7", "Converted", "$45.00"]), json!({"buyer_converted": true, "revenue": "45.00"}));
    assert_eq!(body(["7", "returned", "($45.00)"]), json!({"buyer_converted": false, "add_revenue": "-45.00"}));
    assert_eq!(check(["7", "Returned", "-45"]).unwrap().routed, vec![CallField::Revenue]);
    assert_eq!(body(["7", "Pending", "10"]), json!({"revenue": "10.00"}), "mapped to nothing: left alone");
    // Zero: written negative it is a chargeback of nothing (an add of zero,
    // not sent); written plain it sets zero.
    for zero in ["(0.00)", "-$0", "$-0.00", "-0"] {
        let r = check(["7", "Pending", zero]).unwrap_err();
        assert!(r.reason.contains("adds 0, which changes nothing"), "{zero}: {r:?}");
        assert_eq!(body(["7", "Converted", zero]), json!({"buyer_converted": true}), "{zero}");
    }
    assert_eq!(body(["7", "Pending", "0.00"]), json!({"revenue": "0.00"}));
    // Cells match their map as keys compare: case (Unicode's), space around.
    assert_eq!(body(["7", " CONVERTED ", "1"]), json!({"buyer_converted": true, "revenue": "1.00"}));
    let r = check(["7", "Refunded", "1"]).unwrap_err();
    assert_eq!(r.column, "Status");
    assert!(r.reason.contains("\"Refunded\" is not one of the values mapped for \"Status\" (Converted,"), "{r:?}");
    // One value standing for several fields at once.
    let several = HeaderOptions {
        maps: vec![HeaderOptions::parse_map("Status=buyer_converted").unwrap()],
        values: vec![
            HeaderOptions::parse_value_map("Status:Returned=buyer_converted=no;offer_converted=no").unwrap(),
            HeaderOptions::parse_value_map("Status:Converted=yes").unwrap(),
        ],
        ..HeaderOptions::default()
    };
    let s2 = Schema::from_headers(["id", "Status"].map(String::from).to_vec(), &several).unwrap();
    check_value_maps(&s2).unwrap();
    let u = validate_record(&s2, &ByteRecord::from(vec!["7", "Returned"])).unwrap();
    assert_eq!(serde_json::Value::Object(u.body()), json!({"buyer_converted": false, "offer_converted": false}));
    let bad = HeaderOptions {
        values: vec![HeaderOptions::parse_value_map("Status:Returned=converted=no").unwrap()],
        ..several.clone()
    };
    let e = check_value_maps(&Schema::from_headers(["id", "Status"].map(String::from).to_vec(), &bad).unwrap());
    assert!(e.unwrap_err().to_string().contains("`converted` is not a tdrecon column"));
    // A map never names the call, nor fills one column twice.
    let refused = |spec: &str, headers: [&str; 2]| {
        let opts = HeaderOptions { values: vec![HeaderOptions::parse_value_map(spec).unwrap()], ..several.clone() };
        check_value_maps(&Schema::from_headers(headers.map(String::from).to_vec(), &opts).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(refused("Status:A=id=100000004", ["id", "Status"]).contains("`id` names the call"));
    assert!(refused("Status:A=caller_number=+15551230000", ["id", "Status"]).contains("names the call"));
    assert!(refused("id:abc=100000004", ["id", "Status"]).contains("`id` names the call"));
    assert!(refused("Status:A=revenue=5;revenue=6", ["id", "Status"]).contains("`revenue` is given twice"));
    // A map to a value the column cannot take is refused up front.
    let bad = HeaderOptions { values: vec![HeaderOptions::parse_value_map("Status:Sold=yup").unwrap()], ..opts };
    let e = Schema::from_headers(["TD Call ID", "Status", "Payout"].map(String::from).to_vec(), &bad)
        .and_then(|s| check_value_maps(&s))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'Status:Sold=yup'") && e.contains("expected one of"), "{e}");
    // Without routing, a negative revenue is still refused.
    let plain = Schema::from_headers(["id", "revenue"].map(String::from).to_vec(), &HeaderOptions::default()).unwrap();
    let r = validate_record(&plain, &ByteRecord::from(vec!["7", "($45.00)"])).unwrap_err();
    assert!(r.reason.contains("0 or more"), "{r:?}");
}
