//! One hint for a whole file whose rows found no call. Buyer reports write
//! call times in their own zone, rounded to the minute; read in the wrong
//! zone, every row misses its call by the same few hours, give or take the
//! rounding. When most rows that found no call sit at about one whole or
//! half hour from a call of their own caller, the report's times are in
//! another zone: said once, with the zones that would fix it, rather than
//! a row at a time (and only on the rows whose gap happened to be exact).

use std::sync::{Arc, Mutex};

/// A row that found no call: its caller, its time, and how far the nearest
/// call of that caller is (`None`: no call of theirs was read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub caller: String,
    pub at: i64,
    pub gap: Option<i64>,
}

/// The misses of a run, shared by the matcher (which finds them) and the
/// job (which says what they show). Bounded: a sample is enough.
#[derive(Debug, Clone, Default)]
pub struct Misses(Arc<Mutex<Vec<Miss>>>);

/// The most misses kept.
const KEPT: usize = 100_000;

impl Misses {
    pub fn push(&self, miss: Miss) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() < KEPT {
            all.push(miss);
        }
    }

    pub fn take(&self) -> Vec<Miss> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

const HALF_HOUR: i64 = 30 * 60 * 1000;
/// Zones a report is likely written in, tried for the offset the misses show.
const ZONES: [&str; 20] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Bogota",
    "America/Sao_Paulo",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Manila",
    "Asia/Karachi",
    "Australia/Sydney",
];

/// What the misses show, when they show one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// Misses at about `gap` from a call of their own caller, of all.
    pub rows: usize,
    pub of: usize,
    /// How far their calls are from the rows (a whole or half hour).
    pub gap: i64,
    /// The offset the report's times look written in, and the zones that
    /// have it then.
    pub offset: String,
    pub zones: Vec<&'static str>,
    /// The zone the rows were read in.
    pub read_in: String,
}

impl Hint {
    pub fn words(&self) -> String {
        let minutes = self.gap.abs() / 60_000;
        let (h, m) = (minutes / 60, minutes % 60);
        let dir = if self.gap > 0 { "before" } else { "after" };
        let zones = match self.zones.as_slice() {
            [] => String::new(),
            zones => format!(" ({})", zones.join(", ")),
        };
        let fix = self.zones.first().map(|z| format!(": run again with --time-zone {z}")).unwrap_or_default();
        format!(
            "{} of the {} rows that found no call are about {h}h{m:02} {dir} a call from their own number: the report's \
             times look written at UTC{}{zones}, not in {}{fix}",
            self.rows, self.of, self.offset, self.read_in
        )
    }
}

/// The hint the misses give, read in `zone`, each call within `tolerance`
/// of its row's time: most misses (at least 3, and half of them) at about
/// one whole or half hour from a call of their caller.
pub fn hint(misses: &[Miss], zone: &jiff::tz::TimeZone, tolerance: i64) -> Option<Hint> {
    let mut buckets: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for gap in misses.iter().filter_map(|m| m.gap) {
        if let Some(k) = half_hours(gap, tolerance) {
            *buckets.entry(k).or_default() += 1;
        }
    }
    let (k, rows) = buckets.into_iter().max_by_key(|(_, n)| *n)?;
    if rows < 3 || rows * 2 < misses.len() {
        return None;
    }
    let gap = k * HALF_HOUR;
    let at = jiff::Timestamp::from_millisecond(misses.iter().find(|m| m.gap.is_some())?.at).ok()?;
    // Read in `zone` (offset o), the rows' local times are o − gap from UTC.
    let read = zone.to_offset(at).seconds() as i64 * 1000;
    let written = read - gap;
    let zones = ZONES
        .iter()
        .filter(|z| jiff::tz::TimeZone::get(z).is_ok_and(|tz| tz.to_offset(at).seconds() as i64 * 1000 == written))
        .copied()
        .collect();
    let offset = jiff::tz::Offset::from_seconds((written / 1000) as i32).map(|o| o.to_string()).unwrap_or_default();
    let read_in = zone.iana_name().unwrap_or("the zone read").to_string();
    Some(Hint { rows, of: misses.len(), gap, offset: with_minutes(&offset), zones, read_in })
}

/// `-06` as `-06:00`.
fn with_minutes(offset: &str) -> String {
    if offset.len() == 3 { format!("{offset}:00") } else { offset.to_string() }
}

/// How many half hours `gap` is, when it is within `tolerance` of a
/// non-zero number of them.
pub fn half_hours(gap: i64, tolerance: i64) -> Option<i64> {
    let k = (gap as f64 / HALF_HOUR as f64).round() as i64;
    (k != 0 && (gap - k * HALF_HOUR).abs() <= tolerance).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn misses(gaps: &[Option<i64>]) -> Vec<Miss> {
        let at = "2026-12-06T13:03:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond();
        gaps.iter().map(|g| Miss { caller: "+13125550100".into(), at, gap: *g }).collect()
    }

    #[test]
    fn most_rows_about_six_hours_off_name_the_zone() {
        let utc = jiff::tz::TimeZone::UTC;
        // Buyer times rounded to the minute: 5h59m, 6h, 6h01m, all one zone.
        let gaps = [Some(6 * HOUR - MIN), Some(6 * HOUR), Some(6 * HOUR + MIN), Some(6 * HOUR - 40_000), None];
        let h = hint(&misses(&gaps), &utc, 5 * MIN).unwrap();
        assert_eq!((h.rows, h.of, h.gap, h.offset.as_str()), (4, 5, 6 * HOUR, "-06:00"));
        assert_eq!(h.zones, ["America/Chicago", "America/Mexico_City"]);
        let words = h.words();
        assert!(words.starts_with("4 of the 5 rows that found no call are about 6h00 before a call"), "{words}");
        assert!(words.ends_with("not in UTC: run again with --time-zone America/Chicago"), "{words}");
    }

    #[test]
    fn no_hint_without_one_offset_for_most_rows() {
        let utc = jiff::tz::TimeZone::UTC;
        let cases: [&[Option<i64>]; 5] = [
            &[Some(6 * HOUR), Some(6 * HOUR)],
            &[Some(6 * HOUR), Some(6 * HOUR), Some(6 * HOUR), None, None, None, None],
            &[Some(6 * HOUR), Some(3 * HOUR), Some(HOUR + 17 * MIN), Some(9 * MIN)],
            &[Some(2 * MIN), Some(MIN), Some(3 * MIN)],
            &[None, None, None],
        ];
        for gaps in cases {
            assert_eq!(hint(&misses(gaps), &utc, 5 * MIN), None, "{gaps:?}");
        }
        // A half-hour zone; and rows read in New York that were Chicago's.
        let h = hint(&misses(&[Some(-(5 * HOUR + 30 * MIN)); 3]), &utc, 5 * MIN).unwrap();
        assert_eq!((h.offset.as_str(), h.zones.as_slice()), ("+05:30", &["Asia/Kolkata"][..]));
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let h = hint(&misses(&[Some(HOUR); 3]), &ny, 5 * MIN).unwrap();
        assert_eq!(h.zones.first(), Some(&"America/Chicago"));
    }

    #[test]
    fn half_hours_within_the_tolerance() {
        let cases = [
            (6 * HOUR - MIN, Some(12)),
            (-HOUR, Some(-2)),
            (HOUR + 10 * MIN, None),
            (2 * MIN, None),
            (30 * MIN, Some(1)),
        ];
        for (gap, want) in cases {
            assert_eq!(half_hours(gap, 5 * MIN), want, "{gap}");
        }
    }
}
