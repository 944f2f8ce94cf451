//! Text as tdrecon writes it for people: summary lines, counted nouns,
//! times in the report's own zone, and the guard that keeps a spreadsheet
//! from running echoed text as a formula. A leaf: depends on nothing of ours.

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

/// An instant as a person compares it with the buyer's file: in the
/// report's zone (`--time-zone`), with the zone's abbreviation and offset,
/// `2026-12-06 13:03 CST (-06:00)`; seconds only when there are some.
pub fn local_time(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else { return String::new() };
    let zoned = ts.to_zoned_datetime(zone.clone());
    let clock = if zoned.second() == 0 { "%H:%M" } else { "%H:%M:%S" };
    let offset = zoned.strftime("%:z").to_string();
    // A zone with no abbreviation of its own shows its offset once.
    let abbreviation = zoned.strftime("%Z").to_string();
    let name = if abbreviation.is_empty() || abbreviation.starts_with(['+', '-']) {
        String::new()
    } else {
        format!("{abbreviation} ")
    };
    format!("{} {name}({offset})", zoned.strftime(&format!("%Y-%m-%d {clock}")))
}

/// A name as it is put into a longer text: wrapped in first-strong
/// isolate marks (U+2068 … U+2069) when it holds a directional override,
/// embedding or isolate, so a name carrying U+202E cannot turn the rest of
/// the sentence, the CSV cell or the terminal line around. A name without
/// one is returned as it is.
pub fn isolated(name: &str) -> Cow<'_, str> {
    if name.chars().any(steers) { Cow::Owned(format!("\u{2068}{name}\u{2069}")) } else { Cow::Borrowed(name) }
}

/// Whether `c` steers writing direction: an embedding, override or isolate
/// control (or its end).
fn steers(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A name as a terminal line or a chart label shows it: each control that
/// steers writing direction written out (`\u{202e}`), so a name that
/// reverses itself into another buyer's cannot pass for it.
pub fn visible(name: &str) -> Cow<'_, str> {
    if !name.chars().any(steers) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(name.chars().map(|c| if steers(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect())
}

/// Whether a name carries a control that steers writing direction.
pub fn steers_direction(name: &str) -> bool {
    name.chars().any(steers)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_steers_direction_is_shown_with_its_controls() {
        assert_eq!(visible("Acme Insurance"), "Acme Insurance");
        assert_eq!(visible("\u{202E}ecnarusnI emcA"), "\\u{202e}ecnarusnI emcA");
        assert!(steers_direction("a\u{2067}b") && !steers_direction("\u{5e9}"));
    }

    #[test]
    fn a_name_that_steers_direction_is_isolated() {
        let table = [
            ("Acme Insurance", "Acme Insurance"),
            ("\u{5e9}\u{5dc}\u{5d5}\u{5dd}", "\u{5e9}\u{5dc}\u{5d5}\u{5dd}"),
            ("Acme \u{202E}Insurance", "\u{2068}Acme \u{202E}Insurance\u{2069}"),
            ("\u{2067}x", "\u{2068}\u{2067}x\u{2069}"),
        ];
        for (name, want) in table {
            assert_eq!(isolated(name), want, "{name:?}");
        }
    }

    #[test]
    fn times_in_the_reports_zone() {
        let chicago = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let cases = [
            ("2026-12-06T19:03:00Z", &chicago, "2026-12-06 13:03 CST (-06:00)"),
            ("2026-07-06T19:03:27Z", &chicago, "2026-07-06 14:03:27 CDT (-05:00)"),
            ("2026-12-06T19:03:00Z", &jiff::tz::TimeZone::UTC, "2026-12-06 19:03 UTC (+00:00)"),
        ];
        for (instant, zone, want) in cases {
            assert_eq!(local_time(at(instant), zone), want, "{instant}");
        }
        let fixed = jiff::tz::TimeZone::fixed(jiff::tz::offset(-6));
        assert_eq!(local_time(at("2026-12-06T19:03:00Z"), &fixed), "2026-12-06 13:03 (-06:00)");
    }
}
