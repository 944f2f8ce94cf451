//! Two-sided reconciliation, wired into `plan` and `run --reconcile`: the
//! reader keeps each row's call, Buyer label and amount (`ReportRows`; a
//! rejected row only its call, when its id cell reads as one); after the
//! rows, the buyers are resolved (among the window's calls, then in
//! TrackDrive's list of buyers for a name not among them), the rows and the
//! window read before the first row are judged (`compare::discrepancy`),
//! and the findings are written and said. Information only: nothing here
//! changes what is sent or the exit code.

use std::collections::{BTreeSet, HashMap};

use super::{Mode, Settings};
use crate::compare::buyers;
use crate::compare::discrepancies::{self, Said};
use crate::compare::discrepancy::{self, ReportRow, Speaks};
use crate::input::fields::CallField;
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::resolve::names::ListKind;
use crate::text::count;
use crate::trackdrive::api::Api;
use crate::trackdrive::lookup;
use crate::trackdrive::window::Window;

/// Whose a kept row is, before the buyers are resolved.
#[derive(Debug, Clone, Copy)]
enum Whose {
    /// A valid row, with its Buyer label (an index into `labels`), if any.
    Label(Option<u32>),
    /// A rejected row: its buyer is not known.
    Rejected,
}

/// The report's rows as the discrepancies need them, with their Buyer
/// labels kept once each.
#[derive(Debug, Default)]
pub struct ReportRows {
    rows: Vec<(ReportRow, Whose)>,
    labels: Vec<String>,
    index: HashMap<String, u32>,
    /// Rejected rows whose id cell names no call (found by caller, or
    /// unreadable): a call one of them meant may show as left out.
    nameless: u64,
    /// The file has a column that says what a buyer paid or converted (an
    /// empty report of such columns still leaves every converted call out).
    pays: bool,
}

impl ReportRows {
    pub fn new(pays: bool) -> ReportRows {
        ReportRows { pays, ..ReportRows::default() }
    }

    /// A valid row.
    pub fn push(&mut self, line: u64, update: &CallUpdate) {
        let label = update.buyer_label.as_deref().map(str::trim).filter(|l| !l.is_empty()).map(|label| {
            match self.index.get(label) {
                Some(i) => *i,
                None => {
                    let i = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
                    self.labels.push(label.to_string());
                    self.index.insert(label.to_string(), i);
                    i
                }
            }
        });
        let row = ReportRow {
            line,
            call: update.call,
            at_ms: update.call_time,
            speaks: Speaks::Unknown,
            revenue: update.amount(CallField::Revenue),
            converted: update.flag(CallField::BuyerConverted),
        };
        self.rows.push((row, Whose::Label(label)));
    }

    /// A rejected row, with the call its id cell names, if it names one.
    pub fn push_rejected(&mut self, line: u64, call: Option<CallRef>) {
        match call {
            Some(call) => {
                let row =
                    ReportRow { line, call, at_ms: None, speaks: Speaks::Unknown, revenue: None, converted: None };
                self.rows.push((row, Whose::Rejected));
            }
            None => self.nameless += 1,
        }
    }
}

/// What the window read before the first row left to judge against.
#[derive(Debug, Clone, Copy)]
pub enum Calls<'a> {
    /// The window, and its bounds (milliseconds since the epoch).
    Read(&'a Window, (i64, i64)),
    /// No window: no call times in the file, no --since/--until.
    NoWindow,
    /// The window's read failed (said in the read's own note).
    Failed,
    /// A resumed run's window holds the earlier run's work.
    Resumed,
}

/// Judges the rows against the window, writes the CSV, and says what was
/// found (or why nothing was judged). `None` when the run does not
/// reconcile, or (outside `--discrepancies-only`) its report pays for
/// nothing (dispositions, contact fields).
pub async fn judge(opts: &Settings, api: &Api, calls: Calls<'_>, rows: Option<ReportRows>) -> Option<Said> {
    let rows = rows?;
    let mut said = Said { zone: opts.input().time_zone.clone(), ..Said::default() };
    if !rows.pays && opts.mode() != Mode::DiscrepanciesOnly {
        return None;
    }
    let labels: BTreeSet<String> = rows.labels.iter().cloned().collect();
    let (window, (from, to)) = match judgeable(opts, &rows, &labels, calls) {
        Ok(window) => window,
        Err(why) => {
            said.notes.push(format!("no discrepancies: {why}"));
            return Some(not_judged(opts, said));
        }
    };
    let judged = whose_report(opts, api, window, &labels, &mut said).await;
    if judged.sides.is_empty() {
        return Some(not_judged(opts, said));
    }
    let facts = discrepancy::facts_of(window);
    let ids_of_uuids = window.ids_of_uuids();
    let in_window = |call: CallRef| match call {
        CallRef::Id(id) => facts.contains_key(&id),
        CallRef::Uuid(uuid) => ids_of_uuids.contains_key(&uuid),
    };
    let (report, left) = speakers(rows.rows, &rows.labels, &judged, (from, to), in_window);
    left.say(rows.nameless, &mut said);
    let no_buyer = facts.values().filter(|f| f.converted() && f.buyer_id.is_none()).count() as u64;
    if no_buyer > 0 {
        said.notes.push(format!(
            "{} of the window converted with no buyer: nobody's to leave out",
            count(no_buyer, "call", "calls")
        ));
    }
    said.found = discrepancy::judge(&report, &judged.sides, &facts, &ids_of_uuids);
    said.judged = true;
    said.window = Some((from, to));
    Some(write_found(opts, said))
}

/// The window to judge on, or why the night cannot be judged.
fn judgeable<'a>(
    opts: &Settings,
    rows: &ReportRows,
    labels: &BTreeSet<String>,
    calls: Calls<'a>,
) -> Result<(&'a Window, (i64, i64)), &'static str> {
    if !rows.pays {
        return Err("the report has no column that says what a buyer paid (revenue or buyer_converted)");
    }
    let window = match calls {
        Calls::Read(window, range) => (window, range),
        Calls::NoWindow => return Err("they need the window's calls (call times in the file, or --since/--until)"),
        Calls::Failed => return Err("the window's calls could not be read (see the note on it)"),
        Calls::Resumed => {
            return Err("a resumed run's window already holds the earlier run's work; run `tdrecon plan FILE \
                        --discrepancies-only` for them");
        }
    };
    if opts.reading().buyers.is_empty() && labels.is_empty() {
        return Err("no buyer is known: no valid row names one (name it with --buyer NAME|ID, or give the report a \
                    Buyer column; rows in errors.csv are not read for it)");
    }
    Ok(window)
}

/// Whose report it is: `--buyer`, else the Buyer labels, resolved among the
/// window's buyers, then TrackDrive's list for a name no call shows.
async fn whose_report(
    opts: &Settings,
    api: &Api,
    window: &Window,
    labels: &BTreeSet<String>,
    said: &mut Said,
) -> buyers::Judged {
    let in_window = window.buyers();
    let unknown = buyers::unknown(&opts.reading().buyers, labels, &[&in_window]);
    let mut read = None;
    if !unknown.is_empty() {
        // Names no call of the window shows: TrackDrive's list decides.
        match lookup::fetch_list(api, "buyers", ListKind::Buyers).await {
            Ok(list) => {
                said.notes.push(format!(
                    "the buyers list was read (one more request) to resolve {}",
                    unknown.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                ));
                read = Some(list);
            }
            Err(e) => {
                said.notes.push(format!("cannot read the buyers list ({e}): names not in the window are unknown"))
            }
        }
    }
    let lists: Vec<_> = std::iter::once(&in_window).chain(read.as_ref()).collect();
    let judged = buyers::judged(&opts.reading().buyers, labels, &lists);
    said.notes.extend(judged.notes.iter().cloned());
    judged
}

/// Rows left out of the judging, by why.
#[derive(Debug, Default)]
struct Left {
    rejected: u64,
    unknown: u64,
    others: u64,
    outside: u64,
}

impl Left {
    /// A note for each kind of row left out (`nameless`: rejected rows that
    /// name no call by id).
    fn say(&self, nameless: u64, said: &mut Said) {
        if self.rejected > 0 {
            said.notes.push(format!(
                "{} (errors.csv): not judged, and {} not counted left out",
                count(self.rejected, "rejected row", "rejected rows"),
                if self.rejected == 1 { "the call it names is" } else { "the calls they name are" }
            ));
        }
        if self.unknown > 0 {
            said.notes.push(format!(
                "{} of no known buyer (no Buyer label, or one that names nobody): not judged, and {} not counted \
                 left out",
                count(self.unknown, "row", "rows"),
                if self.unknown == 1 { "its call is" } else { "their calls are" }
            ));
        }
        if self.others > 0 {
            said.notes.push(format!(
                "{} of buyers not judged (a Buyer label naming a buyer --buyer does not): not judged",
                count(self.others, "row", "rows")
            ));
        }
        if self.outside > 0 {
            said.notes.push(format!(
                "{} with a call time outside the window judged: not judged",
                count(self.outside, "row", "rows")
            ));
        }
        if nameless > 0 {
            said.notes.push(format!(
                "{} no call by id: a call {} meant may show as left out",
                count(nameless, "rejected row names", "rejected rows name"),
                if nameless == 1 { "it" } else { "one of them" }
            ));
        }
    }
}

/// Each row with the side it speaks for, and the rows left out, by why.
fn speakers(
    rows: Vec<(ReportRow, Whose)>,
    labels: &[String],
    judged: &buyers::Judged,
    (from, to): (i64, i64),
    in_window: impl Fn(CallRef) -> bool,
) -> (Vec<ReportRow>, Left) {
    let mut left = Left::default();
    let report = rows
        .into_iter()
        .map(|(mut row, whose)| {
            row.speaks = match whose {
                Whose::Label(label) => judged.speaks(label.and_then(|i| labels.get(i as usize)).map(String::as_str)),
                Whose::Rejected => {
                    left.rejected += 1;
                    Speaks::Unknown
                }
            };
            // A row whose own call time is outside the window names a call
            // that was not read: nothing is known of it to judge.
            if matches!(row.speaks, Speaks::For(_))
                && row.at_ms.is_some_and(|at| at < from || at > to)
                && !in_window(row.call)
            {
                row.speaks = Speaks::Outside;
                left.outside += 1;
            }
            match (row.speaks, whose) {
                (Speaks::Unknown, Whose::Label(_)) => left.unknown += 1,
                (Speaks::Another, _) => left.others += 1,
                _ => {}
            }
            row
        })
        .collect();
    (report, left)
}

/// Writes what was found; a CSV that cannot be written is said.
fn write_found(opts: &Settings, mut said: Said) -> Said {
    let path = &opts.outputs().discrepancies;
    match discrepancies::write(path, &said.found, &said.zone) {
        Ok(()) => said.path = Some(path.clone()),
        Err(e) => {
            let why = format!("cannot write {}: {e}", path.display());
            crate::console::warn(&format!("warning: {why}"));
            said.notes.push(why);
            said = not_judged(opts, said);
        }
    }
    said
}

/// A night not judged, or whose CSV was not written: an earlier run's CSV
/// left in its place is said to be that, so nobody reads it as tonight's.
fn not_judged(opts: &Settings, mut said: Said) -> Said {
    if opts.outputs().discrepancies.exists() {
        said.notes.push(format!("{} is an earlier run's, not this one's", opts.outputs().discrepancies.display()));
    }
    said
}
