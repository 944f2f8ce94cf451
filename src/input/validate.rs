//! Turns one raw record into a typed `CallUpdate`, or a `Rejection` that
//! names the column, the value and the reason.
//!
//! `validate_record` is pure: a record and the schema in, an outcome out.
//! `Validator` adds the one piece of state the rules need, the set of call
//! ids seen so far (stored as integers, so a few million rows stay small).

use std::collections::HashMap;

use csv::ByteRecord;

use crate::input::columns::{Described, Field, HeaderError, Schema, field_for};
use crate::input::fields::{CallField, FIELDS, Kind, Value};
use crate::input::matching::Matcher;
use crate::input::money::{Sign, parse_money};
use crate::input::names::Directory;
use crate::input::reader::Record;
use crate::input::rejection::{RejectKind, Rejection};
use crate::input::seen_ids::Seen;
use crate::input::update::{CallUpdate, Change};
use crate::input::values::{
    CallRef, CallTime, parse_call_times, parse_caller_number, parse_flag, parse_record_id, parse_tokens_json,
    parse_webhook_ids,
};

/// The literal that sends an empty value to a field the API lets be blank.
pub const CLEAR: &str = "#clear";

/// The most bytes one cell may hold: a generous note, far past any real
/// buyer report's, and small enough that no row costs real memory.
pub const MAX_CELL_BYTES: usize = 64 << 10;

/// What a cell of a call field's column asks for, by the field's kind.
fn read_cell(field: CallField, adds: bool, trimmed: &str) -> Result<Change, String> {
    Ok(match field.spec().kind {
        Kind::Money if adds => Change::Add(parse_money(trimmed, Sign::Any)?),
        Kind::Money => Change::Set(Value::Money(parse_money(trimmed, Sign::NonNegative)?)),
        Kind::Flag => Change::Set(Value::Flag(parse_flag(trimmed)?)),
        Kind::Id => Change::Set(Value::Text(parse_record_id(trimmed)?)),
        Kind::Text => Change::Set(Value::Text(trimmed.to_string())),
        Kind::Ids => Change::Fire(parse_webhook_ids(trimmed)?),
        Kind::Tokens => unreachable!("the tokens column is read as JSON by apply"),
    })
}

/// Why a cell is refused as not UTF-8, with the encoding it likely is: a
/// report saved by Excel on Windows is Windows-1252.
fn not_utf8(bytes: &[u8]) -> String {
    let Some(at) = std::str::from_utf8(bytes).err().map(|e| e.valid_up_to()) else {
        return "not valid UTF-8 text".into();
    };
    let byte = bytes[at];
    let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes[at..at + 1]);
    format!(
        "not valid UTF-8 text: looks like Windows-1252 ({decoded} as 0x{byte:02X}): add --encoding windows-1252, \
         or save the file as \"CSV UTF-8\""
    )
}

/// A `--value-map` may only map to what a cell of its column could say:
/// the first that cannot, in words. Names, times and descriptions are
/// checked as rows are read.
pub fn check_value_maps(schema: &Schema) -> Result<(), HeaderError> {
    for (pos, map) in &schema.value_maps {
        let Some((_, field)) = schema.columns.iter().find(|(p, _)| p == pos) else { continue };
        for (theirs, ours) in map {
            let why = if ours.contains('=') {
                several(ours).find_map(|(column, value)| match field_for(column) {
                    None => Some(format!("`{column}` is not a tdrecon column")),
                    Some(field) => refuses(&field, value),
                })
            } else {
                refuses(field, ours)
            };
            if let Some(why) = why {
                return Err(HeaderError::ValueMapValue {
                    header: schema.headers[*pos].clone(),
                    theirs: theirs.clone(),
                    ours: ours.clone(),
                    why,
                });
            }
        }
    }
    Ok(())
}

/// A value map's `column=value;column=value`, as pairs.
fn several(ours: &str) -> impl Iterator<Item = (&str, &str)> {
    ours.split(';').filter_map(|pair| pair.split_once('=')).map(|(c, v)| (c.trim(), v.trim()))
}

/// Why a cell holding `value` would be refused in a column filling
/// `field`, if it would.
fn refuses(field: &Field, value: &str) -> Option<String> {
    let value = value.trim();
    match field {
        _ if value.is_empty() => None,
        Field::Call(f, false) if f.spec().blank && value.eq_ignore_ascii_case(CLEAR) => None,
        Field::Call(CallField::Tokens, _) => parse_tokens_json(value).err(),
        Field::Call(f, adds) => read_cell(*f, *adds, value).err(),
        _ => None,
    }
}

/// Validates one record against the schema. Does not check for repeated ids.
pub fn validate_record(schema: &Schema, raw: &ByteRecord) -> Result<CallUpdate, Rejection> {
    if raw.len() != schema.headers.len() {
        return Err(Rejection::record(format!(
            "expected {} fields like the header row, found {}",
            schema.headers.len(),
            raw.len()
        )));
    }
    let mut row = RowBuilder::new(schema, raw);
    // One UTF-8 check for the whole record rather than one per cell.
    let record_text = std::str::from_utf8(raw.as_slice()).ok();
    for (pos, field) in &schema.columns {
        let bytes = raw.get(*pos).expect("field count was checked against the header");
        // Most cells of a wide file are empty: skip them before any decoding.
        if bytes.trim_ascii().is_empty() {
            continue;
        }
        let cell = Cell { pos: *pos, header: &schema.headers[*pos], bytes };
        if bytes.len() > MAX_CELL_BYTES {
            return Err(Rejection {
                kind: RejectKind::TooLarge,
                column: cell.header.to_string(),
                value: String::new(),
                reason: format!("the cell is {} bytes, over the limit of 64 KiB a cell", bytes.len()),
            });
        }
        let text = match record_text.and_then(|all| cell_text(all, raw, bytes)) {
            Some(text) => text,
            None => std::str::from_utf8(bytes).map_err(|_| cell.reject(not_utf8(bytes)))?,
        };
        // An errors.csv run as it is: its cells carry the formula guard
        // tdrecon wrote (`'-25.00`), taken off again.
        let text = match text.strip_prefix('\'') {
            Some(rest) if schema.errors_csv && rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
            _ => text,
        };
        row.apply(field, &cell, text)?;
    }
    row.finish()
}

/// One non-empty cell being read: where it is, for the rejection that names it.
struct Cell<'a> {
    pos: usize,
    header: &'a str,
    bytes: &'a [u8],
}

impl Cell<'_> {
    fn reject_as(&self, kind: RejectKind, reason: String) -> Rejection {
        Rejection {
            kind,
            column: self.header.to_string(),
            value: String::from_utf8_lossy(self.bytes).into_owned(),
            reason,
        }
    }

    fn reject(&self, reason: String) -> Rejection {
        self.reject_as(RejectKind::InvalidValue, reason)
    }
}

/// A record's update as its cells are read, with the columns that set each
/// part (to name both in a conflict).
struct RowBuilder<'a> {
    schema: &'a Schema,
    raw: &'a ByteRecord,
    update: CallUpdate,
    id: Option<(CallRef, usize)>,
    /// The column that set each call field (`revenue` and `add_revenue`
    /// both set revenue: one of them per row).
    set_by: [Option<usize>; FIELDS.len()],
    tokens_json_col: Option<usize>,
    first_token_col: Option<usize>,
    /// A column that adds zero (`0`, `-0`, `(0)`, `$-0`): nothing to send.
    zero_add: Option<usize>,
}

impl<'a> RowBuilder<'a> {
    /// `why` an id is refused, and, when the row also gives its caller's
    /// number and the call's time, how it can still find its call (a
    /// spreadsheet turns a long id into `2.00000008E+08`).
    fn matchable(&self, why: String) -> String {
        let filled = |field: Field| {
            self.schema
                .columns
                .iter()
                .any(|(pos, f)| *f == field && !self.raw.get(*pos).unwrap_or_default().trim_ascii().is_empty())
        };
        if filled(Field::CallerNumber) && filled(Field::CallTime) {
            format!(
                "{why}; the row also has a caller number and call time: leave its id empty and `run` finds the \
                 call by them (or re-export the id column as text)"
            )
        } else {
            why
        }
    }

    fn new(schema: &'a Schema, raw: &'a ByteRecord) -> Self {
        RowBuilder {
            schema,
            raw,
            update: CallUpdate::new(CallRef::Id(0)),
            id: None,
            set_by: [None; FIELDS.len()],
            tokens_json_col: None,
            first_token_col: None,
            zero_add: None,
        }
    }

    fn conflict(&self, cell: &Cell<'_>, other: usize) -> Rejection {
        cell.reject_as(
            RejectKind::Conflict,
            format!("both {:?} and {:?} are set: use one of them", self.schema.headers[other], cell.header),
        )
    }

    /// Reads one non-empty cell into the update.
    fn apply(&mut self, field: &Field, cell: &Cell<'_>, text: &str) -> Result<(), Rejection> {
        let reject = |reason: String| cell.reject(reason);
        // A column with a value map takes its values through it; a value
        // mapped to nothing leaves the field alone.
        let text = match self.schema.value_map(cell.pos) {
            Some(map) => {
                let theirs = text.trim();
                match map.iter().find(|(t, _)| t.eq_ignore_ascii_case(theirs)) {
                    Some((_, ours)) if ours.is_empty() => return Ok(()),
                    // One value standing for several fields (`Returned` →
                    // `buyer_converted=no;call_disposition=Returned`): each
                    // as if its own column held it.
                    Some((_, ours)) if ours.contains('=') => {
                        for (column, value) in several(ours) {
                            let Some(field) = field_for(column) else { continue };
                            self.apply_text(&field, cell, value)?;
                        }
                        return Ok(());
                    }
                    Some((_, ours)) => ours.as_str(),
                    None => {
                        let known: Vec<&str> = map.iter().map(|(t, _)| t.as_str()).collect();
                        return Err(reject(format!(
                            "{theirs:?} is not one of the values mapped for {:?} ({}): add it with --value-map \
                             '{}:{theirs}=…' or in the profile's [value_map]",
                            cell.header,
                            known.join(", "),
                            cell.header
                        )));
                    }
                }
            }
            None => text,
        };
        self.apply_text(field, cell, text)
    }

    /// Reads one cell's text (after its value map) into the update.
    fn apply_text(&mut self, field: &Field, cell: &Cell<'_>, text: &str) -> Result<(), Rejection> {
        let reject = |reason: String| cell.reject(reason);
        let trimmed = text.trim_ascii();
        let clear = trimmed.eq_ignore_ascii_case(CLEAR);
        if clear && !matches!(field, Field::Call(f, false) if f.spec().blank) {
            let blank: Vec<&str> = FIELDS.iter().filter(|s| s.blank).map(|s| s.param).collect();
            return Err(reject(format!(
                "{CLEAR} is only allowed on {} (the fields the API lets be blank)",
                blank.join(" and ")
            )));
        }
        let update = &mut self.update;
        match field {
            Field::Id => {
                if let Some((_, other)) = self.id {
                    return Err(self.conflict(cell, other));
                }
                let call = CallRef::parse(trimmed).map_err(|why| reject(self.matchable(why)))?;
                self.id = Some((call, cell.pos));
            }
            Field::Call(CallField::Tokens, _) => {
                for (name, value) in parse_tokens_json(text).map_err(reject)? {
                    if !update.tokens.insert(&name, &value) {
                        return Err(cell
                            .reject_as(RejectKind::Conflict, format!("token {name:?} is also set by its own column")));
                    }
                }
                self.tokens_json_col = Some(cell.pos);
            }
            Field::Call(f, adds) => {
                if let Some(other) = self.set_by[*f as usize] {
                    return Err(self.conflict(cell, other));
                }
                // A set column declared to send negative amounts as adds
                // (`--negative-as-add`): a chargeback in a column of sales.
                let routed = !clear && !*adds && self.schema.negative_as_add.contains(f);
                let change = if clear {
                    Ok(Change::Set(Value::Text(String::new())))
                } else if routed {
                    parse_money(trimmed, Sign::Any).map(|d| {
                        if d.is_sign_negative() && !d.is_zero() {
                            update.routed.push(*f);
                            Change::Add(d)
                        } else {
                            Change::Set(Value::Money(d.abs()))
                        }
                    })
                } else {
                    read_cell(*f, *adds, trimmed)
                };
                self.set_by[*f as usize] = Some(cell.pos);
                match change.map_err(reject)? {
                    // Adding zero changes nothing: not sent, so never in doubt.
                    Change::Add(d) if d.is_zero() => self.zero_add = Some(cell.pos),
                    change => update.set(*f, change),
                }
            }
            Field::DispositionName | Field::BuyerName | Field::TrafficSourceName => self.name(field, cell, trimmed)?,
            // Read to label the summary's per-buyer totals; never sent.
            Field::Describes(Described::Buyer) => update.buyer_label = Some(trimmed.to_string()),
            Field::Describes(Described::TrafficSource) => {}
            Field::CallerNumber => update.caller_number = Some(parse_caller_number(trimmed).map_err(reject)?),
            Field::CallTime => match parse_call_times(trimmed, &self.schema.time_zone).map_err(reject)? {
                CallTime::At(at) => update.call_time = Some(at),
                CallTime::Twice(earlier, later) => {
                    (update.call_time, update.call_time_later) = (Some(earlier), Some(later))
                }
            },
            Field::Token(name) => {
                if !update.tokens.insert(name, text) {
                    let other = self.tokens_json_col.or(self.first_token_col).unwrap_or(cell.pos);
                    return Err(cell.reject_as(
                        RejectKind::Conflict,
                        format!("token {name:?} is also set by column {:?}", self.schema.headers[other]),
                    ));
                }
                self.first_token_col.get_or_insert(cell.pos);
            }
        }
        Ok(())
    }

    /// A disposition, buyer or traffic source by name (resolved by `run`);
    /// a row may not give the record's id too.
    fn name(&mut self, field: &Field, cell: &Cell<'_>, trimmed: &str) -> Result<(), Rejection> {
        let id_field = Field::Call(
            match field {
                Field::DispositionName => CallField::DispositionId,
                Field::BuyerName => CallField::BuyerId,
                _ => CallField::TrafficSourceId,
            },
            false,
        );
        let by_id = self
            .schema
            .columns
            .iter()
            .find(|(p, f)| *f == id_field && self.raw.get(*p).is_some_and(|c| !c.trim_ascii().is_empty()));
        if let Some((other, _)) = by_id {
            return Err(self.conflict(cell, *other));
        }
        let names = &mut self.update.names;
        let slot = match field {
            Field::DispositionName => &mut names.disposition,
            Field::BuyerName => &mut names.buyer,
            _ => &mut names.traffic_source,
        };
        *slot = Some(trimmed.to_string());
        Ok(())
    }

    /// The whole row read: it must name one call and change something.
    fn finish(self) -> Result<CallUpdate, Rejection> {
        let RowBuilder { schema, mut update, id, zero_add, .. } = self;
        let id = match id {
            // No id: found later by caller number and call time, if it has both.
            None if update.caller_number.is_some() && update.call_time.is_some() => {
                let pos = schema.columns.iter().find(|(_, f)| *f == Field::CallerNumber).map_or(0, |(p, _)| *p);
                Some((CallRef::PENDING, pos))
            }
            None if update.caller_number.is_some() => {
                return Err(Rejection {
                    kind: RejectKind::MissingId,
                    column: schema.header_of(&Field::CallTime),
                    value: String::new(),
                    reason: "a row without a call id needs caller_number and call_time to find its call".into(),
                });
            }
            other => other,
        };
        let Some((call, id_pos)) = id else {
            let column = schema.columns.iter().find(|(_, f)| *f == Field::Id).map(|(p, _)| schema.headers[*p].clone());
            return Err(Rejection {
                kind: RejectKind::MissingId,
                column: column.unwrap_or_default(),
                value: String::new(),
                reason: "missing call id".into(),
            });
        };
        update.call = call;
        if update.is_empty() {
            let reason = match zero_add {
                Some(pos) => format!("nothing to update: {:?} adds 0, which changes nothing", schema.headers[pos]),
                None => "nothing to update: every other cell is empty".into(),
            };
            return Err(Rejection {
                kind: RejectKind::NothingToUpdate,
                column: schema.headers[id_pos].clone(),
                value: call.to_string(),
                reason,
            });
        }
        Ok(update)
    }
}

/// The text of `cell`, one of `raw`'s fields, cut from `all`, the whole
/// record's fields as checked text (a `ByteRecord` keeps its fields end to
/// end in one buffer). `None` if the cut would split a character.
fn cell_text<'a>(all: &'a str, raw: &ByteRecord, cell: &[u8]) -> Option<&'a str> {
    let start = (cell.as_ptr() as usize).checked_sub(raw.as_slice().as_ptr() as usize)?;
    all.get(start..start + cell.len())
}

/// Validates records in file order, rejecting a call id seen on an earlier
/// valid row: the `Rules` every record must meet on its own, and the
/// `Repeats` seen so far.
pub struct Validator {
    rules: Rules,
    repeats: Seen,
}

/// What a record must meet on its own. Shared by reference, so several
/// threads may check records at once (`parallel.rs`).
pub struct Rules {
    schema: Schema,
    /// The API's lists, to turn names into ids (`run` only).
    directory: Option<Directory>,
    /// The window's calls by caller, to find the call of a row without an id.
    matcher: Option<Matcher>,
    /// The window's calls' UUIDs and ids: a row naming a call by its UUID
    /// and another by its id name one call.
    ids_of_uuids: Option<HashMap<u128, u64>>,
}

/// The in-order half of a `Validator`: call ids already named by a valid row.
pub struct Repeats<'a> {
    schema: &'a Schema,
    seen: &'a mut Seen,
    ids_of_uuids: Option<&'a HashMap<u128, u64>>,
}

impl Validator {
    pub fn new(schema: Schema) -> Validator {
        let rules = Rules { schema, directory: None, matcher: None, ids_of_uuids: None };
        Validator { rules, repeats: Seen::default() }
    }

    /// Resolve `call_disposition`, `buyer` and `traffic_source` names with
    /// these lists (and check dispositions that require notes).
    pub fn set_directory(&mut self, directory: Directory) {
        self.rules.directory = Some(directory);
    }

    /// Find the call of a row without an id among these calls (`run` only).
    pub fn set_matcher(&mut self, matcher: Matcher) {
        self.rules.matcher = Some(matcher);
    }

    /// The ids of calls known by their UUID (a window read): repeats are
    /// judged by call, however a row names it.
    pub fn set_ids_of_uuids(&mut self, ids: HashMap<u128, u64>) {
        self.rules.ids_of_uuids = Some(ids);
    }

    pub fn schema(&self) -> &Schema {
        &self.rules.schema
    }

    /// Checks one record; records must come in file order, each once.
    pub fn check(&mut self, record: &Record<'_>) -> Result<CallUpdate, Rejection> {
        let update = self.rules.check(record)?;
        self.split().1.check(record, update)
    }

    /// The call a record's id cell names, valid or not the rest of it: a
    /// rejected row still says which call the report meant. `None` when no
    /// id cell reads as one call (empty, unreadable, or two that disagree).
    pub fn call_named(&self, raw: &ByteRecord) -> Option<CallRef> {
        let schema = &self.rules.schema;
        let mut named = schema
            .columns
            .iter()
            .filter(|(_, f)| *f == Field::Id)
            .filter_map(|(pos, _)| raw.get(*pos))
            .filter_map(|cell| std::str::from_utf8(cell).ok().map(str::trim_ascii))
            .filter(|text| !text.is_empty())
            .map(CallRef::parse);
        let first = named.next()?.ok()?;
        named.all(|other| other.ok() == Some(first)).then_some(first)
    }

    /// The two halves, for checking records on several threads and repeats
    /// in file order.
    pub fn split(&mut self) -> (&Rules, Repeats<'_>) {
        let ids_of_uuids = self.rules.ids_of_uuids.as_ref();
        (&self.rules, Repeats { schema: &self.rules.schema, seen: &mut self.repeats, ids_of_uuids })
    }
}

impl Rules {
    /// Everything about a record that does not depend on the rows before it.
    pub fn check(&self, record: &Record<'_>) -> Result<CallUpdate, Rejection> {
        if let Some(limit) = record.oversize {
            return Err(Rejection {
                kind: RejectKind::TooLarge,
                column: String::new(),
                value: String::new(),
                reason: format!("the record is over the limit of {limit}: it was not read past the limit"),
            });
        }
        if record.unclosed_quote {
            return Err(Rejection::record(format!(
                "a quote opened in this record is never closed: it swallowed lines {}-{} to the end of the file",
                record.line, record.end_line
            )));
        }
        let mut result = validate_record(&self.schema, record.raw);
        if let Err(rejection) = &mut result
            && record.end_line > record.line
        {
            rejection.reason.push_str(&format!(
                " (this record spans lines {}-{}: check for a quote left open)",
                record.line, record.end_line
            ));
        }
        let mut update = result?;
        if let Some(directory) = &self.directory {
            directory.resolve(&mut update, &self.schema)?;
        }
        if let Some(matcher) = &self.matcher
            && update.call == CallRef::PENDING
        {
            update.call = matcher.find(&update, &self.schema)?;
        }
        // A call is its id, however the row named it: a UUID whose id is
        // known is replaced by it (and kept for the record).
        if let CallRef::Uuid(uuid) = update.call
            && let Some(id) = self.ids_of_uuids.as_ref().and_then(|m| m.get(&uuid))
        {
            update.call = CallRef::Id(*id);
            update.named_uuid = Some(uuid);
        }
        Ok(update)
    }
}

impl Repeats<'_> {
    /// Rejects a valid record whose call an earlier valid record already
    /// names. Must see the valid records in file order, each once.
    pub fn check(&mut self, record: &Record<'_>, update: CallUpdate) -> Result<CallUpdate, Rejection> {
        let named = update.named_uuid.map_or(update.call, CallRef::Uuid);
        self.check_call(record, named)?;
        Ok(update)
    }

    /// `check`, given only the call a valid record names (as it names it).
    pub fn check_call(&mut self, record: &Record<'_>, call: CallRef) -> Result<(), Rejection> {
        // Not found yet (`validate` cannot read the API): nothing to repeat.
        if call == CallRef::PENDING {
            return Ok(());
        }
        // One call, whether a row names it by id or by UUID.
        let key = match call {
            CallRef::Uuid(uuid) => self.ids_of_uuids.and_then(|m| m.get(&uuid)).map_or(call, |id| CallRef::Id(*id)),
            id => id,
        };
        let line = u32::try_from(record.line).unwrap_or(u32::MAX);
        let first = self.seen.first_or_insert(key, line);
        if first == line {
            return Ok(());
        }
        // The column that named the call: a filled id column, else the
        // caller number it was found by.
        let filled = |field: &Field| {
            self.schema
                .columns
                .iter()
                .find(|(pos, f)| f == field && !record.raw.get(*pos).unwrap_or_default().trim_ascii().is_empty())
        };
        let (column, how) = match filled(&Field::Id) {
            Some((pos, _)) => (self.schema.headers[*pos].clone(), ""),
            None => (self.schema.header_of(&Field::CallerNumber), " (found by caller number and call time)"),
        };
        let alias = if key == call { String::new() } else { format!(", which is call {key},") };
        Err(Rejection {
            kind: RejectKind::Duplicate,
            column,
            value: call.to_string(),
            reason: format!("call {call}{alias}{how} already appears on line {first}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::columns::HeaderOptions;

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
                vec![
                    ("Call ID", "7"),
                    ("call_disposition_id", "12"),
                    ("agent_call_disposition_notes", "left voicemail"),
                ],
                json!({"call_disposition_id": "12", "agent_call_disposition_notes": "left voicemail"}),
            ),
            (
                vec![("Call ID", "7"), ("agent_call_disposition_notes", "#CLEAR")],
                json!({"agent_call_disposition_notes": ""}),
            ),
            (vec![("Call ID", "7"), ("contact_field_type", " 9 ")], json!({"contact_field_type": "9"})),
            (
                vec![("Call ID", "7"), ("fire_outgoing_webhook_ids", "1;2")],
                json!({"fire_outgoing_webhook_ids": [1, 2]}),
            ),
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
            (
                vec![("Call ID", "7"), ("fire_outgoing_webhook_ids", "1;x")],
                "fire_outgoing_webhook_ids",
                "whole numbers",
            ),
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
        let r =
            v.check(&Record { line: 4, end_line: 5, raw: &raw, unclosed_quote: false, oversize: None }).unwrap_err();
        assert!(r.reason.contains("spans lines 4-5"), "{r:?}");
        let r = v.check(&Record { line: 4, end_line: 9, raw: &raw, unclosed_quote: true, oversize: None }).unwrap_err();
        assert!(r.reason.contains("never closed"), "{r:?}");
    }

    proptest::proptest! {
        /// Fuzz: rows naming calls by id, by UUID (known to the window or
        /// not) or by caller number and time, in any order and with any
        /// values, never panic the reader, and each call (however named)
        /// is accepted on one row only, every later one a repeat naming the
        /// first line.
        #[test]
        fn ids_uuids_and_matches_never_panic_and_one_call_takes_one_row(
            rows in proptest::collection::vec((0u8..4, 0u64..6, 0i64..3, "[0-9.(),$-]{0,6}"), 1..40)
        ) {
            let headers = ["call_id", "caller_number", "call_time", "add_revenue"].map(String::from).to_vec();
            let schema = Schema::from_headers(headers, &HeaderOptions::default()).unwrap();
            let mut v = Validator::new(schema);
            let uuid = |n: u64| format!("c3b20b12-3b3b-4322-b15d-{:012x}", n);
            let mut matcher = Matcher::new(5 * 60_000);
            let mut ids = HashMap::new();
            for n in 0..6u64 {
                // Calls 0–3 have a known UUID; each has its own caller.
                if n < 4 && let Ok(CallRef::Uuid(u)) = CallRef::parse(&uuid(n)) {
                    ids.insert(u, 100 + n);
                }
                matcher.add(&format!("+1719555010{n}"), 1_000_000, 100 + n);
            }
            v.set_matcher(matcher);
            v.set_ids_of_uuids(ids);
            let mut first: HashMap<String, u64> = HashMap::new();
            for (i, (how, n, minutes, amount)) in rows.iter().enumerate() {
                let line = i as u64 + 2;
                let (id, caller, time) = match how {
                    0 => ((100 + n).to_string(), String::new(), String::new()),
                    1 => (uuid(*n), String::new(), String::new()),
                    2 => (String::new(), format!("+1719555010{n}"), format!("{}", 1_000_000 / 1000 + minutes * 60)),
                    _ => (format!("{n}"), format!("+1719555010{n}"), String::new()),
                };
                let time = if time.is_empty() { time } else {
                    jiff::Timestamp::from_second(time.parse().unwrap()).unwrap().to_string()
                };
                let raw = ByteRecord::from(vec![id, caller, time, amount.clone()]);
                let record = Record { line, end_line: line, raw: &raw, unclosed_quote: false, oversize: None };
                match v.check(&record) {
                    Ok(update) => {
                        // Known UUIDs are the same call as their id.
                        let key = match update.call {
                            CallRef::Uuid(_) if *how == 1 && *n < 4 => (100 + n).to_string(),
                            call => call.to_string(),
                        };
                        proptest::prop_assert!(first.insert(key.clone(), line).is_none(), "{key} accepted twice");
                    }
                    Err(r) if r.kind == RejectKind::Duplicate => {
                        proptest::prop_assert!(r.reason.contains("already appears on line"), "{r:?}");
                    }
                    Err(_) => {}
                }
            }
        }
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
        // A map to a value the column cannot take is refused up front.
        let bad = HeaderOptions { values: vec![HeaderOptions::parse_value_map("Status:Sold=yup").unwrap()], ..opts };
        let e = Schema::from_headers(["TD Call ID", "Status", "Payout"].map(String::from).to_vec(), &bad)
            .and_then(|s| check_value_maps(&s))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'Status:Sold=yup'") && e.contains("expected one of"), "{e}");
        // Without routing, a negative revenue is still refused.
        let plain =
            Schema::from_headers(["id", "revenue"].map(String::from).to_vec(), &HeaderOptions::default()).unwrap();
        let r = validate_record(&plain, &ByteRecord::from(vec!["7", "($45.00)"])).unwrap_err();
        assert!(r.reason.contains("0 or more"), "{r:?}");
    }
}
