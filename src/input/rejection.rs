//! `Rejection`: why a row will not be sent, naming the column, the value and
//! the reason. Every check of the input (the record, its values, its names,
//! repeats) reports through it; it depends on nothing.

/// Why a row will not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub kind: RejectKind,
    /// The column's header as written in the file; empty for the whole record.
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// The broad reason a row was rejected, for the summary's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    Malformed,
    /// Over a size limit: the record was not held whole, nor is it echoed.
    TooLarge,
    MissingId,
    InvalidValue,
    Conflict,
    NothingToUpdate,
    Duplicate,
}

impl std::fmt::Display for RejectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RejectKind::Malformed => "malformed record",
            RejectKind::TooLarge => "record over a size limit",
            RejectKind::MissingId => "missing call id",
            RejectKind::InvalidValue => "invalid value",
            RejectKind::Conflict => "conflicting columns",
            RejectKind::NothingToUpdate => "nothing to update",
            RejectKind::Duplicate => "repeated call id",
        })
    }
}

impl Rejection {
    pub(crate) fn record(reason: String) -> Rejection {
        Rejection { kind: RejectKind::Malformed, column: String::new(), value: String::new(), reason }
    }
}
