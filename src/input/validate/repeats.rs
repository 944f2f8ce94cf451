//! One call, one row: a valid record whose call an earlier valid record
//! already names (by id, by UUID once its id is known, or found by caller
//! number) is a repeat, naming that record's line.

use crate::input::columns::{Field, Schema};
use crate::input::reader::Record;
use crate::input::rejection::{RejectKind, Rejection};
use crate::input::seen_ids::Seen;
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;

/// The in-order half of a `Validator`: calls already named by a valid row.
pub struct Repeats<'a> {
    schema: &'a Schema,
    seen: &'a mut Seen,
}

impl<'a> Repeats<'a> {
    pub(super) fn new(schema: &'a Schema, seen: &'a mut Seen) -> Repeats<'a> {
        Repeats { schema, seen }
    }
}

impl Repeats<'_> {
    /// Rejects a valid record whose call an earlier valid record already
    /// names. Must see the valid records in file order, each once.
    pub fn check(&mut self, record: &Record<'_>, update: CallUpdate) -> Result<CallUpdate, Rejection> {
        self.check_call(record, update.call, update.named_uuid)?;
        Ok(update)
    }

    /// `check`, given only the call a valid record names (`named`: the UUID
    /// it named the call by, when `call` is its id).
    pub fn check_call(&mut self, record: &Record<'_>, call: CallRef, named: Option<u128>) -> Result<(), Rejection> {
        // Not found yet (`validate` cannot read the API): nothing to repeat.
        if call == CallRef::PENDING {
            return Ok(());
        }
        let line = u32::try_from(record.line).unwrap_or(u32::MAX);
        let first = self.seen.first_or_insert(call, line);
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
        // One call, whether a row names it by id or by UUID.
        let (alias, call) = match named {
            Some(uuid) => (format!(", which is call {call},"), CallRef::Uuid(uuid)),
            None => (String::new(), call),
        };
        Err(Rejection {
            kind: RejectKind::Duplicate,
            column,
            value: call.to_string(),
            reason: format!("call {call}{alias}{how} already appears on line {first}"),
        })
    }
}
