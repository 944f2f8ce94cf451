//! The report against TrackDrive: whose report it is (`buyers`), what the two
//! sides disagree on (`discrepancy`, judged from the window's calls), the
//! discrepancies file and what the summary says of them (`discrepancies`),
//! and the window's totals before and after a run (`control`).

pub mod buyers;
pub mod control;
pub mod discrepancies;
pub mod discrepancy;
