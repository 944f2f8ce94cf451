//! Rows without a call id: most buyer reports name a call by the caller's
//! number and when the call came in. `Matcher` holds the calls of the
//! window (read by `run`) by caller number, and finds the one call from
//! that number within `--match-window` of the row's time. No call, or more
//! than one, rejects the row naming what it found: tdrecon never guesses.
//! (TrackDrive's `update_by_caller_id` counts its window back from now and
//! does not say which call wins: it is not used.)

use std::collections::HashMap;

use crate::input::columns::{Field, Schema};
use crate::input::rejection::{RejectKind, Rejection};
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;

use super::zone_hint::{Miss, Misses, half_hours};

/// The window's calls by caller number.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// Caller (E.164) → `(created_at ms, call id)`, in no order.
    calls: HashMap<String, Vec<(i64, u64)>>,
    /// How far a call's time may be from the row's (`--match-window`).
    tolerance_ms: i64,
    /// The rows that found no call, for the file's hint (`zone_hint`).
    misses: Misses,
}

impl Matcher {
    pub fn new(tolerance_ms: i64) -> Matcher {
        Matcher { calls: HashMap::new(), tolerance_ms, misses: Misses::default() }
    }

    /// The rows that found no call, as they are found.
    pub fn misses(&self) -> Misses {
        self.misses.clone()
    }

    pub fn tolerance_ms(&self) -> i64 {
        self.tolerance_ms
    }

    /// The nearest call from `caller` at any time: its time and id.
    pub fn nearest_call(&self, caller: &str, at: i64) -> Option<(i64, u64)> {
        self.calls.get(caller).and_then(|c| c.iter().min_by_key(|(t, _)| (t - at).abs())).copied()
    }

    /// The nearest call from `caller` at any time, in words (`""` when
    /// there is none): a gap of about a whole or half hour (buyer times are
    /// rounded to the minute) is most likely a time zone.
    fn nearest(&self, caller: &str, at: i64, zone: &jiff::tz::TimeZone) -> String {
        let Some((t, id)) = self.nearest_call(caller, at) else { return String::new() };
        let gap = t - at;
        let minutes = gap.abs() / 60_000;
        let (h, m) = (minutes / 60, minutes % 60);
        let how = if gap > 0 { "later" } else { "earlier" };
        let when = crate::text::local_time(t, zone);
        let zone = match half_hours(gap, self.tolerance_ms) {
            Some(_) => {
                ": about a whole or half hour off, so the report's times are likely in another zone (check \
                        --time-zone)"
            }
            None => "",
        };
        format!("; the nearest call from {caller} is {id} at {when}, {h}h {m:02}m {how}{zone}")
    }

    /// Adds a call of the window.
    pub fn add(&mut self, caller: &str, created_at_ms: i64, id: u64) {
        self.calls.entry(caller.to_string()).or_default().push((created_at_ms, id));
    }

    /// The one call of the row's caller within the match window of its time.
    pub fn find(&self, update: &CallUpdate, schema: &Schema) -> Result<CallRef, Rejection> {
        let (Some(caller), Some(at)) = (&update.caller_number, update.call_time) else {
            return Ok(update.call);
        };
        // A local time that happened twice is tried at both instants.
        let instants: Vec<i64> = std::iter::once(at).chain(update.call_time_later).collect();
        let mut found: Vec<u64> = self
            .calls
            .get(caller)
            .into_iter()
            .flatten()
            .filter(|(t, _)| instants.iter().any(|at| (t - at).abs() <= self.tolerance_ms))
            .map(|(_, id)| *id)
            .collect();
        found.sort_unstable();
        found.dedup();
        let show = |ms: i64| crate::text::local_time(ms, &schema.time_zone);
        let when = instants.iter().map(|&ms| show(ms)).collect::<Vec<_>>().join(" or of ");
        let twice = if instants.len() > 1 { " (the local time happened twice: both were tried)" } else { "" };
        let minutes = self.tolerance_ms / 60_000;
        let reject = |reason: String| Rejection {
            kind: RejectKind::InvalidValue,
            column: schema.header_of(&Field::CallerNumber),
            value: caller.clone(),
            reason,
        };
        match found.as_slice() {
            [id] => Ok(CallRef::Id(*id)),
            [] => {
                let gap = self.nearest_call(caller, at).map(|(t, _)| t - at);
                self.misses.push(Miss { caller: caller.clone(), at, gap });
                Err(reject(format!(
                    "no call from {caller} within {minutes}m of {when}{twice}{}",
                    self.nearest(caller, at, &schema.time_zone)
                )))
            }
            ids => Err(reject(format!(
                "{} calls from {caller} within {minutes}m of {when}{twice} (ids {}): give the row its call id",
                ids.len(),
                ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::columns::HeaderOptions;

    #[test]
    fn one_call_matches_none_or_two_are_refused() {
        let headers = ["caller_number", "call_time", "revenue"].map(String::from).to_vec();
        let schema = Schema::from_headers(headers, &HeaderOptions::default()).unwrap();
        let mut m = Matcher::new(5 * 60_000);
        m.add("+17191231234", 1_000_000, 7);
        m.add("+17195550000", 1_000_000, 8);
        m.add("+17195550000", 1_100_000, 9);
        let row = |caller: &str, at: i64| {
            let mut u = CallUpdate::new(CallRef::PENDING);
            (u.caller_number, u.call_time) = (Some(caller.into()), Some(at));
            u
        };
        assert_eq!(m.find(&row("+17191231234", 1_200_000), &schema), Ok(CallRef::Id(7)));
        let none = m.find(&row("+17191231234", 1_000_000 + 6 * 60_000), &schema).unwrap_err();
        assert!(none.reason.starts_with("no call from +17191231234 within 5m of"), "{none:?}");
        assert!(none.reason.contains("the nearest call from +17191231234 is 7 at"), "{none:?}");
        let hours = m.find(&row("+17191231234", 1_000_000 - 5 * 3_600_000), &schema).unwrap_err();
        assert!(
            hours.reason.contains("5h 00m later: about a whole or half hour off")
                && hours.reason.contains("--time-zone"),
            "{hours:?}"
        );
        assert_eq!(none.column, "caller_number");
        let two = m.find(&row("+17195550000", 1_050_000), &schema).unwrap_err();
        assert!(two.reason.contains("2 calls from +17195550000") && two.reason.contains("ids 8, 9"), "{two:?}");
    }

    #[test]
    fn a_time_that_happened_twice_is_tried_at_both_instants() {
        let headers = ["caller_number", "call_time", "revenue"].map(String::from).to_vec();
        let schema = Schema::from_headers(headers, &HeaderOptions::default()).unwrap();
        let hour = 3_600_000;
        let mut m = Matcher::new(5 * 60_000);
        m.add("+17191231234", 10 * hour + hour, 7); // at the second instant
        m.add("+17195550000", 10 * hour, 8); // at the first
        m.add("+17195550000", 11 * hour, 9); // and another at the second
        let row = |caller: &str| {
            let mut u = CallUpdate::new(CallRef::PENDING);
            (u.caller_number, u.call_time, u.call_time_later) = (Some(caller.into()), Some(10 * hour), Some(11 * hour));
            u
        };
        assert_eq!(m.find(&row("+17191231234"), &schema), Ok(CallRef::Id(7)), "one call across both: matched");
        let both = m.find(&row("+17195550000"), &schema).unwrap_err();
        assert!(both.reason.contains("ids 8, 9") && both.reason.contains("happened twice"), "{both:?}");
        assert!(both.reason.contains(" or of "), "names both instants: {both:?}");
    }
}
