//! One cell, read by its field's kind (`read_cell`), and the value maps
//! checked against what a cell of their column could say.

use crate::input::columns::{Field, HeaderError, Schema, field_for};
use crate::input::fields::{CallField, Kind, Value};
use crate::input::money::{Sign, parse_money};
use crate::input::update::Change;
use crate::input::values::{parse_flag, parse_record_id, parse_tokens_json, parse_webhook_ids};

use super::CLEAR;

/// What a cell of a call field's column asks for, by the field's kind.
pub(super) fn read_cell(field: CallField, adds: bool, trimmed: &str) -> Result<Change, String> {
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

/// A `--value-map` may only map to what a cell of its column could say:
/// the first that cannot, in words. Names, times and descriptions are
/// checked as rows are read.
pub fn check_value_maps(schema: &Schema) -> Result<(), HeaderError> {
    // Which call a row names is the file's to say, never a map's.
    let names_the_call = |f: &Field| matches!(f, Field::Id | Field::CallerNumber | Field::CallTime);
    for (pos, map) in &schema.value_maps {
        let Some((_, field)) = schema.columns.iter().find(|(p, _)| p == pos) else { continue };
        for (theirs, ours) in map {
            let why = if names_the_call(field) {
                Some(format!("`{}` names the call, which a value map may not change", field.name()))
            } else if ours.contains('=') {
                let mut seen: Vec<Field> = Vec::new();
                several(ours).find_map(|(column, value)| match field_for(column) {
                    None => Some(format!("`{column}` is not a tdrecon column")),
                    Some(field) if names_the_call(&field) => {
                        Some(format!("`{column}` names the call, which a value map may not change"))
                    }
                    Some(field) if seen.contains(&field) => Some(format!("`{column}` is given twice")),
                    Some(field) => {
                        seen.push(field.clone());
                        refuses(&field, value)
                    }
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
pub(super) fn several(ours: &str) -> impl Iterator<Item = (&str, &str)> {
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
