//! Two-sided reconciliation, wired into `plan` and `run --reconcile`: the
//! reader keeps each valid row's call, Buyer label and amount
//! (`ReportRows`); after the rows, the buyers are resolved (among the
//! window's calls, or TrackDrive's list of buyers when a name is not among
//! them), the rows and the window read before the first row are judged
//! (`reconcile::discrepancy`), and the findings are written and said.
//! Information only: nothing here changes what is sent or the exit code.

use std::collections::{BTreeSet, HashMap};

use super::RunOptions;
use crate::input::fields::CallField;
use crate::input::names::{List, ListKind};
use crate::input::update::CallUpdate;
use crate::outputs::discrepancies::{self, Said};
use crate::reconcile::buyers;
use crate::reconcile::discrepancy::{self, ReportRow};
use crate::upload::api::Api;
use crate::upload::lookup;
use crate::upload::window::Window;

/// The report's valid rows as the discrepancies need them, with their
/// Buyer labels kept once each.
#[derive(Debug, Default)]
pub struct ReportRows {
    rows: Vec<(ReportRow, Option<u32>)>,
    labels: Vec<String>,
    index: HashMap<String, u32>,
}

impl ReportRows {
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
            side: None,
            revenue: update.amount(CallField::Revenue),
            converted: update.flag(CallField::BuyerConverted),
        };
        self.rows.push((row, label));
    }
}

/// Judges the rows against the window, writes the CSV, and says what was
/// found (or why nothing was judged). `None` when the run does not
/// reconcile.
pub async fn judge(
    opts: &RunOptions,
    api: &Api,
    window: Option<&Window>,
    rows: Option<ReportRows>,
    resumed: bool,
) -> Option<Said> {
    let rows = rows?;
    // A report of dispositions or contact fields pays for nothing: there is
    // nothing for a buyer and TrackDrive to disagree on.
    if !rows.rows.iter().any(|(r, _)| r.revenue.is_some() || r.converted.is_some()) {
        return None;
    }
    let mut said = Said::default();
    let Some(window) = window.filter(|_| !resumed) else {
        said.notes.push(if resumed {
            "no discrepancies: a resumed run's window already holds the earlier run's work; run `tdrecon plan \
             FILE --discrepancies-only` for them"
                .into()
        } else {
            "no discrepancies: they need the window's calls (call times in the file, or --since/--until)".into()
        });
        return Some(said);
    };
    let labels: BTreeSet<String> = rows.labels.iter().cloned().collect();
    if opts.buyers.is_empty() && labels.is_empty() {
        said.notes.push(
            "no discrepancies: no buyer is known (name it with --buyer NAME|ID, or give the report a Buyer column)"
                .into(),
        );
        return Some(said);
    }
    let mut list = window.buyers();
    let unknown = buyers::unknown(&opts.buyers, &labels, &list);
    if !unknown.is_empty() {
        // Names no call of the window shows: TrackDrive's list decides.
        match lookup::fetch_list(api, "buyers", ListKind::Buyers).await {
            Ok(read) => {
                said.notes.push(format!(
                    "the buyers list was read to resolve {}",
                    unknown.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                ));
                list = merged(read, &list);
            }
            Err(e) => {
                said.notes.push(format!("cannot read the buyers list ({e}): names not in the window are unknown"))
            }
        }
    }
    let judged = buyers::judged(&opts.buyers, &labels, &list);
    said.notes.extend(judged.notes.iter().cloned());
    let rows: Vec<ReportRow> = rows
        .rows
        .into_iter()
        .map(|(mut row, label)| {
            let label = label.and_then(|i| rows.labels.get(i as usize)).map(String::as_str);
            row.side = judged.side_of(label);
            row
        })
        .collect();
    if judged.sides.is_empty() {
        return Some(said);
    }
    said.found = discrepancy::judge(&rows, &judged.sides, &window.facts(), &window.ids_of_uuids());
    match discrepancies::write(&opts.discrepancies, &said.found) {
        Ok(()) => said.path = Some(opts.discrepancies.clone()),
        Err(e) => {
            let why = format!("cannot write {}: {e}", opts.discrepancies.display());
            crate::console::warn(&format!("warning: {why}"));
            said.notes.push(why);
        }
    }
    Some(said)
}

/// TrackDrive's list, with the window's buyers it does not hold (a buyer
/// deleted since its calls came in).
fn merged(read: List, window: &List) -> List {
    let mut entries: Vec<_> = read.entries().to_vec();
    entries.extend(window.entries().iter().filter(|e| read.by_id(&e.id).is_none()).cloned());
    List::new(entries)
}
