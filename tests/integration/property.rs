//! Properties: arbitrary input never panics the reader or validator, and
//! every record the csv crate sees yields exactly one outcome.

use proptest::prelude::*;
use tdrecon::input::columns::{HeaderOptions, Schema};
use tdrecon::input::parallel::check_all_in_batches;
use tdrecon::input::reader::CsvReader;
use tdrecon::input::validate::Validator;

/// Each record's line and outcome (the call, or the rejection's reason),
/// checked one by one on this thread (`workers` = 0), or by `check_all` on
/// `workers` threads in batches of `batch`.
fn checked(content: &[u8], workers: usize, batch: usize) -> Option<Vec<(u64, Result<String, String>)>> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, content).unwrap();
    let (mut reader, headers) = CsvReader::open(file.path(), b',').ok()?;
    let schema = Schema::from_headers(headers, &HeaderOptions::default()).ok()?;
    let mut validator = Validator::new(schema);
    let mut out = Vec::new();
    if workers == 0 {
        while let Some(record) = reader.next_record().unwrap() {
            out.push((record.line, validator.check(&record).map(|u| u.call.to_string()).map_err(|r| r.reason)));
        }
    } else {
        check_all_in_batches(reader, &mut validator, workers, batch, |record, outcome| {
            out.push((record.line, outcome.map(|c| c.to_string()).map_err(|r| r.reason)));
            Ok::<(), ()>(())
        })
        .unwrap();
    }
    Some(out)
}

/// Reads `content` with tdrecon; returns the line of each outcome, or `None`
/// when the header was refused (also a fine outcome, if it did not panic).
fn outcomes(content: &[u8]) -> Option<Vec<u64>> {
    checked(content, 0, 0).map(|outcomes| outcomes.into_iter().map(|(line, _)| line).collect())
}

fn csv_crate_records(content: &[u8]) -> usize {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(content);
    rdr.byte_records().count().saturating_sub(1)
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[0-9]{1,12}",
        "\\$?[0-9]{1,3}(,[0-9]{3})?(\\.[0-9]{1,3})?",
        Just("c3b20b12-3b3b-4322-b15d-0f1c5f653479".to_string()),
        Just("#clear".to_string()),
        Just("Yes".to_string()),
        "[ -~]{0,12}",
        "\"[a-z,\n\r]{0,8}\"?",
        Just("1.23E+08".to_string()),
        Just("{\"zip\":\"9\"}".to_string()),
    ]
}

/// `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

proptest! {
    // 200 cases in CI; PROPTEST_CASES runs more (README, Development).
    #![proptest_config(ProptestConfig { cases: cases(200), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(1u8..=255, 0..400)) {
        // Any bytes but NUL, which stops the file whole (reader.rs tests it).
        let mut content = b"id,revenue,agent_call_disposition_notes,token:zip\n".to_vec();
        content.extend_from_slice(&body);
        let lines = outcomes(&content).expect("the header is valid");
        prop_assert_eq!(lines.len(), csv_crate_records(&content));
        prop_assert!(lines.windows(2).all(|w| w[0] < w[1]), "lines increase: {:?}", lines);
    }

    #[test]
    fn csv_shaped_rows_yield_one_outcome_each(
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 1..7), 0..30),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut content = format!("id,revenue,add_revenue,buyer_converted,call_disposition_id,post_call_tokens{eol}");
        for row in &rows {
            content.push_str(&row.join(","));
            content.push_str(eol);
        }
        let lines = outcomes(content.as_bytes()).expect("the header is valid");
        prop_assert_eq!(lines.len(), csv_crate_records(content.as_bytes()));
        let total_lines = (content.matches('\n').count() + content.replace("\r\n", "").matches('\r').count()) as u64;
        prop_assert!(lines.iter().all(|&l| l >= 2 && l <= total_lines + 1), "{:?}", lines);
    }

    /// Checking on several threads changes nothing: the same outcomes, in
    /// file order, repeats named by their first line, however the batches
    /// fall (tiny batches put boundaries everywhere).
    #[test]
    fn parallel_checks_match_one_thread(
        rows in proptest::collection::vec(
            (1u64..12, prop_oneof![Just("5.00".to_string()), Just("1.234".to_string()), Just(String::new())], cell()),
            0..60,
        ),
        workers in 1usize..4,
        batch in 1usize..6,
    ) {
        // Ids from a dozen, so repeats are common and cross batches; the last
        // cell is anything (quotes that span lines, stray bytes).
        let mut content = String::from("id,revenue,post_call_tokens\n");
        for (id, revenue, last) in &rows {
            content.push_str(&format!("{id},{revenue},{last}\n"));
        }
        let one = checked(content.as_bytes(), 0, 0).expect("the header is valid");
        let many = checked(content.as_bytes(), workers, batch).expect("the header is valid");
        prop_assert_eq!(many, one);
    }

    #[test]
    fn arbitrary_headers_never_panic(content in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = outcomes(&content);
    }
}
