//! `Tally`: what a validation pass found (rows read, valid, rejected by
//! reason), counted by `validate` and `run` and rendered in their summaries.

use std::collections::BTreeMap;

use crate::input::rejection::RejectKind;

/// What a validation pass found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub rows: u64,
    pub valid: u64,
    pub rejected: u64,
    /// Rejections by kind and column.
    pub by_reason: BTreeMap<(RejectKind, String), u64>,
}

impl Tally {
    pub fn reject(&mut self, kind: RejectKind, column: &str) {
        self.rejected += 1;
        *self.by_reason.entry((kind, column.to_string())).or_default() += 1;
    }

    /// The summary lines printed at the end of `validate` and `run`.
    pub fn render(&self) -> String {
        let mut out =
            format!("rows read  {:>8}\nvalid      {:>8}\nrejected   {:>8}\n", self.rows, self.valid, self.rejected);
        for ((kind, column), n) in &self.by_reason {
            let label = if column.is_empty() { kind.to_string() } else { format!("{kind} ({column})") };
            out.push_str(&format!("  {label:<40} {n:>8}\n"));
        }
        out
    }
}
