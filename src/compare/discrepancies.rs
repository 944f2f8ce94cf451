//! `<stem>.discrepancies.csv` and the summary's lines about it: what a
//! buyer's report and TrackDrive disagree on (`compare::discrepancy`), one
//! row per finding, counted and totalled per buyer.

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::compare::discrepancy::{Count, Discrepancies, Discrepancy, Finding};
use crate::text::count;
use crate::text::neutralise;

pub const HEADER: [&str; 14] = [
    "kind",
    "buyer",
    "line",
    "call_id",
    "caller_number",
    "call_time",
    "call_buyer",
    "buyer_converted",
    "revenue",
    "report_amount",
    "dollars",
    "why",
    "call_buyer_id",
    "call_time_utc",
];

/// A time as the discrepancies show it to a person: in the report's zone
/// (`2026-11-27 12:05 CST (-06:00)`).
pub fn shown_time(ms: i64, zone: &jiff::tz::TimeZone) -> String {
    crate::text::local_time(ms, zone)
}

/// An instant as a script reads it: RFC 3339, UTC.
fn instant(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// One finding's cells, in `HEADER`'s order (text from the report or the
/// server neutralised against formulas; amounts bare; the call's time in
/// the report's zone, and as an instant at the end).
pub fn cells(d: &Discrepancy, zone: &jiff::tz::TimeZone) -> Vec<String> {
    let facts = d.facts.as_ref();
    let text = |t: Option<&str>| neutralise(t.unwrap_or_default()).into_owned();
    let money = |m: Option<rust_decimal::Decimal>| m.map(|m| format!("{m:.2}")).unwrap_or_default();
    vec![
        d.kind.as_str().to_string(),
        text(Some(&d.side)),
        d.line.map(|l| l.to_string()).unwrap_or_default(),
        facts.map_or_else(|| d.call.to_string(), |f| f.id.to_string()),
        text(facts.and_then(|f| f.caller.as_deref())),
        facts.and_then(|f| f.at_ms).map(|ms| shown_time(ms, zone)).unwrap_or_default(),
        facts.map(|f| text(Some(&f.buyer_shown()))).unwrap_or_default(),
        facts.and_then(|f| f.buyer_converted).map(|b| if b { "yes" } else { "no" }.to_string()).unwrap_or_default(),
        money(facts.and_then(|f| f.revenue)),
        money(d.report_amount),
        format!("{:.2}", d.dollars),
        text(Some(&d.why)),
        text(facts.and_then(|f| f.buyer_id.as_deref())),
        facts.and_then(|f| f.at_ms).map(instant).unwrap_or_default(),
    ]
}

/// Writes every finding to `path` (atomically: a script waiting for the file
/// never reads half of it).
pub fn write(path: &Path, found: &Discrepancies, zone: &jiff::tz::TimeZone) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for d in &found.items {
        w.write_record(cells(d, zone))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    crate::files::write_atomically(path, &bytes)
}

/// What the summary says of the discrepancies.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    /// The night was judged: `found` holds its findings (none, perhaps).
    pub judged: bool,
    /// The window judged against (milliseconds since the epoch).
    pub window: Option<(i64, i64)>,
    pub found: Discrepancies,
    /// Where they were written (`None`: not written, see `notes`).
    pub path: Option<PathBuf>,
    /// Buyer names a list was read for, and names that resolved to none.
    pub notes: Vec<String>,
    /// The report's zone (`--time-zone`): times are shown in it.
    pub zone: jiff::tz::TimeZone,
}

impl Default for Said {
    fn default() -> Self {
        Said {
            judged: false,
            window: None,
            found: Discrepancies::default(),
            path: None,
            notes: Vec::new(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }
}

fn count_words(kind: Finding, c: &Count, over_under: (Decimal, Decimal)) -> String {
    format!("{} {} ({})", c.calls, kind.words(c.calls), dollars_words(kind, c, over_under))
}

/// A kind's dollars as the summary and the page say them: an amount that
/// differs is signed, and split when some were paid over and some under.
pub fn dollars_words(kind: Finding, c: &Count, (over, under): (Decimal, Decimal)) -> String {
    match kind {
        Finding::AmountDiffers if over != Decimal::ZERO && under != Decimal::ZERO => {
            format!("{:+.2}: {over:+.2} over, {under:+.2} under", c.dollars)
        }
        Finding::AmountDiffers => format!("{:+.2}", c.dollars),
        _ => format!("{:.2}", c.dollars),
    }
}

impl Said {
    /// The summary's lines.
    pub fn render(&self) -> String {
        let all: u64 = Finding::ALL.iter().map(|k| self.found.total(*k).calls).sum();
        if !self.judged {
            return self.notes.iter().map(|note| format!("note: {note}\n")).collect();
        }
        let found = count(all, "finding", "findings");
        let place = match &self.path {
            Some(path) => format!("in {}", path.display()),
            None => "not written".to_string(),
        };
        let mut out = format!("discrepancies (the report against TrackDrive, before the run): {found}, {place}\n");
        if let Some((from, to)) = self.window {
            let (from, to) = (shown_time(from, &self.zone), shown_time(to, &self.zone));
            out.push_str(&format!("  judged on the calls from {from} to {to}\n"));
        }
        for (side, kinds) in &self.found.by_side {
            let said: Vec<String> = Finding::ALL
                .iter()
                .filter_map(|k| {
                    kinds.get(k).filter(|c| c.calls > 0).map(|c| count_words(*k, c, self.found.over_under(Some(side))))
                })
                .collect();
            let said = if said.is_empty() { "agrees with TrackDrive".to_string() } else { said.join(", ") };
            out.push_str(&format!("  buyer {}: {said}\n", crate::text::visible(side)));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let kinds = |get: &dyn Fn(Finding) -> Count| {
            Finding::ALL
                .iter()
                .map(|k| {
                    let c = get(*k);
                    (k.as_str().to_string(), json!({"calls": c.calls, "dollars": format!("{:.2}", c.dollars)}))
                })
                .collect::<serde_json::Map<_, _>>()
        };
        let by_buyer: serde_json::Map<String, Value> = self
            .found
            .by_side
            .iter()
            .map(|(side, found)| (side.clone(), Value::Object(kinds(&|k| found.get(&k).copied().unwrap_or_default()))))
            .collect();
        let (over, under) = self.found.over_under(None);
        json!({
            "judged": self.judged,
            "window": self.window.map(|(from, to)| {
                json!({"from": instant(from), "to": instant(to), "zone": self.zone.iana_name()})
            }),
            "amount_differs_over": format!("{over:.2}"),
            "amount_differs_under": format!("{under:.2}"),
            "path": self.path.as_ref().map(|p| p.display().to_string()),
            "total": kinds(&|k| self.found.total(k)),
            "by_buyer": by_buyer,
            "notes": self.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::discrepancy::CallFacts;
    use crate::input::values::CallRef;

    #[test]
    fn a_finding_as_a_row_and_in_the_summary() {
        let mut found = Discrepancies::default();
        let facts = CallFacts {
            id: 300000002,
            caller: Some("+13035550100".into()),
            at_ms: Some(1_764_266_220_000),
            buyer_id: Some("8".into()),
            buyer: Some("=Bolt".into()),
            revenue: Some("40".parse().unwrap()),
            ..CallFacts::default()
        };
        let d = Discrepancy {
            kind: Finding::NotTheirs,
            side: "Acme Insurance".into(),
            line: Some(3),
            call: CallRef::Id(300000002),
            facts: Some(facts),
            report_amount: Some("40".parse().unwrap()),
            dollars: "40".parse().unwrap(),
            why: "TrackDrive holds this call for =Bolt (8)".into(),
        };
        let chicago = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let row = cells(&d, &chicago);
        assert_eq!(row.len(), HEADER.len());
        assert_eq!(&row[..4], ["not_theirs", "Acme Insurance", "3", "300000002"]);
        // In the report's zone for a person, and as an instant for a script.
        assert_eq!((row[5].as_str(), row[13].as_str()), ("2025-11-27 11:57 CST (-06:00)", "2025-11-27T17:57:00Z"));
        assert_eq!(row[6], "'=Bolt (8)", "text from the server is neutralised");
        assert_eq!((row[8].as_str(), row[10].as_str()), ("40.00", "40.00"));
        found
            .by_side
            .entry("Acme Insurance".into())
            .or_default()
            .insert(Finding::NotTheirs, Count { calls: 1, dollars: d.dollars });
        found.by_side.entry("Bolt Auto".into()).or_default();
        found.items.push(d);
        let said = Said { judged: true, found, path: Some("night.discrepancies.csv".into()), ..Said::default() };
        let text = said.render();
        assert!(text.contains("1 finding, in night.discrepancies.csv"), "{text}");
        assert!(text.contains("buyer Acme Insurance: 1 row paying another buyer's call (40.00)"), "{text}");
        assert!(text.contains("buyer Bolt Auto: agrees with TrackDrive"), "{text}");
        let json = said.to_json();
        assert_eq!(json["by_buyer"]["Acme Insurance"]["not_theirs"]["dollars"], "40.00");
        assert_eq!(json["total"]["left_out"]["calls"], 0);
        // Not written: the findings are still said.
        let unwritten = Said { path: None, notes: vec!["cannot write night.discrepancies.csv: full".into()], ..said };
        let text = unwritten.render();
        assert!(text.contains("1 finding, not written"), "{text}");
        assert!(text.contains("buyer Acme Insurance: 1 row paying"), "{text}");
        // Not judged: the notes alone.
        let none = Said { notes: vec!["no discrepancies: no buyer is known".into()], ..Said::default() };
        assert_eq!(none.render(), "note: no discrepancies: no buyer is known\n");
    }

    #[test]
    fn amounts_that_differ_are_signed_and_split() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let c = |dollars: &str| Count { calls: 2, dollars: d(dollars) };
        let cases = [
            (Finding::AmountDiffers, c("0"), (d("15"), d("-15")), "+0.00: +15.00 over, -15.00 under"),
            (Finding::AmountDiffers, c("5"), (d("5"), d("0")), "+5.00"),
            (Finding::AmountDiffers, c("-20"), (d("0"), d("-20")), "-20.00"),
            (Finding::LeftOut, c("90"), (d("0"), d("0")), "90.00"),
        ];
        for (kind, count, split, want) in cases {
            assert_eq!(dollars_words(kind, &count, split), want);
        }
    }
}
