//! `tdrecon template [USE]`: a header row and an example row to start from.

/// The jobs an operator uses tdrecon for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseCase {
    /// Nightly buyer report: revenue, payout, conversions.
    Revenue,
    /// Backfill of dispositions and agent notes.
    Disposition,
    /// Contact fields (post-call tokens).
    Tokens,
    /// Every column, one example row per use case.
    All,
}

const REVENUE: &[(&str, &str)] = &[
    ("call_id", "123895022"),
    ("revenue", "$25.00"),
    ("payout", "12.50"),
    ("buyer_converted", "yes"),
    ("offer_converted", "yes"),
];
const DISPOSITION: &[(&str, &str)] = &[
    ("call_uuid", "c3b20b12-3b3b-4322-b15d-0f1c5f653479"),
    ("call_disposition_id", "12"),
    ("agent_call_disposition_notes", "Asked for a callback on Monday"),
];
const TOKENS: &[(&str, &str)] = &[
    ("call_id", "123895023"),
    ("contact_field_type", "4"),
    ("token:first_name", "Maria"),
    ("token:zip_code", "90210"),
];

/// The template as CSV text.
pub fn render(use_case: UseCase) -> String {
    let sets: Vec<&[(&str, &str)]> = match use_case {
        UseCase::Revenue => vec![REVENUE],
        UseCase::Disposition => vec![DISPOSITION],
        UseCase::Tokens => vec![TOKENS],
        UseCase::All => vec![REVENUE, DISPOSITION, TOKENS],
    };
    let mut columns: Vec<&str> = Vec::new();
    for set in &sets {
        for (name, _) in *set {
            if !columns.contains(name) {
                columns.push(name);
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut write = |cells: Vec<&str>| w.write_record(cells).expect("writing to memory cannot fail");
    write(columns.clone());
    for set in &sets {
        write(columns.iter().map(|c| set.iter().find(|(n, _)| n == c).map_or("", |(_, v)| v)).collect());
    }
    String::from_utf8(w.into_inner().expect("writing to memory cannot fail")).expect("templates are UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::columns::{HeaderOptions, Schema};
    use crate::input::validate::validate_record;

    /// Every template must pass our own validator.
    #[test]
    fn templates_validate() {
        for use_case in [UseCase::Revenue, UseCase::Disposition, UseCase::Tokens, UseCase::All] {
            let text = render(use_case);
            let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
            let schema = Schema::from_headers(headers, &HeaderOptions::default()).unwrap();
            let mut rows = 0;
            for rec in rdr.byte_records() {
                validate_record(&schema, &rec.unwrap()).unwrap_or_else(|r| panic!("{use_case:?}: {r:?}"));
                rows += 1;
            }
            assert_eq!(rows, if use_case == UseCase::All { 3 } else { 1 });
        }
    }
}
