//! How to read the input file: the flags `validate`, `run` and `plan` share.

use std::path::PathBuf;

use clap::Args;

use super::values::{NegativeAsAdd, delimiter, encoding, time_zone};

/// How to read the input file (shared by `validate`, `run` and `plan`).
#[derive(Debug, Args)]
pub(super) struct InputArgs {
    /// The CSV file (or TSV, gzip, spreadsheet; `-` for standard input; an https:// URL, fetched
    /// into <stem>.download.csv): call id or UUID plus the fields to update.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A report fetched from a URL: the URL as it is shown (no query).
    #[arg(skip)]
    pub fetched_from: Option<String>,
    /// Field delimiter, one ASCII character (use '\t' for tabs) [default: tab for .tsv and .tab files, else ,].
    #[arg(help_heading = "Input", long, value_name = "CHAR", value_parser = delimiter)]
    pub delimiter: Option<u8>,
    /// A spreadsheet's sheet to read, hidden or not [default: the one the workbook opens on; never a
    /// hidden one].
    #[arg(help_heading = "Input", long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// The IANA time zone of call times written without an offset, like America/New_York [default: UTC].
    #[arg(help_heading = "Input", long, value_name = "ZONE", value_parser = time_zone)]
    pub time_zone: Option<jiff::tz::TimeZone>,
    /// The file's text encoding: utf-8, windows-1252, latin-1, utf-16 (le or be) [default: utf-8;
    /// a UTF-16 or UTF-8 byte-order mark is followed].
    #[arg(help_heading = "Input", long, value_name = "NAME", value_parser = encoding)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Read the file in --encoding even when its bytes are UTF-8 (refused otherwise: such a file
    /// read as windows-1252 would send `JosÃ©` for `José`).
    #[arg(help_heading = "Input", long, requires = "encoding")]
    pub trust_encoding: bool,
    /// A saved profile (TOML) for a report that arrives in the same shape every night: mappings,
    /// ignored columns, target, pacing, outputs. Flags win over it. `tdrecon template --config` prints one.
    #[arg(help_heading = "Input", long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Treat a header as a known column: --map 'Buyer Revenue=revenue'. Repeatable.
    #[arg(help_heading = "Input", long = "map", value_name = "HEADER=COLUMN",
          value_parser = crate::input::columns::HeaderOptions::parse_map)]
    pub maps: Vec<(String, String)>,
    /// A profile's `[map]` entries (put here by the profile, which a typed --map replaces).
    #[arg(long = "profile-map", hide = true, value_parser = crate::input::columns::HeaderOptions::parse_map)]
    pub profile_maps: Vec<(String, String)>,
    /// Skip a column of the file. Repeatable.
    #[arg(help_heading = "Input", long = "ignore-column", value_name = "HEADER")]
    pub ignore: Vec<String>,
    /// What one of a column's values stands for: --value-map 'Status:Converted=yes'. Repeatable;
    /// a column with a map refuses values it does not map; a value mapped to nothing
    /// ('Status:Pending=') leaves the field alone.
    #[arg(help_heading = "Input", long = "value-map", value_name = "HEADER:THEIRS=OURS",
          value_parser = crate::input::columns::HeaderOptions::parse_value_map)]
    pub value_map: Vec<(String, String, String)>,
    /// A profile's `[value_map]` entries (put here by the profile, which a typed --value-map replaces).
    #[arg(long = "profile-value-map", hide = true, value_parser = crate::input::columns::HeaderOptions::parse_value_map)]
    pub profile_value_maps: Vec<(String, String, String)>,
    /// A negative amount in this set column is a chargeback, sent as its add (revenue: -45.00
    /// or ($45.00) is sent as add_revenue -45.00). Repeatable: revenue, payout.
    #[arg(help_heading = "Input", long = "negative-as-add", value_name = "COLUMN")]
    pub negative_as_add: Vec<NegativeAsAdd>,
}
