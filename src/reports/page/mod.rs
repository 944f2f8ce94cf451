//! `--report FILE.html`: one self-contained page of the night for a finance
//! lead to open, mail or print and sign off. Everything is inline (styles,
//! a few lines of script to sort tables, SVG charts) and the page's own
//! Content-Security-Policy forbids loading anything, so it reads the same
//! offline, in a mail client, or on paper. Built from the summary alone:
//! the night at a glance, totals per buyer before and after (with a chart),
//! the control totals, the discrepancies and the rows that need a look.
//! A table longer than `TABLE_ROWS` shows its first rows and names the CSV
//! that holds them all.

mod chart;

use std::fmt::Write;

use rust_decimal::Decimal;

use crate::compare::discrepancies::{self, Said};
use crate::compare::discrepancy::{Discrepancy, Finding};
use crate::outcome::Status;
use crate::reports::summary::{LOOKS_KEPT, RunSummary, Totals};

/// The most rows a table of the page shows.
pub const TABLE_ROWS: usize = LOOKS_KEPT;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// Nothing may be loaded: not a font, an image, a script or a request.
const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// Text made safe to put in HTML, as an element's text or an attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn money(d: Decimal) -> String {
    format!("{d:.2}")
}

/// A number cell: right-aligned, sorted by value.
fn num(out: &mut String, value: Option<Decimal>, signed: bool) {
    match value {
        Some(v) => {
            let class = if v < Decimal::ZERO { "num neg" } else { "num" };
            let text = if signed { format!("{v:+.2}") } else { money(v) };
            let _ = write!(out, "<td class=\"{class}\" data-v=\"{v}\">{text}</td>");
        }
        None => out.push_str("<td class=\"num\" data-v=\"-1e300\"></td>"),
    }
}

fn cell(out: &mut String, text: &str) {
    let _ = write!(out, "<td>{}</td>", breakable(text));
}

/// A run of this many characters without a space may break after it.
const WORD_BREAK: usize = 10;

/// `escape`d text for a table cell, a `<wbr>` after every `WORD_BREAK`
/// characters of a run without a space: a 5,000-letter name wraps in its
/// column instead of widening the page, while words of a usual length keep
/// the width a table gives them (CSS's `overflow-wrap: anywhere` would let
/// the table squeeze every word to a letter a line).
fn breakable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_whitespace() { 0 } else { run + 1 };
        if run > WORD_BREAK {
            out.push_str("<wbr>");
            run = 1;
        }
        out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
    }
    out
}

/// A cell holding a name (a buyer's, as the report or TrackDrive spells
/// it): isolated, so its direction stays its own.
fn name(out: &mut String, text: &str) {
    let _ = write!(out, "<td><bdi>{}</bdi>{}</td>", breakable(text), steering_mark(text));
}

/// After a name that carries a writing-direction control: a mark that says
/// which (the name may read as another buyer's: `emcA` turned reads `Acme`).
fn steering_mark(text: &str) -> String {
    let mut controls: Vec<String> = text
        .chars()
        .filter(|c| crate::text::steers_direction(c.encode_utf8(&mut [0; 4])))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    if controls.is_empty() {
        return String::new();
    }
    controls.dedup();
    format!(" <span class=\"steer\" title=\"writing-direction control\">(holds {})</span>", controls.join(" "))
}

/// A cell kept on one line (a time, an id, a number).
fn whole(out: &mut String, text: &str) {
    let _ = write!(out, "<td class=\"whole\">{}</td>", escape(text));
}

/// What the page is of: `plan` or `run`.
pub fn render(summary: &RunSummary, command: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("tdrecon {command}: {}", summary.input.display());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\n",
        escape(&title)
    );
    let _ = write!(out, "<h1>{}</h1>", escape(&title));
    let when = if summary.finished_at.is_empty() { String::new() } else { format!(", {}", summary.finished_at) };
    let kind = if command == "plan" { "a plan: nothing was sent" } else { "a run" };
    let _ = writeln!(out, "<p class=\"sub\">{}{}</p>", escape(kind), escape(&when));
    if let Some((path, seal)) = &summary.plan_seal {
        // What is signed is this plan: its digest and time match the seal
        // `run --plan` checks.
        let what = if command == "plan" { "This plan is sealed" } else { "Applied the plan sealed" };
        let _ = writeln!(
            out,
            "<p class=\"sub seal\">{what} as SHA-256 <code>{}</code> at {} ({}).</p>",
            escape(&seal.plan_sha256),
            escape(&seal.made_at),
            escape(&crate::reports::signed_plan::seal_path(path).display().to_string())
        );
    }
    glance(&mut out, summary, command);
    buyers(&mut out, summary);
    control(&mut out, summary);
    if let Some(said) = &summary.discrepancies {
        found(&mut out, said);
    }
    looks(&mut out, summary);
    let notes: Vec<&String> =
        summary.read_notes.iter().chain(summary.discrepancies.iter().flat_map(|d| d.notes.iter())).collect();
    if !notes.is_empty() {
        out.push_str("<h2>Notes</h2><ul class=\"notes\">");
        for note in notes {
            let _ = write!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul>");
    }
    let _ = write!(
        out,
        "<footer>Written by tdrecon {} from {}{}.</footer>\n</main><script>{SCRIPT}</script></body></html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&summary.input.display().to_string()),
        summary.input_sha256.as_deref().map(|s| format!(" (SHA-256 {})", &s[..s.len().min(12)])).unwrap_or_default()
    );
    // Each table in a box of its own width: one that still cannot fit
    // (many columns of long words on a narrow screen) scrolls in its box,
    // never the page. Report text is escaped: these tags are the page's.
    out.replace("<table", "<div class=\"fit\"><table").replace("</table>", "</table></div>")
}

/// The night at a glance: a card per count.
fn glance(out: &mut String, s: &RunSummary, command: &str) {
    let look = s.validation.rejected + s.failures();
    // A night not judged shows no count, never a reassuring 0.
    let found = match &s.discrepancies {
        Some(d) if d.judged => Some(Finding::ALL.iter().map(|k| d.found.total(*k).calls).sum::<u64>()),
        _ => None,
    };
    let changed = if command == "plan" {
        ("would change", s.count(Status::WouldChange))
    } else {
        ("applied", s.count(Status::Ok))
    };
    let cards = [
        ("rows", s.validation.rows.to_string(), ""),
        (changed.0, changed.1.to_string(), ""),
        ("unchanged", s.count(Status::Unchanged).to_string(), ""),
        ("need a look", look.to_string(), if look > 0 { "look" } else { "" }),
        match found {
            Some(n) => ("discrepancies", n.to_string(), if n > 0 { "bad" } else { "" }),
            None => ("discrepancies: not judged", "&mdash;".to_string(), "look"),
        },
    ];
    out.push_str("<h2>The night at a glance</h2><div class=\"cards\">");
    for (label, n, class) in cards {
        let _ =
            write!(out, "<div class=\"card {class}\"><div class=\"n\">{n}</div><div class=\"k\">{label}</div></div>");
    }
    out.push_str("</div>\n");
    if let Some(why) = &s.input_changed {
        let _ = write!(out, "<p class=\"banner bad\">Input changed: {}</p>", escape(why));
    }
    if let Some(stop) = &s.stop {
        let _ = write!(out, "<p class=\"banner bad\">Stopped: {}</p>", escape(&format!("{stop:?}")));
    }
}

/// Totals per buyer before and after, over the report's rows.
fn buyers(out: &mut String, s: &RunSummary) {
    if s.by_buyer.is_empty() {
        return;
    }
    out.push_str("<h2>Totals per buyer, before and after</h2>");
    let bars: Vec<(String, Decimal, Decimal)> =
        s.by_buyer.iter().map(|(b, t)| (b.clone(), t.revenue_before, t.revenue_after)).collect();
    out.push_str(&chart::bars(&bars));
    out.push_str(
        "<table class=\"sortable\"><thead><tr><th>buyer</th><th class=\"num\">calls</th>\
         <th class=\"num\">revenue before</th><th class=\"num\">revenue after</th><th class=\"num\">change</th>\
         <th class=\"num\">payout before</th><th class=\"num\">payout after</th></tr></thead><tbody>",
    );
    // One row of totals: the calls, revenue before, after and change, payout before and after.
    let amounts = |out: &mut String, t: &Totals| {
        let _ = write!(out, "<td class=\"num\" data-v=\"{0}\">{0}</td>", t.rows);
        num(out, Some(t.revenue_before), false);
        num(out, Some(t.revenue_after), false);
        num(out, Some(t.revenue_after - t.revenue_before), true);
        num(out, Some(t.payout_before), false);
        num(out, Some(t.payout_after), false);
    };
    for (buyer, t) in s.by_buyer.iter().take(TABLE_ROWS) {
        out.push_str("<tr>");
        name(out, buyer);
        amounts(out, t);
        out.push_str("</tr>");
    }
    out.push_str("</tbody><tfoot><tr class=\"total\"><td>all</td>");
    amounts(out, &s.totals);
    out.push_str("</tr></tfoot></table>\n");
    more(out, s.by_buyer.len(), "buyers", "the summary JSON");
}

/// TrackDrive's totals for the window, read before and after a run.
fn control(out: &mut String, s: &RunSummary) {
    let Some(c) = &s.control else { return };
    out.push_str("<h2>Control totals (TrackDrive, the whole window)</h2>");
    let agrees = c.agrees(s.totals.moved());
    let _ = write!(
        out,
        "<p class=\"banner {}\">{}</p>",
        if agrees { "good" } else { "bad" },
        if agrees {
            "The window's totals moved by exactly what the rows moved."
        } else {
            "The window's totals did not move by what the rows moved: another writer changed calls in the \
             window, or rows are in doubt. Check before signing off."
        }
    );
    out.push_str(
        "<table><thead><tr><th></th><th class=\"num\">calls</th><th class=\"num\">before</th>\
         <th class=\"num\">after</th><th class=\"num\">change</th></tr></thead><tbody>",
    );
    for (what, before, after) in
        [("revenue", c.before.revenue, c.after.revenue), ("payout", c.before.payout, c.after.payout)]
    {
        let _ = write!(out, "<tr><td>{what}</td><td class=\"num\">{}</td>", c.after.calls.max(c.before.calls));
        num(out, Some(before), false);
        num(out, Some(after), false);
        num(out, Some(after - before), true);
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

/// The discrepancies: per buyer, then one table per kind.
fn found(out: &mut String, said: &Said) {
    out.push_str("<h2>What TrackDrive and the report disagree on</h2>");
    if !said.judged {
        out.push_str("<p>Not judged (see the notes).</p>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>buyer</th><th class=\"num\">converted, not on the report</th>\
         <th class=\"num\">paid, not converted</th><th class=\"num\">paid, another buyer's</th>\
         <th class=\"num\">paid, no such call</th><th class=\"num\">amounts that differ</th></tr></thead><tbody>",
    );
    for (side, kinds) in &said.found.by_side {
        out.push_str("<tr>");
        name(out, side);
        for kind in Finding::ALL {
            let c = kinds.get(&kind).copied().unwrap_or_default();
            let dollars = match kind {
                Finding::AmountDiffers => discrepancies::dollars_words(kind, &c, said.found.over_under(Some(side))),
                _ => money(c.dollars),
            };
            let _ = write!(out, "<td class=\"num\">{} &middot; {dollars}</td>", c.calls);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table><p class=\"legend\">calls &middot; dollars</p>\n");
    let csv = match &said.path {
        Some(path) => path.display().to_string(),
        None => "the discrepancies CSV, which could not be written (see the notes),".to_string(),
    };
    for (kind, title) in [
        (Finding::LeftOut, "Converted in TrackDrive, not on the report (the buyer may owe for these)"),
        (Finding::NotConverted, "Paid on the report, not converted in TrackDrive"),
        (Finding::NotTheirs, "Paid on the report, another buyer's call in TrackDrive"),
        (Finding::NoSuchCall, "Paid on the report, no such call in the window"),
        (Finding::AmountDiffers, "Amounts that differ"),
    ] {
        let items: Vec<&Discrepancy> = said.found.items.iter().filter(|d| d.kind == kind).collect();
        let _ = write!(out, "<h3>{} ({})</h3>", escape(title), items.len());
        if items.is_empty() {
            out.push_str("<p class=\"more\">None.</p>");
            continue;
        }
        out.push_str(
            "<table class=\"sortable\"><thead><tr><th>buyer</th><th class=\"num\">line</th><th>call</th>\
             <th>caller</th><th>time</th><th>TrackDrive's buyer</th><th class=\"num\">revenue</th>\
             <th class=\"num\">report</th><th class=\"num\">dollars</th><th>why</th></tr></thead><tbody>",
        );
        for d in items.iter().take(TABLE_ROWS) {
            let f = d.facts.as_ref();
            out.push_str("<tr>");
            name(out, &d.side);
            let line = d.line.map(|l| l.to_string()).unwrap_or_default();
            let _ = write!(out, "<td class=\"num\" data-v=\"{}\">{line}</td>", d.line.unwrap_or(0));
            whole(out, &f.map_or_else(|| d.call.to_string(), |f| f.id.to_string()));
            whole(out, f.and_then(|f| f.caller.as_deref()).unwrap_or_default());
            let time = f.and_then(|f| f.at_ms).map(|ms| discrepancies::shown_time(ms, &said.zone));
            time_cell(out, &time.unwrap_or_default());
            trackdrive_buyer(out, f);
            num(out, f.and_then(|f| f.revenue), false);
            num(out, d.report_amount, false);
            num(out, Some(d.dollars), kind == Finding::AmountDiffers);
            let _ = write!(out, "<td class=\"why\">{}</td></tr>", breakable(&d.why));
        }
        out.push_str("</tbody></table>\n");
        more(out, items.len(), "rows", &csv);
    }
}

/// A time as `local_time` shows it: the date and clock kept together, the
/// zone free to go under them when the table is narrow.
fn time_cell(out: &mut String, time: &str) {
    let clock_end = time.match_indices(' ').nth(1).map_or(time.len(), |(i, _)| i);
    let (when, zone) = time.split_at(clock_end);
    let _ = write!(out, "<td><span class=\"nw\">{}</span>{}</td>", escape(when), escape(zone));
}

/// TrackDrive's buyer of a call: its name isolated, then its id.
fn trackdrive_buyer(out: &mut String, f: Option<&crate::compare::discrepancy::CallFacts>) {
    match f.map(|f| (&f.buyer, &f.buyer_id)) {
        Some((Some(buyer), id)) => {
            let id = id.as_ref().map(|id| format!(" ({})", escape(id))).unwrap_or_default();
            let _ = write!(out, "<td><bdi>{}</bdi>{id}{}</td>", breakable(buyer), steering_mark(buyer));
        }
        _ => cell(out, &f.map(|f| f.buyer_shown()).unwrap_or_default()),
    }
}

/// The rows that need a look, with why.
fn looks(out: &mut String, s: &RunSummary) {
    let total = s.validation.rejected + s.failures();
    out.push_str("<h2>Rows that need a look</h2>");
    if total == 0 {
        out.push_str("<p class=\"more\">None: every row was valid and none was refused, failed or left unknown.</p>");
        return;
    }
    out.push_str(
        "<table class=\"sortable\"><thead><tr><th class=\"num\">line</th><th>call</th><th>status</th>\
         <th>column</th><th>why</th></tr></thead><tbody>",
    );
    for look in s.looks.iter().take(TABLE_ROWS) {
        let _ = write!(out, "<tr><td class=\"num\" data-v=\"{0}\">{0}</td>", look.line);
        cell(out, &look.call);
        cell(out, &look.status);
        cell(out, &look.column);
        let _ = write!(out, "<td class=\"why\">{}</td></tr>", breakable(&look.why));
    }
    out.push_str("</tbody></table>\n");
    let files = format!("{} and {}", s.errors.display(), s.results.display());
    more(out, usize::try_from(total).unwrap_or(usize::MAX).max(s.looks.len()), "rows", &files);
}

/// Under a table cut at `TABLE_ROWS`: where the rest are.
fn more(out: &mut String, len: usize, what: &str, whole: &str) {
    if len > TABLE_ROWS {
        let _ = write!(
            out,
            "<p class=\"more\">The first {TABLE_ROWS} of {len} {what} are shown; {} holds them all.</p>",
            escape(whole)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::summary::Look;

    #[test]
    fn text_is_escaped_and_nothing_is_loaded() {
        let mut s = RunSummary { input: "<night>.csv".into(), ..RunSummary::default() };
        s.by_buyer.insert("Acme & \"Sons\"".into(), Totals { rows: 1, ..Totals::default() });
        s.validation.rejected = 1;
        s.looks.push(Look {
            line: 3,
            call: String::new(),
            status: "invalid".into(),
            column: "Revenue".into(),
            why: "<script>alert(1)</script>".into(),
        });
        let page = render(&s, "plan");
        assert!(page.contains("Acme &amp; &quot;Sons&quot;") && page.contains("&lt;night&gt;.csv"));
        assert!(!page.contains("<script>alert"), "report text is never markup");
        assert_eq!(page.matches("<script>").count(), 1, "one script: the page's own");
        for outside in ["http://", "https://", "src=", "href=", "url(", "@import"] {
            assert!(!page.contains(outside), "{outside}");
        }
        assert!(page.contains("default-src 'none'"));
    }

    #[test]
    fn a_long_run_without_a_space_may_break() {
        let table = [
            ("Acme Insurance", "Acme Insurance".to_string()),
            ("a<b", "a&lt;b".to_string()),
            (&"x".repeat(22), format!("{0}<wbr>{0}<wbr>xx", "x".repeat(10))),
            (&format!("{} {}", "y".repeat(10), "y".repeat(10)), format!("{0} {0}", "y".repeat(10))),
        ];
        for (text, want) in table {
            assert_eq!(breakable(text), want, "{text}");
        }
    }

    #[test]
    fn long_tables_show_their_first_rows() {
        let mut s = RunSummary::default();
        s.validation.rejected = 2500;
        for line in 0..TABLE_ROWS as u64 {
            s.looks.push(Look {
                line,
                call: String::new(),
                status: "invalid".into(),
                column: String::new(),
                why: String::new(),
            });
        }
        let page = render(&s, "run");
        assert_eq!(page.matches("<tr><td class=\"num\"").count(), TABLE_ROWS);
        assert!(page.contains("The first 1000 of 2500 rows are shown"), "the rest are pointed to");
    }
}
