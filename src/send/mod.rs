//! One row's way to the API: what it may already have done, its intent
//! made durable before its request, the request, and what an ambiguous
//! answer means for it. `row` sends it (`Uploader`): `records` makes its
//! intent durable and records its outcome, `write` sends it and settles an
//! ambiguous answer, `settle` weighs a row
//! in doubt against its call's audit log and checks a row that acts against
//! it before it is written, `diff` compares a row with its call (what to
//! send, whether an ambiguous add was applied), `evidence` weighs what a
//! call's audit log says of an update (applied, not, or unclear; the same
//! change by another run).

pub mod diff;
pub mod evidence;
mod records;
pub mod row;
mod settle;
mod words;
mod write;
