//! A record's update as its cells are read: each cell into its field, the
//! conflicts between columns named, and the whole row checked (it names one
//! call and changes something).

use csv::ByteRecord;

use crate::input::columns::{Described, Field, Schema, field_for, same_value};
use crate::input::fields::{CallField, FIELDS, Value};
use crate::input::money::{Sign, parse_signed};
use crate::input::rejection::{RejectKind, Rejection};
use crate::input::update::{CallUpdate, Change};
use crate::input::values::{CallRef, CallTime, parse_call_times, parse_caller_number, parse_tokens_json};

use super::cells::{read_cell, several};
use super::{CLEAR, Cell};

/// A record's update as its cells are read, with the columns that set each
/// part (to name both in a conflict).
pub(super) struct RowBuilder<'a> {
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

    pub(super) fn new(schema: &'a Schema, raw: &'a ByteRecord) -> Self {
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
    pub(super) fn apply(&mut self, field: &Field, cell: &Cell<'_>, text: &str) -> Result<(), Rejection> {
        let reject = |reason: String| cell.reject(reason);
        // A column with a value map takes its values through it; a value
        // mapped to nothing leaves the field alone.
        let text = match self.schema.value_map(cell.pos) {
            Some(map) => {
                let theirs = text.trim();
                match map.iter().find(|(t, _)| same_value(t, theirs)) {
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
            Field::Call(f, adds) => self.call_field(*f, *adds, cell, trimmed, clear)?,
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

    /// One call field's cell (`adds`: an add column), once checked that no
    /// other column of the row set the field.
    fn call_field(
        &mut self,
        f: CallField,
        adds: bool,
        cell: &Cell<'_>,
        trimmed: &str,
        clear: bool,
    ) -> Result<(), Rejection> {
        if let Some(other) = self.set_by[f as usize] {
            return Err(self.conflict(cell, other));
        }
        let update = &mut self.update;
        // A set column declared to send negative amounts as adds
        // (`--negative-as-add`): a chargeback in a column of sales.
        let routed = !clear && !adds && self.schema.negative_as_add.contains(&f);
        let change = if clear {
            Ok(Change::Set(Value::Text(String::new())))
        } else if routed {
            // A negative zero (`(0.00)`, `-$0`) is a chargeback of nothing:
            // an add of zero, not a set that wipes the call's amount.
            parse_signed(trimmed, Sign::Any).map(|(d, negative)| {
                if negative {
                    if !d.is_zero() {
                        update.routed.push(f);
                    }
                    Change::Add(d)
                } else {
                    Change::Set(Value::Money(d))
                }
            })
        } else {
            read_cell(f, adds, trimmed)
        };
        self.set_by[f as usize] = Some(cell.pos);
        match change.map_err(|reason| cell.reject(reason))? {
            // Adding zero changes nothing: not sent, so never in doubt.
            Change::Add(d) if d.is_zero() => self.zero_add = Some(cell.pos),
            change => self.update.set(f, change),
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
    pub(super) fn finish(self) -> Result<CallUpdate, Rejection> {
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
                    reason: format!(
                        "a row without a call id needs {} and {} to find its call",
                        schema.named(&Field::CallerNumber),
                        schema.named(&Field::CallTime)
                    ),
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
