//! What a run tells people and schedulers: `errors` (rows that never left
//! the machine), `results` (what became of each row sent; `in_order` puts it back in the
//! input's order within a fixed memory bound),
//! `rollback` (the rows that undo a run), `tally` and `summary` (counts, in
//! words and `summary_json`), `never_twice` (what was checked so nothing is
//! applied twice), `progress` (the bar), `page` (the night on one HTML page).

pub mod errors;
pub mod in_order;
pub mod never_twice;
pub mod notify;
pub mod page;
pub mod progress;
pub mod results;
pub mod rollback;
pub mod signed_plan;
pub mod summary;
pub mod summary_json;
pub mod tally;
