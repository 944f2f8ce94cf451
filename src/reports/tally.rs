//! `Tally`: what a validation pass found (rows read, valid, rejected by
//! reason), counted by `validate` and `run` and rendered in their summaries.

use crate::text::line;
use std::collections::BTreeMap;

use crate::input::rejection::RejectKind;
use crate::input::update::CallUpdate;

/// What a validation pass found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub rows: u64,
    pub valid: u64,
    pub rejected: u64,
    /// Rejections by kind and column.
    pub by_reason: BTreeMap<(RejectKind, String), u64>,
    /// Valid rows whose negative amount in a set column goes as its add
    /// (`--negative-as-add`), by the add (`add_revenue`).
    pub routed: BTreeMap<&'static str, u64>,
}

impl Tally {
    /// A valid row, and which way its amounts go.
    pub fn valid(&mut self, update: &CallUpdate) {
        self.valid += 1;
        for field in &update.routed {
            if let Some(add) = field.spec().add {
                *self.routed.entry(add).or_default() += 1;
            }
        }
    }

    pub fn reject(&mut self, kind: RejectKind, column: &str) {
        self.rejected += 1;
        *self.by_reason.entry((kind, column.to_string())).or_default() += 1;
    }

    /// The summary lines printed at the end of `validate` and `run`.
    pub fn render(&self) -> String {
        let mut out = line("rows read", self.rows, "");
        out.push_str(&line("  valid", self.valid, ""));
        for (add, n) in &self.routed {
            let set = add.trim_start_matches("add_");
            out.push_str(&line(&format!("    negative {set}, sent as {add}"), n, "chargebacks (--negative-as-add)"));
        }
        out.push_str(&line("  invalid", self.rejected, "never sent (errors.csv)"));
        for ((kind, column), n) in &self.by_reason {
            let label = if column.is_empty() { kind.to_string() } else { format!("{kind} ({column})") };
            out.push_str(&line(&format!("    {label}"), n, ""));
        }
        out
    }

    /// `validate`'s summary for schedulers.
    pub fn to_json(&self) -> serde_json::Value {
        let by_reason: Vec<serde_json::Value> = self
            .by_reason
            .iter()
            .map(|((kind, column), n)| serde_json::json!({"reason": kind.to_string(), "column": column, "rows": n}))
            .collect();
        serde_json::json!({
            "rows_read": self.rows,
            "valid": self.valid,
            "invalid": self.rejected,
            "invalid_by_reason": by_reason,
            "negative_as_add": self.routed,
        })
    }
}
