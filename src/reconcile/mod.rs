//! Read before write. A call's current values (`snapshot`, read with a GET),
//! the part of an update that would change them and whether an ambiguous add
//! was applied (`diff`), and the row that undoes an applied update
//! (`rollback`), and what the call's audit log says about a row in doubt
//! (`audit`). All pure: the HTTP is in `upload::row`. Depends on `input`
//! only.

pub mod audit;
pub mod buyers;
pub mod diff;
pub mod discrepancy;
pub mod rollback;
pub mod snapshot;

pub use diff::{contradictions, diff, project, verify};
pub use rollback::{rollback_cells, rollback_header};
pub use snapshot::Snapshot;

/// What a call's values or its audit log say about an update that may or
/// may not have been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Applied this many times (more than once: before tdrecon could tell).
    Applied(usize),
    /// Not applied: safe to send once more.
    NotApplied,
    /// The evidence cannot tell, and why.
    Unclear(String),
}

/// What the tests of this stage share: a call as read, and an empty update.
#[cfg(test)]
mod testing {
    use rust_decimal::Decimal;

    use super::Snapshot;
    use crate::input::update::CallUpdate;
    use crate::input::values::CallRef;

    pub fn d(s: &str) -> Decimal {
        let mut d = Decimal::from_str_exact(s).unwrap();
        d.rescale(2);
        d
    }

    /// A call as TrackDrive returns it, under its resource's names.
    pub fn snapshot() -> Snapshot {
        Snapshot::parse(
            r#"{"call":{"revenue":"10.00","payout":"2.5","buyer_converted":false,"traffic_source_converted":true,
                "disposition_id":"3","disposition_notes":null,"buyer_id":"7","traffic_source_id":null,
                "contact_field_type":null,"token_values":{"zip":"9"}}}"#,
        )
        .unwrap()
    }

    pub fn update() -> CallUpdate {
        CallUpdate::new(CallRef::Id(1))
    }
}
