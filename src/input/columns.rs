//! The input file's columns: which names tdrecon knows, how a header cell is
//! matched to one (case, spaces, dashes and underscores do not matter), and
//! the `Schema` that maps each position of a record to the field it fills.
//!
//! Unknown headers are an error before anything is read or sent: a column we
//! silently skipped could be the revenue the operator meant to upload.

use std::fmt;

use crate::input::fields::{CallField, FIELDS};

/// A field a column can fill.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    /// A call field, by its update parameter (`adds`: its add form, as
    /// `add_revenue`); `Call(CallField::Tokens, false)` is the
    /// `post_call_tokens` column holding a JSON object.
    Call(CallField, bool),
    /// A disposition by name, resolved through the API's list.
    DispositionName,
    /// Moves the call to a buyer named (or by `user_buyer_id`), resolved
    /// through the API's list: only from an explicit `reassign_buyer`.
    BuyerName,
    /// Moves the call to a traffic source named (or `user_traffic_source_id`).
    TrafficSourceName,
    /// A column that only describes (`Buyer`, `Publisher`…): read to label
    /// per-buyer totals, never sent.
    Describes(Described),
    /// When the call came in: finds the window of calls `--reconcile` reads
    /// in pages, and with the caller's number, the call of a row without an
    /// id. Never sent.
    CallTime,
    /// Who called: with the call time, finds the call of a row without an id.
    CallerNumber,
    /// One contact field, from `token:<name>` or `post_call_tokens.<name>`.
    Token(String),
}

/// What a descriptive column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Described {
    Buyer,
    TrafficSource,
}

/// Known column names (normalised) other than the update parameters, and
/// the field each fills; the first name of each field is its canonical one.
const OTHER_NAMES: &[(&str, Field)] = &[
    ("id", Field::Id),
    ("call_id", Field::Id),
    ("call_uuid", Field::Id),
    ("uuid", Field::Id),
    ("call_time", Field::CallTime),
    ("call_date", Field::CallTime),
    ("created_at", Field::CallTime),
    ("date", Field::CallTime),
    ("caller_number", Field::CallerNumber),
    ("caller_id", Field::CallerNumber),
    ("caller_phone", Field::CallerNumber),
    ("phone_number", Field::CallerNumber),
    ("call_disposition", Field::DispositionName),
    ("reassign_buyer", Field::BuyerName),
    ("reassign_traffic_source", Field::TrafficSourceName),
    // A buyer report's own columns: read, never sent. Reassigning a call by
    // name takes the explicit columns above.
    ("buyer", Field::Describes(Described::Buyer)),
    ("buyer_name", Field::Describes(Described::Buyer)),
    ("traffic_source", Field::Describes(Described::TrafficSource)),
    ("publisher", Field::Describes(Described::TrafficSource)),
];

/// Every known column name and the field it fills: the update parameters
/// from the table of fields, then the others.
fn names() -> &'static [(&'static str, Field)] {
    static NAMES: std::sync::LazyLock<Vec<(&'static str, Field)>> = std::sync::LazyLock::new(|| {
        let mut names: Vec<(&'static str, Field)> = OTHER_NAMES[..4].to_vec();
        for spec in &FIELDS {
            names.push((spec.param, Field::Call(spec.field, false)));
            if let Some(add) = spec.add {
                names.push((add, Field::Call(spec.field, true)));
            }
        }
        names.extend_from_slice(&OTHER_NAMES[4..]);
        names
    });
    &NAMES
}

impl Field {
    /// The column name used in reports (`token:<name>` for a contact field).
    pub fn name(&self) -> String {
        match self {
            Field::Token(name) => format!("token:{name}"),
            Field::Call(f, true) => f.spec().add.unwrap_or(f.param()).to_string(),
            Field::Call(f, false) => f.param().to_string(),
            other => names()
                .iter()
                .find(|(_, f)| f == other)
                .map(|(n, _)| n.to_string())
                .expect("every field but Token has a name"),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// `Call ID`, `call-id` and ` CALL_ID ` all become `call_id`.
pub fn normalise(header: &str) -> String {
    header
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' | '_' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The field a header names, if any.
pub fn field_for(header: &str) -> Option<Field> {
    let trimmed = header.trim();
    // Contact fields keep their name's case: only the prefix is normalised.
    if let Some((prefix, name)) = trimmed.split_once(':')
        && normalise(prefix) == "token"
        && !name.trim().is_empty()
    {
        return Some(Field::Token(name.trim().to_string()));
    }
    if let Some((prefix, name)) = trimmed.split_once('.')
        && normalise(prefix) == "post_call_tokens"
        && !name.trim().is_empty()
    {
        return Some(Field::Token(name.trim().to_string()));
    }
    let n = normalise(trimmed);
    names().iter().find(|(name, _)| *name == n).map(|(_, f)| f.clone())
}

/// The known column closest to an unknown header, when one is close enough
/// to be a likely typo.
pub fn nearest(header: &str) -> Option<&'static str> {
    let n = normalise(header);
    let (name, distance) = names().iter().map(|(name, _)| (*name, edit_distance(&n, name))).min_by_key(|&(_, d)| d)?;
    let limit = (name.len() / 3).max(2);
    (distance <= limit).then_some(name)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// How the user told us to treat headers we would not otherwise accept.
#[derive(Debug, Clone, Default)]
pub struct HeaderOptions {
    /// `--map 'Buyer Revenue=revenue'`: the user's header → a known column.
    pub maps: Vec<(String, String)>,
    /// `--ignore-column NAME`: headers to drop.
    pub ignore: Vec<String>,
    /// `--value-map 'Status:Converted=yes'`: what a column's values stand
    /// for, as `(header, their value, tdrecon's value)`.
    pub values: Vec<(String, String, String)>,
    /// `--negative-as-add revenue`: a negative amount in that set column is
    /// a chargeback, sent as its `add_*`.
    pub negative_as_add: Vec<CallField>,
}

impl HeaderOptions {
    /// Parses one `--value-map` value, `HEADER:THEIRS=OURS` (the header is
    /// what comes before the first `:`, their value what comes before the
    /// first `=`; OURS is a value, or `column=value;column=value`).
    pub fn parse_value_map(spec: &str) -> Result<(String, String, String), String> {
        let bad = || format!("{spec:?}: expected 'Header:their value=tdrecon value', like 'Status:Converted=yes'");
        let (header, rest) = spec.split_once(':').ok_or_else(bad)?;
        // Their value up to the first `=`: what follows may itself be
        // `column=value;column=value` (one value for several fields).
        let (theirs, ours) = rest.split_once('=').ok_or_else(bad)?;
        let (header, theirs) = (header.trim(), theirs.trim());
        if header.is_empty() || theirs.is_empty() {
            return Err(bad());
        }
        Ok((header.to_string(), theirs.to_string(), ours.trim().to_string()))
    }

    /// Parses one `--map` value, `FROM=TO`.
    pub fn parse_map(spec: &str) -> Result<(String, String), String> {
        let (from, to) = spec
            .rsplit_once('=')
            .ok_or_else(|| format!("{spec:?}: expected 'Their Header=column', like 'Buyer Revenue=revenue'"))?;
        if field_for(to).is_none() {
            let hint = nearest(to).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            return Err(format!("{spec:?}: `{}` is not a tdrecon column{hint}", to.trim()));
        }
        Ok((from.trim().to_string(), to.trim().to_string()))
    }
}

/// The columns errors.csv puts before a rejected row's own cells
/// (`reports::errors`): a file that starts with them is an errors.csv, and
/// they are not read.
pub const ERRORS_OWN: [&str; 4] = ["line", "column", "value", "reason"];

/// What each position of a record holds.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The header cells as written in the file.
    pub headers: Vec<String>,
    /// `(position, field)` for every column that is read; ignored ones are absent.
    pub columns: Vec<(usize, Field)>,
    /// The zone of call times written without an offset (`--time-zone`).
    pub time_zone: jiff::tz::TimeZone,
    /// The columns whose values stand for others (`--value-map`): by
    /// position, their values (as written, compared without case) and ours.
    pub value_maps: Vec<(usize, Vec<(String, String)>)>,
    /// Set columns whose negative amounts are sent as adds.
    pub negative_as_add: Vec<CallField>,
    /// The file is an errors.csv (`ERRORS_OWN` first): its cells carry the
    /// formula guard tdrecon wrote.
    pub errors_csv: bool,
    /// A header taken as TrackDrive's `payout` by its name alone (no
    /// `--map`): in a buyer's report it usually means what the buyer paid.
    pub bare_payout: Option<String>,
}

/// Why a header row cannot be used. Each is reported before any row is read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeaderError {
    #[error("the header row has no column tdrecon knows; is this a tdrecon CSV? (`tdrecon template` prints one)")]
    NothingKnown,
    #[error("unknown column{}: {}; map it with --map 'HEADER=column' or drop it with --ignore-column HEADER", if .0.len() > 1 { "s" } else { "" }, describe_unknown(.0))]
    Unknown(Vec<String>),
    #[error("no id column: add one named id, call_id, call_uuid or uuid, or find calls by caller_number and call_time")]
    NoId,
    #[error("columns {first:?} and {second:?} both fill `{field}`")]
    Duplicate { first: String, second: String, field: String },
    #[error("--value-map names {0:?}, which is not a column of the file (or is ignored)")]
    ValueMapHeader(String),
    #[error("--value-map '{header}:{theirs}={ours}': {why}")]
    ValueMapValue { header: String, theirs: String, ours: String, why: String },
    #[error("--value-map maps {theirs:?} in {header:?} twice")]
    ValueMapTwice { header: String, theirs: String },
}

fn describe_unknown(unknown: &[String]) -> String {
    unknown
        .iter()
        .map(|h| match nearest(h) {
            Some(n) => format!("{h:?} (did you mean `{n}`?)"),
            None => format!("{h:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Schema {
    /// Whether rows may find their call by caller number and call time,
    /// which only a read of the window's calls can do.
    pub fn matches_callers(&self) -> bool {
        self.columns.iter().any(|(_, f)| *f == Field::CallerNumber)
    }

    /// Whether a column says what a buyer paid or converted (revenue, set
    /// or added, or buyer_converted): a report the discrepancies judge.
    pub fn pays(&self) -> bool {
        self.columns.iter().any(|(_, f)| matches!(f, Field::Call(CallField::Revenue | CallField::BuyerConverted, _)))
    }

    /// Whether a column adds, fires a webhook or asks for a transcription:
    /// a change that acts each time it is sent, which the ledger guards.
    pub fn acts(&self) -> bool {
        self.columns.iter().any(|(_, f)| matches!(f, Field::Call(field, adds) if *adds || field.spec().acts))
    }

    /// Whether a column names a disposition, buyer or traffic source, which
    /// only the API's lists can turn into ids.
    pub fn uses_names(&self) -> bool {
        self.columns
            .iter()
            .any(|(_, f)| matches!(f, Field::DispositionName | Field::BuyerName | Field::TrafficSourceName))
    }

    /// The file's header for `field` (as written), or tdrecon's name for it
    /// when no column fills it.
    pub fn header_of(&self, field: &Field) -> String {
        match self.columns.iter().find(|(_, f)| f == field) {
            Some((pos, _)) => self.headers[*pos].clone(),
            None => field.name(),
        }
    }

    /// Maps the header row to fields, honouring `--map` and `--ignore-column`.
    pub fn from_headers(headers: Vec<String>, opts: &HeaderOptions) -> Result<Schema, HeaderError> {
        let mut columns: Vec<(usize, Field)> = Vec::new();
        let mut unknown = Vec::new();
        let mut any_known = false;
        let mut bare_payout = None;
        // An errors.csv, fixed and run as it is: its own four columns first.
        let own = usize::from(headers.len() > ERRORS_OWN.len() && headers[..ERRORS_OWN.len()] == ERRORS_OWN) * 4;
        for (i, header) in headers.iter().enumerate().skip(own) {
            let h = header.trim();
            if opts.ignore.iter().any(|ig| ig.trim() == h || normalise(ig) == normalise(h)) {
                continue;
            }
            let mapped = opts.maps.iter().find(|(from, _)| from == h || normalise(from) == normalise(h));
            let field = match mapped {
                Some((_, to)) => field_for(to),
                None => field_for(h),
            };
            if mapped.is_none() && field == Some(Field::Call(CallField::Payout, false)) {
                bare_payout = Some(header.clone());
            }
            match field {
                Some(field) => {
                    any_known = true;
                    // Several id columns are allowed (a file may carry both `call_id`
                    // and `uuid`); each row must fill exactly one of them.
                    if field != Field::Id
                        && let Some((j, _)) = columns.iter().find(|(_, f)| *f == field)
                    {
                        return Err(HeaderError::Duplicate {
                            first: headers[*j].clone(),
                            second: header.clone(),
                            field: field.name(),
                        });
                    }
                    columns.push((i, field));
                }
                None => unknown.push(header.clone()),
            }
        }
        if !any_known {
            return Err(HeaderError::NothingKnown);
        }
        if !unknown.is_empty() {
            return Err(HeaderError::Unknown(unknown));
        }
        let has = |field: Field| columns.iter().any(|(_, f)| *f == field);
        // Without ids, rows are found by who called and when.
        let findable = has(Field::CallerNumber) && has(Field::CallTime);
        if !has(Field::Id) && !findable {
            return Err(HeaderError::NoId);
        }
        let value_maps = value_maps(&headers, &columns, &opts.values)?;
        let negative_as_add = opts.negative_as_add.clone();
        let errors_csv = own > 0;
        Ok(Schema {
            headers,
            columns,
            time_zone: jiff::tz::TimeZone::UTC,
            value_maps,
            negative_as_add,
            errors_csv,
            bare_payout,
        })
    }

    /// The mapping in force, one line a column, for `validate` and `plan` to
    /// show before anything is sent: each header and the column it fills
    /// (with its value map, and whether negatives go as adds), then the
    /// headers not read.
    pub fn describe(&self) -> String {
        let mut out = String::from("columns (your header -> tdrecon's):\n");
        for (pos, field) in &self.columns {
            let mut line = format!("  {:?} -> {}", self.headers[*pos], field.name());
            if let Field::Describes(_) = field {
                line.push_str(" (describes; never sent)");
            }
            if let Field::Call(f, false) = field
                && self.negative_as_add.contains(f)
            {
                line.push_str(&format!(" (negative amounts as {})", f.spec().add.unwrap_or_default()));
            }
            if let Some(map) = self.value_map(*pos) {
                let pairs: Vec<String> = map
                    .iter()
                    .map(|(t, o)| if o.is_empty() { format!("{t} -> (left alone)") } else { format!("{t} -> {o}") })
                    .collect();
                line.push_str(&format!(" [{}]", pairs.join(", ")));
            }
            out.push_str(&line);
            out.push('\n');
        }
        let unread: Vec<String> = (0..self.headers.len())
            .filter(|i| !self.columns.iter().any(|(p, _)| p == i))
            .map(|i| format!("{:?}", self.headers[i]))
            .collect();
        if !unread.is_empty() {
            out.push_str(&format!("  not read: {}\n", unread.join(", ")));
        }
        out
    }

    /// What the user should hear about the mapping: a bare `Payout` column
    /// taken as TrackDrive's payout.
    pub fn warnings(&self) -> Vec<String> {
        self.bare_payout
            .iter()
            .map(|h| {
                format!(
                    "the column {h:?} is taken as TrackDrive's payout (what the network pays its traffic source); \
                     in a buyer's report it usually means what the buyer paid: --map '{h}=revenue' if so"
                )
            })
            .collect()
    }

    /// The value map of the column at `pos`, if it has one.
    pub fn value_map(&self, pos: usize) -> Option<&[(String, String)]> {
        self.value_maps.iter().find(|(p, _)| *p == pos).map(|(_, m)| m.as_slice())
    }
}

/// `--value-map`s by column position, each checked: its header is a column
/// read and a value is mapped once (that what it maps to is a value the
/// column takes is `validate::check_value_maps`'s, which reads cells).
fn value_maps(
    headers: &[String],
    columns: &[(usize, Field)],
    values: &[(String, String, String)],
) -> Result<Vec<(usize, Vec<(String, String)>)>, HeaderError> {
    let mut maps: Vec<(usize, Vec<(String, String)>)> = Vec::new();
    for (header, theirs, ours) in values {
        let found = columns
            .iter()
            .find(|(pos, _)| headers[*pos].trim() == header || normalise(&headers[*pos]) == normalise(header));
        let Some((pos, _)) = found else { return Err(HeaderError::ValueMapHeader(header.clone())) };
        let map = match maps.iter_mut().find(|(p, _)| p == pos) {
            Some((_, map)) => map,
            None => {
                maps.push((*pos, Vec::new()));
                &mut maps.last_mut().expect("just pushed").1
            }
        };
        if map.iter().any(|(t, _)| t.eq_ignore_ascii_case(theirs)) {
            return Err(HeaderError::ValueMapTwice { header: header.clone(), theirs: theirs.clone() });
        }
        map.push((theirs.clone(), ours.clone()));
    }
    Ok(maps)
}

#[cfg(test)]
mod tests {
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
        assert_eq!(nearest("completely different"), None);
    }

    #[test]
    fn schema_from_headers() {
        let s = Schema::from_headers(headers(&["Call ID", "Revenue", "token:zip"]), &HeaderOptions::default()).unwrap();
        assert_eq!(
            s.columns,
            vec![(0, Field::Id), (1, Field::Call(CallField::Revenue, false)), (2, Field::Token("zip".into()))]
        );

        let err =
            Schema::from_headers(headers(&["id", "revenu", "Call Summary"]), &HeaderOptions::default()).unwrap_err();
        assert_eq!(err, HeaderError::Unknown(headers(&["revenu", "Call Summary"])));
        let msg = err.to_string();
        assert!(msg.contains("\"revenu\" (did you mean `revenue`?)"), "{msg}");
        assert!(msg.contains("\"Call Summary\";"), "{msg}");

        assert_eq!(
            Schema::from_headers(headers(&["revenue"]), &HeaderOptions::default()).unwrap_err(),
            HeaderError::NoId
        );
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
        let e = Schema::from_headers(h, &with(&["Status:Converted=yes", "Status:converted=no"])).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
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
}
