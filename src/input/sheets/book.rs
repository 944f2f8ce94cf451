//! What a workbook says about itself besides its cells: its sheets and
//! which are hidden (calamine's metadata), the sheet it opens on, and
//! whether the results it stores for formulas were computed by a
//! spreadsheet. calamine does not expose the last two; they live in small
//! parts read here with the same zip and XML crates: an `.xlsx`'s
//! `xl/workbook.xml` (`<workbookView activeTab>`, `<calcPr
//! fullCalcOnLoad>`) and an `.ods`'s `settings.xml` (`ActiveTable`).
//!
//! `choose` is the rule for which sheet is the report: the one named, else
//! the one the workbook opens on, never a hidden one.

use std::io::{BufRead, BufReader, Read, Seek};

use calamine::{SheetType, SheetVisible};
use quick_xml::events::Event;

/// One sheet as the workbook lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetFacts {
    pub name: String,
    pub shown: Shown,
    /// A sheet of cells (not a chart, macro or dialog sheet).
    pub cells: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Visible,
    Hidden,
    /// Hidden so that Excel's own menus cannot show it.
    VeryHidden,
}

impl Shown {
    pub fn words(self) -> &'static str {
        match self {
            Shown::Visible => "visible",
            Shown::Hidden => "hidden",
            Shown::VeryHidden => "very hidden",
        }
    }
}

/// Which sheet a workbook opens on, as far as its format lets us know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opens {
    /// By its index in the workbook's list (`.xlsx`'s `activeTab`).
    At(usize),
    /// By its name (`.ods`'s `ActiveTable`).
    Named(String),
    /// The format says so where calamine does not read it (`.xls`).
    Unknown,
}

/// A workbook's sheets and what it says about them.
#[derive(Debug, Clone)]
pub struct Book {
    pub sheets: Vec<SheetFacts>,
    pub opens: Opens,
}

/// Why no sheet could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoSheet {
    /// `--sheet` names no sheet of the workbook.
    NoSuch(String),
    /// Every sheet of cells is hidden.
    AllHidden,
    /// The sheet it opens on is not a visible sheet of cells (why), and
    /// several are: which one is the report is not guessed.
    Several(Vec<String>, &'static str),
    /// Two sheets share a name (a damaged file): neither can be told apart.
    Twice(String),
}

impl Book {
    /// The facts calamine knows (names, visibility, kind), in workbook order.
    pub fn from_metadata(sheets: &[calamine::Sheet], opens: Opens) -> Book {
        let sheets = sheets
            .iter()
            .map(|s| SheetFacts {
                name: s.name.clone(),
                shown: match s.visible {
                    SheetVisible::Visible => Shown::Visible,
                    SheetVisible::Hidden => Shown::Hidden,
                    SheetVisible::VeryHidden => Shown::VeryHidden,
                },
                cells: matches!(s.typ, SheetType::WorkSheet),
            })
            .collect();
        Book { sheets, opens }
    }

    /// The sheet that is the report: the one `named` (hidden or not: the
    /// user asked for it), else the one the workbook opens on; a hidden
    /// sheet is never read unless named.
    pub fn choose(&self, named: Option<&str>) -> Result<usize, NoSheet> {
        let twice = self.sheets.iter().enumerate().find(|(i, s)| self.sheets[..*i].iter().any(|t| t.name == s.name));
        if let Some((_, sheet)) = twice {
            return Err(NoSheet::Twice(sheet.name.clone()));
        }
        if let Some(wanted) = named {
            return self.sheets.iter().position(|s| s.name == wanted).ok_or_else(|| NoSheet::NoSuch(wanted.into()));
        }
        let shown = |i: &usize| self.sheets.get(*i).is_some_and(|s| s.cells && s.shown == Shown::Visible);
        let opens = match &self.opens {
            Opens::At(i) => Some(*i),
            Opens::Named(name) => self.sheets.iter().position(|s| &s.name == name),
            Opens::Unknown => None,
        };
        if let Some(i) = opens.filter(shown) {
            return Ok(i);
        }
        let why = match opens.and_then(|i| self.sheets.get(i)) {
            _ if self.opens == Opens::Unknown => "the file does not say which sheet it opens on",
            None => "the sheet it says it opens on is not one of its sheets",
            Some(s) if !s.cells => "it opens on a chart",
            Some(_) => "the sheet it opens on is hidden",
        };
        let visible: Vec<usize> = (0..self.sheets.len()).filter(shown).collect();
        match visible.as_slice() {
            [] => Err(NoSheet::AllHidden),
            // The only sheet a person could be looking at.
            [only] => Ok(*only),
            several => Err(NoSheet::Several(several.iter().map(|i| self.sheets[*i].name.clone()).collect(), why)),
        }
    }
}

/// The `.xlsx` facts calamine does not expose: the sheet it opens on, and
/// whether it asks to be recalculated when opened (`fullCalcOnLoad`): then a
/// program wrote it, and the results it stores for formulas are
/// placeholders (openpyxl stores none, XlsxWriter stores 0). A workbook
/// without these elements opens on its first sheet and is trusted.
pub fn xlsx_facts(zip: &mut zip::ZipArchive<impl Read + Seek>) -> (Opens, bool) {
    let path = office_document(zip).unwrap_or_else(|| "xl/workbook.xml".into());
    let Ok(part) = zip.by_name(&path) else { return (Opens::At(0), false) };
    read_workbook_xml(BufReader::new(part))
}

/// Where the package says its workbook part is (`_rels/.rels`).
fn office_document(zip: &mut zip::ZipArchive<impl Read + Seek>) -> Option<String> {
    let part = zip.by_name("_rels/.rels").ok()?;
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let attr = |name: &str| {
                    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name).map(|a| a.value.to_string())
                };
                if attr("Type").is_some_and(|t| t.ends_with("/officeDocument")) {
                    return attr("Target").map(|t| t.trim_start_matches('/').to_string());
                }
            }
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

/// `<workbookView activeTab="N">` (absent: 0) and `<calcPr fullCalcOnLoad="1">`.
fn read_workbook_xml(part: impl BufRead) -> (Opens, bool) {
    let mut xml = quick_xml::Reader::from_reader(part);
    let (mut active, mut recalc) = (0usize, false);
    let mut first_view = true;
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let value = |name: &str| {
                    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name).map(|a| a.value.to_string())
                };
                match e.local_name().as_ref() {
                    // The first view is the one Excel opens.
                    "workbookView" if first_view => {
                        first_view = false;
                        // Absent: the first; unreadable: none of its sheets.
                        active = value("activeTab").map_or(0, |v| v.trim().parse().unwrap_or(usize::MAX));
                    }
                    "calcPr" => recalc = value("fullCalcOnLoad").is_some_and(|v| matches!(v.trim(), "1" | "true")),
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    (Opens::At(active), recalc)
}

/// An `.ods`'s `ActiveTable` setting (`settings.xml`), when it has one.
pub fn ods_opens(zip: &mut zip::ZipArchive<impl Read + Seek>) -> Opens {
    match zip.by_name("settings.xml") {
        Ok(part) => read_ods_settings(BufReader::new(part)).map_or(Opens::At(0), Opens::Named),
        Err(_) => Opens::At(0),
    }
}

fn read_ods_settings(part: impl BufRead) -> Option<String> {
    let mut xml = quick_xml::Reader::from_reader(part);
    let mut buf = Vec::new();
    let mut inside = false;
    let mut text = String::new();
    loop {
        match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "config-item" => {
                inside = e
                    .attributes()
                    .flatten()
                    .any(|a| a.key.local_name().as_ref() == "name" && a.value.as_ref() == "ActiveTable");
            }
            Event::Text(t) if inside => text.push_str(t.as_ref()),
            Event::GeneralRef(r) if inside => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(r.as_ref()) {
                    text.push_str(s);
                }
            }
            Event::End(e) if inside && e.local_name().as_ref() == "config-item" => return Some(text),
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(sheets: &[(&str, Shown)], opens: Opens) -> Book {
        let sheets = sheets.iter().map(|(n, s)| SheetFacts { name: n.to_string(), shown: *s, cells: true }).collect();
        Book { sheets, opens }
    }

    #[test]
    fn the_sheet_read_is_the_one_named_else_the_one_it_opens_on_never_a_hidden_one() {
        use Shown::{Hidden, VeryHidden, Visible};
        let night = [("Old night", Hidden), ("Tonight", Visible), ("Notes", Visible)];
        let two = || vec!["Tonight".to_string(), "Notes".to_string()];
        let missing = "the sheet it says it opens on is not one of its sheets";
        let cases: [(&[(&str, Shown)], Opens, Option<&str>, Result<usize, NoSheet>); 13] = [
            // Excel opens on the second sheet: that one, not the first.
            (&night, Opens::At(1), None, Ok(1)),
            (&night, Opens::At(2), None, Ok(2)),
            // It says it opens on its hidden sheet, or on none of its sheets:
            // with one visible sheet that is it; with several, which is not guessed.
            (&night[..2], Opens::At(0), None, Ok(1)),
            (&night, Opens::At(0), None, Err(NoSheet::Several(two(), "the sheet it opens on is hidden"))),
            (&night, Opens::At(9), None, Err(NoSheet::Several(two(), missing))),
            (&night, Opens::Named("Gone".into()), None, Err(NoSheet::Several(two(), missing))),
            (&[("A", Visible), ("A", Hidden)], Opens::At(0), None, Err(NoSheet::Twice("A".into()))),
            // Named: hidden or not, it is what the user asked for.
            (&night, Opens::At(1), Some("Old night"), Ok(0)),
            (&night, Opens::At(1), Some("old night"), Err(NoSheet::NoSuch("old night".into()))),
            (&[("A", Hidden), ("B", VeryHidden)], Opens::At(0), None, Err(NoSheet::AllHidden)),
            (&night, Opens::Named("Notes".into()), None, Ok(2)),
            // A file that does not say: one visible sheet is it, several are asked for.
            (&[("A", Hidden), ("B", Visible)], Opens::Unknown, None, Ok(1)),
            (
                &night,
                Opens::Unknown,
                None,
                Err(NoSheet::Several(two(), "the file does not say which sheet it opens on")),
            ),
        ];
        for (sheets, opens, named, want) in cases {
            assert_eq!(book(sheets, opens.clone()).choose(named), want, "{sheets:?} {opens:?} {named:?}");
        }
        let mut charts = book(&[("Chart", Visible), ("Calls", Visible)], Opens::At(0));
        charts.sheets[0].cells = false;
        assert_eq!(charts.choose(None), Ok(1), "a chart sheet has no rows to read");
        let mut charts = book(&[("Old", Visible), ("Chart", Visible), ("New", Visible)], Opens::At(1));
        charts.sheets[1].cells = false;
        let opens_on_a_chart = NoSheet::Several(vec!["Old".into(), "New".into()], "it opens on a chart");
        assert_eq!(charts.choose(None), Err(opens_on_a_chart), "not the first: which is not guessed");
    }

    #[test]
    fn workbook_xml_says_where_it_opens_and_whether_its_results_were_computed() {
        let cases = [
            (
                r#"<workbook><bookViews><workbookView activeTab="2"/></bookViews><calcPr calcId="191029"/></workbook>"#,
                2,
                false,
            ),
            (
                r#"<workbook><bookViews><workbookView xWindow="0"/><workbookView activeTab="3"/></bookViews></workbook>"#,
                0,
                false,
            ),
            (r#"<x:workbook xmlns:x="s"><x:calcPr calcId="124519" fullCalcOnLoad="1"/></x:workbook>"#, 0, true),
            (r#"<workbook><calcPr fullCalcOnLoad="true"/></workbook>"#, 0, true),
            (r#"<workbook><calcPr fullCalcOnLoad="0"/></workbook>"#, 0, false),
            ("not xml <<", 0, false),
            (r#"<workbook><bookViews><workbookView activeTab="x"/></bookViews></workbook>"#, usize::MAX, false),
        ];
        for (xml, active, recalc) in cases {
            assert_eq!(read_workbook_xml(xml.as_bytes()), (Opens::At(active), recalc), "{xml}");
        }
    }

    #[test]
    fn an_ods_names_the_table_it_opens_on() {
        let xml = r#"<office:document-settings><config:config-item-set>
            <config:config-item config:name="VisibleAreaTop" config:type="int">0</config:config-item>
            <config:config-item config:name="ActiveTable" config:type="string">Calls &amp; chargebacks</config:config-item>
            </config:config-item-set></office:document-settings>"#;
        assert_eq!(read_ods_settings(xml.as_bytes()).as_deref(), Some("Calls & chargebacks"));
        assert_eq!(read_ods_settings("<a/>".as_bytes()), None);
    }
}
