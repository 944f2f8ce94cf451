//! Turns one raw record into a typed `CallUpdate`, or a `Rejection` that
//! names the column, the value and the reason. Pure: the file's text and
//! nothing else (what TrackDrive says of a row, names and calls found by
//! caller, joins it in `resolve`).
//!
//! `validate_record` checks a record on its own: `cells` reads one cell by
//! its field's kind and checks value maps, `row` builds the update from the
//! cells. `Validator` adds the one piece of state the rules need, the calls
//! seen so far (`repeats`: one call, one row), kept compact (`seen_ids`).

mod cells;
mod repeats;
mod row;
#[cfg(test)]
mod tests;

use csv::ByteRecord;

use crate::input::columns::{Field, Schema};
use crate::input::reader::Record;
use crate::input::rejection::{RejectKind, Rejection};
use crate::input::seen_ids::Seen;
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
pub use cells::check_value_maps;
pub use repeats::Repeats;
use row::RowBuilder;

/// The literal that sends an empty value to a field the API lets be blank.
pub const CLEAR: &str = "#clear";

/// The most bytes one cell may hold: a generous note, far past any real
/// buyer report's, and small enough that no row costs real memory.
pub const MAX_CELL_BYTES: usize = 64 << 10;

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

/// The text of `cell`, one of `raw`'s fields, cut from `all`, the whole
/// record's fields as checked text (a `ByteRecord` keeps its fields end to
/// end in one buffer). `None` if the cut would split a character.
fn cell_text<'a>(all: &'a str, raw: &ByteRecord, cell: &[u8]) -> Option<&'a str> {
    let start = (cell.as_ptr() as usize).checked_sub(raw.as_slice().as_ptr() as usize)?;
    all.get(start..start + cell.len())
}

/// Validates records in file order, rejecting a call seen on an earlier
/// valid row: the `Rules` every record must meet on its own, and the calls
/// seen so far (`Repeats`).
pub struct Validator {
    rules: Rules,
    repeats: Seen,
}

/// What a record must meet on its own. Shared by reference, so several
/// threads may check records at once (`parallel.rs`).
pub struct Rules {
    schema: Schema,
}

impl Validator {
    pub fn new(schema: Schema) -> Validator {
        Validator { rules: Rules { schema }, repeats: Seen::default() }
    }

    pub fn schema(&self) -> &Schema {
        &self.rules.schema
    }

    /// Checks one record on its own (`Rules::check`).
    pub fn read(&self, record: &Record<'_>) -> Result<CallUpdate, Rejection> {
        self.rules.check(record)
    }

    /// One call, one row: rejects a valid record whose call (once its call
    /// is known: `resolve`) an earlier valid record already names. Records
    /// must come in file order, each once.
    pub fn one_call(&mut self, record: &Record<'_>, update: &CallUpdate) -> Result<(), Rejection> {
        self.split().1.check_call(record, update.call, update.named_uuid)
    }

    /// `read`, then `one_call`: a record whose call it names itself.
    pub fn check(&mut self, record: &Record<'_>) -> Result<CallUpdate, Rejection> {
        let update = self.read(record)?;
        self.one_call(record, &update).map(|()| update)
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
        (&self.rules, Repeats::new(&self.rules.schema, &mut self.repeats))
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
        // A record over several lines is a quoted note's line breaks, or a
        // quote left open that swallowed the next rows: only the second
        // makes a cell span lines where none should, or miscounts the cells.
        if let Err(rejection) = &mut result
            && record.end_line > record.line
            && (rejection.value.contains(['\n', '\r']) || rejection.kind == RejectKind::Malformed)
        {
            rejection.reason.push_str(&format!(
                " (this record spans lines {}-{}: check for a quote left open)",
                record.line, record.end_line
            ));
        }
        result
    }
}
