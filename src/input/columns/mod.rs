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

/// Whether a cell's value is the one a `--value-map` names: compared as
/// written, but for the space around it and case, in Unicode's full case
/// folding (`Converted` and ` CONVERTED `, `STRASSE` and `Straße`). The one
/// comparison both for matching cells and for refusing two maps of a value.
pub fn same_value(a: &str, b: &str) -> bool {
    unicase::UniCase::new(a.trim()) == unicase::UniCase::new(b.trim())
}

/// The fields a value map's `column=value;column=value` fills (none for a
/// plain value: that fills its own column's field).
pub fn mapped_fields(ours: &str) -> impl Iterator<Item = Field> + '_ {
    ours.split(';').filter_map(|pair| pair.split_once('=')).filter_map(|(column, _)| field_for(column.trim()))
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
    if distance <= limit {
        return Some(name);
    }
    // A header that is one of a column's words (`Notes`): the one column
    // that has it, if only one does.
    let words = |name: &str| name.split('_').map(str::to_string).collect::<Vec<_>>();
    let mut having = names().iter().filter(|(name, _)| n.len() >= 4 && words(name).contains(&n)).map(|(name, _)| *name);
    let first = having.next()?;
    having.next().is_none().then_some(first)
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

    /// Whether a header is a column tdrecon reads, by its name or a `--map`.
    pub fn known(&self, header: &str) -> bool {
        let h = header.trim();
        !h.is_empty()
            && (field_for(h).is_some()
                || self.maps.iter().any(|(from, _)| from == h || normalise(from) == normalise(h)))
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
    /// A spreadsheet's sheet the header was read from.
    pub sheet: Option<String>,
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
    #[error(
        "--value-map maps {theirs} in {header:?} twice, to different values (they are one value: case and the space \
         around a value do not count); keep the one you mean"
    )]
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
    /// A value map's fields count: `Dup = { call_disposition = "Duplicate
    /// Call" }` names a disposition as a column of them would.
    pub fn uses_names(&self) -> bool {
        let names = |f: &Field| matches!(f, Field::DispositionName | Field::BuyerName | Field::TrafficSourceName);
        self.columns.iter().any(|(_, f)| names(f))
            || self.value_maps.iter().any(|(_, map)| map.iter().any(|(_, ours)| mapped_fields(ours).any(|f| names(&f))))
    }

    /// The file's header for `field` (as written), or tdrecon's name for it
    /// when no column fills it.
    /// A column as a message names it: the file's header, with tdrecon's
    /// name in brackets when they differ (`Notes [agent_call_disposition_notes]`);
    /// tdrecon's name alone when no column fills it.
    pub fn named(&self, field: &Field) -> String {
        let header = self.header_of(field);
        if normalise(&header) == normalise(&field.name()) { header } else { format!("{header} [{}]", field.name()) }
    }

    pub fn header_of(&self, field: &Field) -> String {
        if let Some((pos, _)) = self.columns.iter().find(|(_, f)| f == field) {
            return self.headers[*pos].clone();
        }
        // A value map that fills it: its column, and what it fills.
        let by_map =
            self.value_maps.iter().find(|(_, map)| map.iter().any(|(_, o)| mapped_fields(o).any(|f| f == *field)));
        match by_map {
            Some((pos, _)) => format!("{} ({} by --value-map)", self.headers[*pos], field.name()),
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
            sheet: None,
        })
    }

    /// The mapping in force, one line a column, for `validate` and `plan` to
    /// show before anything is sent: each header and the column it fills
    /// (with its value map, and whether negatives go as adds), then the
    /// headers not read.
    pub fn describe(&self) -> String {
        let mut out = self.sheet.as_ref().map(|s| format!("read from the sheet {s:?}\n")).unwrap_or_default();
        out.push_str("columns (your header -> tdrecon's):\n");
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
        if let Some((first, _)) = map.iter().find(|(t, o)| same_value(t, theirs) && o != ours) {
            return Err(HeaderError::ValueMapTwice {
                header: header.clone(),
                theirs: format!("{first:?} and {theirs:?}"),
            });
        }
        if map.iter().any(|(t, _)| same_value(t, theirs)) {
            continue;
        }
        map.push((theirs.clone(), ours.clone()));
    }
    Ok(maps)
}

#[cfg(test)]
mod tests;
