//! Text as tdrecon writes it for people: summary lines, counted nouns, and
//! the guard that keeps a spreadsheet from running echoed text as a
//! formula. A leaf: depends on nothing of ours.

use std::borrow::Cow;

/// One summary line: a label, a right-aligned figure, and a note.
pub fn line(label: &str, figure: impl std::fmt::Display, note: &str) -> String {
    let figure = figure.to_string();
    // Labels and figures line up in columns for any label up to 40 wide.
    let mut out = format!("{label:<40}{figure:>8}");
    if !note.is_empty() {
        out.push_str("  ");
        out.push_str(note);
    }
    out.push('\n');
    out
}

/// `1 call`, `2 calls`: `many` is the plural.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// Prefixes `'` to text a spreadsheet would read as a formula (`= + - @`, a
/// tab or a carriage return at the start), so opening a report is never the
/// way an attacker's cell runs. Only for text echoed from input or a server.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if is_formula(text) { Cow::Owned(format!("'{text}")) } else { Cow::Borrowed(text) }
}

/// `neutralise` for text already owned: returned as is unless it needs the prefix.
pub fn neutralise_owned(text: String) -> String {
    if is_formula(&text) { format!("'{text}") } else { text }
}

fn is_formula(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}
