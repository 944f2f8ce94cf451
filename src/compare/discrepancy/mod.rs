//! Two-sided reconciliation: what a buyer's report and TrackDrive disagree
//! on, judged per buyer from the window's calls (read anyway, so it costs no
//! request). Three kinds:
//!
//! - *left out*: a call of a judged buyer in the window that TrackDrive holds
//!   converted (or with revenue) which no row of that buyer's report names:
//!   the buyer may owe for it;
//! - *not theirs*: a row paying for a call TrackDrive holds for another buyer,
//!   or not converted, or that is not among the window's calls;
//! - *amount differs*: a row setting revenue to other than what the call held
//!   before the run, or saying not converted a call TrackDrive holds
//!   converted.
//!
//! Pure: the rows, the sides (which buyers each row speaks for, see
//! `buyers`) and the calls come in, the findings go out. One row is one
//! finding at most, so a call is never counted twice. A row whose buyer is
//! not known (`Speaks::Unknown`: a rejected row, a label naming nobody) is
//! not judged, and the call it names is never counted left out: it may be
//! the buyer's own row.

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::Decimal;

use crate::input::fields::CallField;
use crate::input::update::Amount;
use crate::input::values::CallRef;
use crate::trackdrive::window::{CallShown, Window};

/// A call of the window as the discrepancies need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFacts {
    pub id: u64,
    pub caller: Option<String>,
    /// `created_at`, milliseconds since the epoch.
    pub at_ms: Option<i64>,
    pub buyer_id: Option<String>,
    /// The buyer's name as the call shows it (`buyer`).
    pub buyer: Option<String>,
    pub user_buyer_id: Option<String>,
    pub buyer_converted: Option<bool>,
    pub revenue: Option<Decimal>,
}

impl CallFacts {
    /// TrackDrive counts it as the buyer's conversion: flagged converted, or
    /// carrying revenue.
    pub fn converted(&self) -> bool {
        self.buyer_converted == Some(true) || self.revenue.is_some_and(|r| r > Decimal::ZERO)
    }

    /// The call's buyer as a person reads it: `Acme Insurance (7)`.
    pub fn buyer_shown(&self) -> String {
        match (&self.buyer, &self.buyer_id) {
            (Some(name), Some(id)) => format!("{} ({id})", crate::text::isolated(name)),
            (None, Some(id)) => format!("buyer {id}"),
            (Some(name), None) => name.clone(),
            (None, None) => "no buyer".into(),
        }
    }
}

/// Whom a row of the report speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaks {
    /// A side that is judged (an index into the sides).
    For(usize),
    /// A buyer that is not judged (`--buyer` names others).
    Another,
    /// Nobody known: a row without a label where no `--buyer` says whose,
    /// a label that names no buyer, a rejected row.
    Unknown,
    /// A row whose call time is outside the window read, naming a call the
    /// window does not hold: nothing is known of it.
    Outside,
}

/// One row of the report, as the discrepancies need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub line: u64,
    pub call: CallRef,
    /// The row's own call time, when it gives one.
    pub at_ms: Option<i64>,
    pub speaks: Speaks,
    pub revenue: Option<Amount>,
    pub converted: Option<bool>,
}

impl ReportRow {
    /// The row says the buyer paid for the call: a positive amount, or
    /// converted without a negative one (a chargeback pays for nothing).
    fn pays(&self) -> bool {
        match self.revenue {
            Some(Amount::Set(d) | Amount::Add(d)) if d != Decimal::ZERO => d > Decimal::ZERO,
            _ => self.converted == Some(true),
        }
    }

    /// What the row says the buyer paid, for totals.
    fn amount(&self) -> Decimal {
        match self.revenue {
            Some(Amount::Set(d) | Amount::Add(d)) => d,
            None => Decimal::ZERO,
        }
    }
}

/// Whom some rows speak for: one buyer, or (`--buyer` given several times,
/// rows without a Buyer label) several together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// How the summary names it.
    pub name: String,
    /// TrackDrive's ids of its buyers.
    pub buyers: Vec<String>,
}

/// What kind of disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Finding {
    /// A converted call of the buyer no row names: the buyer may owe for it.
    LeftOut,
    /// A row paying a call of the buyer's that TrackDrive holds not
    /// converted, with no revenue.
    NotConverted,
    /// A row paying a call TrackDrive holds for another buyer, or none.
    NotTheirs,
    /// A row paying a call the window does not hold at all.
    NoSuchCall,
    AmountDiffers,
}

impl Finding {
    pub const ALL: [Finding; 5] =
        [Finding::LeftOut, Finding::NotConverted, Finding::NotTheirs, Finding::NoSuchCall, Finding::AmountDiffers];

    pub fn as_str(self) -> &'static str {
        match self {
            Finding::LeftOut => "left_out",
            Finding::NotConverted => "not_converted",
            Finding::NotTheirs => "not_theirs",
            Finding::NoSuchCall => "no_such_call",
            Finding::AmountDiffers => "amount_differs",
        }
    }

    /// How a person reads it, for `n` of them.
    pub fn words(self, n: u64) -> &'static str {
        match (self, n == 1) {
            (Finding::LeftOut, true) => "converted call not on the report",
            (Finding::LeftOut, false) => "converted calls not on the report",
            (Finding::NotConverted, true) => "row paying a call not converted in TrackDrive",
            (Finding::NotConverted, false) => "rows paying calls not converted in TrackDrive",
            (Finding::NotTheirs, true) => "row paying another buyer's call",
            (Finding::NotTheirs, false) => "rows paying other buyers' calls",
            (Finding::NoSuchCall, true) => "row paying a call not in the window",
            (Finding::NoSuchCall, false) => "rows paying calls not in the window",
            (Finding::AmountDiffers, true) => "amount that differs",
            (Finding::AmountDiffers, false) => "amounts that differ",
        }
    }
}

/// One disagreement.
#[derive(Debug, Clone, PartialEq)]
pub struct Discrepancy {
    pub kind: Finding,
    /// The side's name it is counted under.
    pub side: String,
    /// The report's line, where a row names the call.
    pub line: Option<u64>,
    pub call: CallRef,
    /// The call as the window read it (`None`: not in the window).
    pub facts: Option<CallFacts>,
    /// What the report says was paid.
    pub report_amount: Option<Decimal>,
    /// Dollars at stake: a left-out call's revenue, a not-theirs row's
    /// amount, the report's amount less the call's.
    pub dollars: Decimal,
    pub why: String,
}

/// Calls and dollars of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Count {
    pub calls: u64,
    pub dollars: Decimal,
}

/// Everything found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discrepancies {
    /// In order: left out by call time, then rows by line.
    pub items: Vec<Discrepancy>,
    /// Per side's name, per kind.
    pub by_side: BTreeMap<String, BTreeMap<Finding, Count>>,
}

impl Discrepancies {
    /// The amounts that differ, paid over and under (`side`: one side's, or
    /// every side's): a net figure alone would let the two cancel.
    pub fn over_under(&self, side: Option<&str>) -> (Decimal, Decimal) {
        let mut split = (Decimal::ZERO, Decimal::ZERO);
        for d in self.items.iter().filter(|d| d.kind == Finding::AmountDiffers && side.is_none_or(|s| s == d.side)) {
            if d.dollars > Decimal::ZERO {
                split.0 += d.dollars;
            } else {
                split.1 += d.dollars;
            }
        }
        split
    }

    /// The count of one kind over every side.
    pub fn total(&self, kind: Finding) -> Count {
        let mut all = Count::default();
        for count in self.by_side.values().filter_map(|kinds| kinds.get(&kind)) {
            all.calls += count.calls;
            all.dollars += count.dollars;
        }
        all
    }

    fn push(&mut self, d: Discrepancy) {
        let count = self.by_side.entry(d.side.clone()).or_default().entry(d.kind).or_default();
        count.calls += 1;
        count.dollars += d.dollars;
        self.items.push(d);
    }
}

/// Judges `rows` against `calls` (the window's, by id; `ids_of_uuids` turns
/// a row's UUID into its call's id). Every side of one buyer is given an
/// entry in `by_side`, even with nothing found, so a clean buyer shows as
/// clean; a side of several (`--buyer` twice, rows without a label) only
/// when something is counted under it.
pub fn judge(
    rows: &[ReportRow],
    sides: &[Side],
    calls: &HashMap<u64, CallFacts>,
    ids_of_uuids: &HashMap<u128, u64>,
) -> Discrepancies {
    let mut found = Discrepancies::default();
    // Each buyer's own side: what is found on its calls is counted there.
    let mut side_of_buyer: HashMap<&str, &Side> = HashMap::new();
    for side in sides.iter().filter(|s| s.buyers.len() == 1) {
        found.by_side.entry(side.name.clone()).or_default();
        side_of_buyer.entry(side.buyers[0].as_str()).or_insert(side);
    }
    let id_of = |call: CallRef| match call {
        CallRef::Id(id) => Some(id),
        CallRef::Uuid(uuid) => ids_of_uuids.get(&uuid).copied(),
    };
    // Calls a row may have paid for: (buyer id, call id).
    let mut named: HashSet<(&str, u64)> = HashSet::new();
    let mut rows_found = Vec::new();
    for row in rows {
        let facts = id_of(row.call).and_then(|id| calls.get(&id));
        let side = match row.speaks {
            Speaks::For(s) => sides.get(s),
            Speaks::Another | Speaks::Outside => None,
            Speaks::Unknown => {
                // Perhaps the buyer's own row: its call is nobody's to leave out.
                if let Some(f) = facts
                    && let Some(buyer) = f.buyer_id.as_deref()
                {
                    named.insert((buyer, f.id));
                }
                None
            }
        };
        let Some(side) = side else { continue };
        let theirs = facts.and_then(|f| f.buyer_id.as_deref()).filter(|b| side.buyers.iter().any(|s| s == b));
        // Named for its own buyer too, when that buyer is judged: the report
        // holds the call (under the wrong buyer, a finding below), so it is
        // not also left out of its buyer's rows.
        if let Some(f) = facts
            && let Some(buyer) = f.buyer_id.as_deref()
            && (theirs.is_some() || side_of_buyer.contains_key(buyer))
        {
            named.insert((buyer, f.id));
        }
        let why = row_finding(row, facts, theirs);
        if let Some((kind, dollars, why)) = why {
            let report_amount = row.revenue.map(|_| row.amount());
            let call = id_of(row.call).map_or(row.call, CallRef::Id);
            // A side of several counts a finding on one of its buyers' calls
            // under that buyer.
            let counted = theirs.and_then(|b| side_of_buyer.get(b).copied()).unwrap_or(side);
            rows_found.push(Discrepancy {
                kind,
                side: counted.name.clone(),
                line: Some(row.line),
                call,
                facts: facts.cloned(),
                report_amount,
                dollars,
                why,
            });
        }
    }
    for d in left_out(calls, &side_of_buyer, &named) {
        found.push(d);
    }
    for d in rows_found {
        found.push(d);
    }
    found
}

/// What a row of `side` (whose call is `theirs` when it is the side's
/// buyer's) says against the call it names, if anything: a call not in the
/// window, another buyer's or no buyer's, one not converted, or an amount
/// that differs.
fn row_finding(row: &ReportRow, facts: Option<&CallFacts>, theirs: Option<&str>) -> Option<(Finding, Decimal, String)> {
    match (facts, theirs) {
        (None, _) if row.pays() => Some((
            Finding::NoSuchCall,
            row.amount(),
            "not among the window's calls: TrackDrive holds it at another time, or not at all".to_string(),
        )),
        (Some(f), None) if row.pays() => {
            let whose = match f.buyer_id {
                Some(_) => format!("TrackDrive holds this call for {}", f.buyer_shown()),
                None => "TrackDrive holds this call for no buyer".to_string(),
            };
            Some((Finding::NotTheirs, row.amount(), whose))
        }
        (Some(f), Some(_)) if row.pays() && !f.converted() => Some((
            Finding::NotConverted,
            row.amount(),
            "TrackDrive holds this call not converted, with no revenue".to_string(),
        )),
        (Some(f), Some(_)) => amount_differs(row, f),
        _ => None,
    }
}

/// The converted calls of each judged buyer that no row named, in the
/// order they came in.
fn left_out(
    calls: &HashMap<u64, CallFacts>,
    side_of_buyer: &HashMap<&str, &Side>,
    named: &HashSet<(&str, u64)>,
) -> Vec<Discrepancy> {
    let mut left: Vec<(&CallFacts, &Side)> = calls
        .values()
        .filter(|f| f.converted())
        .filter_map(|f| {
            let buyer = f.buyer_id.as_deref()?;
            let side = side_of_buyer.get(buyer)?;
            (!named.contains(&(buyer, f.id))).then_some((f, *side))
        })
        .collect();
    left.sort_by_key(|(f, _)| (f.at_ms, f.id));
    left.into_iter()
        .map(|(f, side)| {
            let revenue = f.revenue.unwrap_or_default();
            let why = match f.buyer_converted {
                Some(true) => format!("converted in TrackDrive ({revenue:.2}), not on the report"),
                _ => format!("not flagged converted, but holds revenue {revenue:.2} in TrackDrive; not on the report"),
            };
            Discrepancy {
                kind: Finding::LeftOut,
                side: side.name.clone(),
                line: None,
                call: CallRef::Id(f.id),
                facts: Some(f.clone()),
                report_amount: None,
                dollars: revenue,
                why,
            }
        })
        .collect()
}

/// A row of the call's own buyer against what the call held: a set amount
/// that differs, or "not converted" on a call TrackDrive holds converted.
/// An add (a chargeback, a bonus) changes the figure: it is not one to
/// compare.
fn amount_differs(row: &ReportRow, f: &CallFacts) -> Option<(Finding, Decimal, String)> {
    let held = f.revenue.unwrap_or_default();
    let not_converted = row.converted == Some(false) && f.converted();
    match row.revenue {
        Some(Amount::Set(paid)) if paid != held => {
            Some((Finding::AmountDiffers, paid - held, format!("the report says {paid:.2}, TrackDrive held {held:.2}")))
        }
        Some(Amount::Add(_)) => None,
        Some(Amount::Set(paid)) if not_converted => Some((
            Finding::AmountDiffers,
            paid - held,
            format!("the report says not converted; TrackDrive holds it converted ({held:.2})"),
        )),
        None if not_converted => Some((
            Finding::AmountDiffers,
            -held,
            format!("the report says not converted; TrackDrive holds it converted ({held:.2})"),
        )),
        _ => None,
    }
}

/// Every call of a window as the discrepancies judge it, by id.
pub fn facts_of(window: &Window) -> HashMap<u64, CallFacts> {
    window
        .calls()
        .map(|(id, call, shown)| {
            let text = |f: fn(&CallShown) -> &Option<String>| shown.and_then(|s| f(s).clone());
            let facts = CallFacts {
                id,
                caller: text(|s| &s.caller),
                at_ms: shown.and_then(|s| s.at_ms),
                buyer_id: call.text(CallField::BuyerId).map(String::from),
                buyer: text(|s| &s.buyer),
                user_buyer_id: text(|s| &s.user_buyer_id),
                buyer_converted: call.get(CallField::BuyerConverted).and_then(|v| match v {
                    crate::input::fields::Value::Flag(b) => Some(*b),
                    _ => None,
                }),
                revenue: call.revenue(),
            };
            (id, facts)
        })
        .collect()
}

#[cfg(test)]
mod tests;
