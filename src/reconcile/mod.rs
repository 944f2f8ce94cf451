//! Read before write. A call's current values (`snapshot`, read with a GET),
//! the part of an update that would change them and whether an ambiguous add
//! was applied (`diff`), and the row that undoes an applied update
//! (`rollback`), and what the call's audit log says about a row in doubt
//! (`audit`). All pure: the HTTP is in `upload::row`. Depends on `input`
//! only.

pub mod audit;
pub mod diff;
pub mod rollback;
pub mod snapshot;

pub use diff::{diff, project, verify};
pub use rollback::{ROLLBACK_HEADER, rollback_cells};
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

    pub fn snapshot() -> Snapshot {
        Snapshot::parse(
            r#"{"call":{"revenue":"10.00","payout":"2.5","buyer_converted":false,"offer_converted":true,
                "call_disposition_id":"3","agent_call_disposition_notes":null,"trackdrive_buyer_id":"7",
                "trackdrive_traffic_source_id":null,"post_call_tokens":{"zip":"9"}}}"#,
        )
        .unwrap()
    }

    pub fn update() -> CallUpdate {
        CallUpdate::new(CallRef::Id(1))
    }
}
