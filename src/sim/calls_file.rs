//! A calls file (`sim --calls-file`, `run --sandbox-calls`): the night of
//! calls a simulator starts with, one row a call.

use std::path::Path;

use anyhow::anyhow;

use crate::input::fields::{CallField, Kind, Value};
use crate::input::money::{Sign, parse_money};
use crate::input::reader::{CsvReader, read_error};
use crate::input::values::CallRef;
use crate::input::values::{parse_flag, parse_record_id};
use crate::sim::store::uuid_for;
use crate::sim::{Call, Store};

/// Seeds a store from a CSV: `id` and/or `uuid` (either may be empty; a
/// missing UUID is derived from the id), `created_at` (ISO 8601; else a
/// minute apart over the day before now), `caller_number`, and any field of
/// the table a call shows, under its resource name or its update parameter
/// (`revenue`, `payout`, `buyer_converted`, `traffic_source_converted`,
/// `buyer_id`, `traffic_source_id`, `disposition_id`, `disposition_notes`,
/// `contact_field_type`). An unknown column is an error naming them.
pub fn load_calls(path: &Path) -> anyhow::Result<Store> {
    let (mut rdr, headers) = CsvReader::open(path, b',')?;
    let headers: Vec<String> = headers.iter().map(|h| crate::input::columns::normalise(h)).collect();
    let columns = calls_file_columns(&headers).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut store = Store::default();
    let mut next_id = 900_000_001u64;
    let mut n = 0usize;
    while let Some(record) = rdr.next_record().map_err(|e| read_error(path, e))? {
        let line = record.line;
        let at = || format!("{} line {line}", path.display());
        let cells: Vec<&str> = record
            .raw
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow!("{}: not UTF-8 text", at()))?;
        let cell = |i: usize| cells.get(i).copied().map(str::trim).filter(|s| !s.is_empty());
        let find = |want: &CallsColumn| columns.iter().find(|(_, c)| c == want).and_then(|(i, _)| cell(*i));
        let id = match find(&CallsColumn::Id).map(CallRef::parse) {
            Some(Ok(CallRef::Id(id))) => id,
            Some(_) => return Err(anyhow!("{}: id must be a numeric Call ID", at())),
            None => {
                next_id += 1;
                next_id
            }
        };
        let uuid = match find(&CallsColumn::Uuid).map(CallRef::parse) {
            Some(Ok(CallRef::Uuid(u))) => u,
            Some(_) => return Err(anyhow!("{}: uuid must be a Call UUID", at())),
            None => uuid_for(id),
        };
        let mut call = Call::new(id, uuid);
        // Without a time, calls a minute apart over the day before now.
        call.created_at_ms = match find(&CallsColumn::CreatedAt) {
            Some(text) => text
                .parse::<jiff::Timestamp>()
                .map_err(|e| anyhow!("{}: created_at {text:?}: {e}", at()))?
                .as_millisecond(),
            None => now - 24 * 3600 * 1000 + n as i64 * 60_000,
        };
        n += 1;
        if let Some(number) = find(&CallsColumn::CallerNumber) {
            call.caller_number = number.to_string();
        }
        for (i, column) in &columns {
            if let (CallsColumn::Field(field), Some(text)) = (column, cell(*i)) {
                let value = seed_value(*field, text).map_err(|e| anyhow!("{}: {}: {e}", at(), headers[*i]))?;
                call.set(*field, Some(value));
            }
        }
        store.insert(call);
    }
    Ok(store)
}

/// What a column of a calls file fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallsColumn {
    Id,
    Uuid,
    CreatedAt,
    CallerNumber,
    Field(CallField),
}

/// Each column of a calls file (normalised headers), or why one is unknown.
fn calls_file_columns(headers: &[String]) -> Result<Vec<(usize, CallsColumn)>, String> {
    let fields = CallField::readable().filter(|f| *f != CallField::Tokens);
    let mut known: Vec<(String, CallsColumn)> = [
        ("id", CallsColumn::Id),
        ("uuid", CallsColumn::Uuid),
        ("created_at", CallsColumn::CreatedAt),
        ("caller_number", CallsColumn::CallerNumber),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c))
    .collect();
    for field in fields {
        let spec = field.spec();
        for name in spec.read.iter().chain(std::iter::once(&spec.param)) {
            known.push((name.to_string(), CallsColumn::Field(field)));
        }
    }
    let mut columns = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        match known.iter().find(|(n, _)| n == header) {
            Some((_, column)) => columns.push((i, *column)),
            None => {
                let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
                return Err(format!("unknown column {header:?}; a calls file may have: {}", names.join(", ")));
            }
        }
    }
    if !columns.iter().any(|(_, c)| matches!(c, CallsColumn::Id | CallsColumn::Uuid)) {
        return Err("expected an id or uuid column".into());
    }
    Ok(columns)
}

/// A calls file's cell, read as the validator reads the same field.
fn seed_value(field: CallField, text: &str) -> Result<Value, String> {
    Ok(match field.spec().kind {
        Kind::Money => Value::Money(parse_money(text, Sign::NonNegative)?),
        Kind::Flag => Value::Flag(parse_flag(text)?),
        Kind::Id => Value::Text(parse_record_id(text)?),
        _ => Value::Text(text.to_string()),
    })
}
