//! Parsers for the non-money cells of an input row: call references, flags,
//! ids, webhook id lists and contact-field JSON. Each is a pure function from
//! the cell's text to a typed value or a reason a person can act on.

use std::collections::BTreeMap;
use std::fmt;

/// Which call a row updates: TrackDrive accepts either its numeric Call ID or
/// its Call UUID. Stored as integers so the set of seen ids stays compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallRef {
    Id(u64),
    Uuid(u128),
}

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CallRef::Id(id) => write!(f, "{id}"),
            CallRef::Uuid(u) => {
                let h = format!("{u:032x}");
                write!(f, "{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
            }
        }
    }
}

/// The id a row without one carries until its caller number and call time
/// find its call (`input::matching`); never a real Call ID, never sent.
const PENDING_ID: u64 = u64::MAX;

impl CallRef {
    /// See `PENDING_ID`.
    pub const PENDING: CallRef = CallRef::Id(PENDING_ID);

    /// Parses a numeric Call ID or an 8-4-4-4-12 hex Call UUID.
    pub fn parse(text: &str) -> Result<CallRef, String> {
        let s = text.trim_ascii();
        if s.is_empty() {
            return Err("missing call id".into());
        }
        // Digits only, read in the same pass that checks them (every row has an id).
        let digits = s.bytes().try_fold(Some(0u64), |n, b| {
            b.is_ascii_digit().then(|| n.and_then(|n| n.checked_mul(10)?.checked_add(u64::from(b - b'0'))))
        });
        match digits {
            Some(Some(id)) if id != PENDING_ID => return Ok(CallRef::Id(id)),
            Some(_) => return Err("call id is too long to be a TrackDrive Call ID".into()),
            None => {}
        }
        // As CRMs and Microsoft exports write GUIDs too: `{…}`, `urn:uuid:…`.
        let bare = match s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            Some(inner) => inner,
            None if s.len() > 9 && s.is_char_boundary(9) && s[..9].eq_ignore_ascii_case("urn:uuid:") => &s[9..],
            None => s,
        };
        if let Some(u) = parse_uuid(bare) {
            return Ok(CallRef::Uuid(u));
        }
        if looks_spreadsheet_mangled(s) {
            return Err("looks like a spreadsheet reformatted this id as a number \
                        (scientific notation or decimals): format the id column as text \
                        and export again"
                .into());
        }
        Err("expected a numeric Call ID or a Call UUID (8-4-4-4-12 hex digits)".into())
    }
}

fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut value: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        let digit = (c as char).to_digit(16)?;
        value = (value << 4) | digit as u128;
    }
    Some(value)
}

/// `1.23E+08`, `123456789.0`, `1,234,567`: what Excel does to a long id.
fn looks_spreadsheet_mangled(s: &str) -> bool {
    let mantissa = match s.find(['e', 'E']) {
        Some(i) => {
            let exp = s[i + 1..].trim_start_matches(['+', '-']);
            if exp.is_empty() || !exp.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            &s[..i]
        }
        None => s,
    };
    !mantissa.is_empty()
        && mantissa.bytes().any(|b| b.is_ascii_digit())
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
}

/// The flag spellings the API documents: `1 true yes on 0 false no off`.
pub fn parse_flag(text: &str) -> Result<bool, String> {
    let s = text.trim_ascii();
    const TRUE: [&str; 4] = ["1", "true", "yes", "on"];
    const FALSE: [&str; 4] = ["0", "false", "no", "off"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Ok(true)
    } else if FALSE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Ok(false)
    } else {
        Err("expected one of 1 true yes on 0 false no off".into())
    }
}

/// A TrackDrive record id (buyer, traffic source, disposition): digits only.
pub fn parse_record_id(text: &str) -> Result<String, String> {
    let s = text.trim_ascii();
    if !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else if looks_spreadsheet_mangled(s) {
        Err("looks like a spreadsheet reformatted this id as a number: format the column as text".into())
    } else {
        Err("expected a numeric id".into())
    }
}

/// Webhook ids to refire: `1;2;3`, `1,2,3` or a JSON array `[1, 2, 3]`.
pub fn parse_webhook_ids(text: &str) -> Result<Vec<u64>, String> {
    let s = text.trim();
    let ids: Vec<u64> = if s.starts_with('[') {
        serde_json::from_str(s).map_err(|_| "expected a JSON array of whole numbers, like [12, 34]".to_string())?
    } else {
        s.split([';', ','])
            .map(|part| part.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| "expected whole numbers separated by ; or , (like 12;34)".to_string())?
    };
    if ids.is_empty() {
        return Err("expected at least one webhook id".into());
    }
    Ok(ids)
}

/// The `post_call_tokens` column: a JSON object whose values are strings.
pub fn parse_tokens_json(text: &str) -> Result<BTreeMap<String, String>, String> {
    let Tokens(pairs) = serde_json::from_str(text.trim()).map_err(|e| {
        let e = e.to_string();
        if e.starts_with("token ") || e.starts_with("expected a JSON object") {
            e
        } else {
            format!("not valid JSON ({e}); expected an object like {{\"zip\":\"90210\"}}")
        }
    })?;
    Ok(pairs)
}

/// A `post_call_tokens` object read with its keys checked: every value a
/// string, and no key twice (serde_json's own map would keep the last
/// silently, and which value the user meant is not ours to guess).
struct Tokens(BTreeMap<String, String>);

impl<'de> serde::Deserialize<'de> for Tokens {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tokens, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Tokens;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("expected a JSON object like {\"zip\":\"90210\"}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Tokens, A::Error> {
                use serde::de::Error;
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: serde_json::Value = map.next_value()?;
                    let serde_json::Value::String(value) = value else {
                        return Err(A::Error::custom(format!("token {key:?} must be a string, found {value}")));
                    };
                    if out.contains_key(&key) {
                        return Err(A::Error::custom(format!("token {key:?} appears twice in the object")));
                    }
                    out.insert(key, value);
                }
                Ok(Tokens(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A US caller number in any common spelling (`(719) 123-1234`,
/// `719-123-1234`, `719.123.1234`, `+1 719 123 1234`, `17191231234`) as
/// E.164: `+17191231234`.
pub fn parse_caller_number(text: &str) -> Result<String, String> {
    let t = text.trim();
    let allowed = t.chars().all(|c| c.is_ascii_digit() || " ()-.+".contains(c));
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let national = match (digits.len(), digits.strip_prefix('1')) {
        (10, _) if !t.starts_with('+') => Some(digits.as_str()),
        (11, Some(rest)) => Some(rest),
        _ => None,
    };
    match national {
        Some(n) if allowed && !n.starts_with(['0', '1']) => Ok(format!("+1{n}")),
        _ => Err("expected a US phone number like (719) 123-1234 or +17191231234".into()),
    }
}

/// A call time: ISO 8601 with an offset (`2026-11-27T21:04:00-05:00`),
/// TrackDrive's `2026-11-27 21:04:00 -0500`, or a date-time without an
/// offset (`2026-11-27 21:04`, `11/27/2026 9:04 PM`), read in `zone`.
/// Returns milliseconds since the epoch. A local time that happened twice
/// (clocks set back) or never (clocks set forward) is refused, naming the
/// change: see `parse_call_times` for a reader that can try both.
pub fn parse_call_time(text: &str, zone: &jiff::tz::TimeZone) -> Result<i64, String> {
    match parse_call_times(text, zone)? {
        CallTime::At(at) => Ok(at),
        CallTime::Twice(..) => {
            Err(format!("{} (write it with its offset, as -05:00)", twice_words(text, zone).unwrap_or_default()))
        }
    }
}

/// A call time as a row gives it: one instant, or a local time that
/// happened twice (`earlier`, `later`) when the clocks were set back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTime {
    At(i64),
    Twice(i64, i64),
}

/// `parse_call_time`, keeping both instants of a local time that happened
/// twice; a local time that never happened is refused naming the change
/// ("clocks went from 02:00 to 03:00 on 2026-03-08 in America/New_York").
pub fn parse_call_times(text: &str, zone: &jiff::tz::TimeZone) -> Result<CallTime, String> {
    use jiff::tz::AmbiguousOffset;
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(CallTime::At(ts.as_millisecond()));
    }
    if let Ok(ts) = jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", t).and_then(|p| p.to_timestamp()) {
        return Ok(CallTime::At(ts.as_millisecond()));
    }
    let Some(dt) = local_date_time(t) else {
        return Err("expected a date and time like 2026-11-27 21:04:00 (with an offset, or read in --time-zone)".into());
    };
    let at = |offset: jiff::tz::Offset| {
        offset.to_timestamp(dt).map(|ts| ts.as_millisecond()).map_err(|e| format!("{t:?}: {e}"))
    };
    match zone.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => Ok(CallTime::At(at(offset)?)),
        AmbiguousOffset::Fold { before, after } => Ok(CallTime::Twice(at(before)?, at(after)?)),
        AmbiguousOffset::Gap { before, after } => {
            let (from, to) = (wall(dt, before, (before, after), zone), wall(dt, after, (before, after), zone));
            Err(format!(
                "{} never happened in {}: clocks went from {from} to {to} on {}; write the time with its offset",
                dt.strftime("%H:%M"),
                zone_name(zone),
                dt.date()
            ))
        }
    }
}

/// The local date-time forms a call time may take without an offset.
fn local_date_time(t: &str) -> Option<jiff::civil::DateTime> {
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %I:%M:%S %p",
    ]
    .iter()
    .find_map(|f| jiff::civil::DateTime::strptime(f, t).ok())
}

/// The wall clock, under `offset`, at the zone's change around `dt` (whose
/// offsets either side are `before` and `after`): `02:00` and `03:00` for a
/// spring gap. The change is the last one before the later reading of `dt`.
fn wall(
    dt: jiff::civil::DateTime,
    offset: jiff::tz::Offset,
    (before, after): (jiff::tz::Offset, jiff::tz::Offset),
    zone: &jiff::tz::TimeZone,
) -> String {
    let later = before.to_timestamp(dt).ok().max(after.to_timestamp(dt).ok());
    let change = later
        .and_then(|ts| zone.preceding(ts + jiff::SignedDuration::from_secs(1)).next())
        .map(|transition| transition.timestamp());
    match change {
        Some(ts) => offset.to_datetime(ts).strftime("%H:%M").to_string(),
        None => "?".into(),
    }
}

fn zone_name(zone: &jiff::tz::TimeZone) -> String {
    zone.iana_name().unwrap_or("the time zone").to_string()
}

/// "2026-11-01 01:30 happened twice in America/New_York (clocks went back
/// from 02:00 to 01:00)", for a local time that did.
pub fn twice_words(text: &str, zone: &jiff::tz::TimeZone) -> Option<String> {
    let dt = local_date_time(text.trim())?;
    let jiff::tz::AmbiguousOffset::Fold { before, after } = zone.to_ambiguous_timestamp(dt).offset() else {
        return None;
    };
    Some(format!(
        "{} happened twice in {} (clocks went back from {} to {} that night)",
        dt.strftime("%Y-%m-%d %H:%M"),
        zone_name(zone),
        wall(dt, before, (before, after), zone),
        wall(dt, after, (before, after), zone)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_refs() {
        let ok = [
            ("123895022", "123895022"),
            (" 42 ", "42"),
            ("c3b20b12-3b3b-4322-b15d-0f1c5f653479", "c3b20b12-3b3b-4322-b15d-0f1c5f653479"),
            ("C3B20B12-3B3B-4322-B15D-0F1C5F653479", "c3b20b12-3b3b-4322-b15d-0f1c5f653479"),
            ("00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000001"),
            // GUIDs as CRMs and Microsoft exports write them.
            ("{24DEF491-3B3B-4322-B15D-0F1C5F653479}", "24def491-3b3b-4322-b15d-0f1c5f653479"),
            (" {24def491-3b3b-4322-b15d-0f1c5f653479} ", "24def491-3b3b-4322-b15d-0f1c5f653479"),
            ("urn:uuid:24def491-3b3b-4322-b15d-0f1c5f653479", "24def491-3b3b-4322-b15d-0f1c5f653479"),
            ("URN:UUID:24DEF491-3B3B-4322-B15D-0F1C5F653479", "24def491-3b3b-4322-b15d-0f1c5f653479"),
        ];
        for (input, want) in ok {
            assert_eq!(CallRef::parse(input).unwrap().to_string(), want, "{input:?}");
        }
        let bad = [
            ("", "missing"),
            ("1.23E+08", "spreadsheet"),
            ("1.23e8", "spreadsheet"),
            ("123895022.0", "spreadsheet"),
            ("123,895,022", "spreadsheet"),
            ("abc", "expected a numeric Call ID"),
            ("c3b20b12-3b3b-4322-b15d-0f1c5f65347", "expected"),
            ("c3b20b12_3b3b_4322_b15d_0f1c5f653479", "expected"),
            ("g3b20b12-3b3b-4322-b15d-0f1c5f653479", "expected"),
            ("99999999999999999999999", "too long"),
            ("18446744073709551616", "too long"),
            ("-5", "expected"),
            ("{24def491-3b3b-4322-b15d-0f1c5f653479", "expected"),
            ("{{24def491-3b3b-4322-b15d-0f1c5f653479}}", "expected"),
            ("{123}", "expected"),
            ("urn:uuid:{24def491-3b3b-4322-b15d-0f1c5f653479}", "expected"),
            ("urn:uuid:", "expected"),
            ("urn:ü", "expected"),
        ];
        for (input, want) in bad {
            let err = CallRef::parse(input).unwrap_err();
            assert!(err.contains(want), "{input:?}: {err}");
        }
    }

    #[test]
    fn uuid_and_id_are_distinct_keys() {
        assert_ne!(CallRef::parse("1").unwrap(), CallRef::parse("00000000-0000-0000-0000-000000000001").unwrap());
    }

    #[test]
    fn flags() {
        for t in ["1", "true", "TRUE", "Yes", "on", " ON "] {
            assert_eq!(parse_flag(t), Ok(true), "{t}");
        }
        for f in ["0", "false", "No", "OFF"] {
            assert_eq!(parse_flag(f), Ok(false), "{f}");
        }
        for bad in ["y", "2", "", "truee", "x"] {
            assert!(parse_flag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn record_ids() {
        assert_eq!(parse_record_id(" 123 ").unwrap(), "123");
        assert!(parse_record_id("12a").unwrap_err().contains("numeric"));
        assert!(parse_record_id("1.2E+05").unwrap_err().contains("spreadsheet"));
        assert!(parse_record_id("").is_err());
    }

    #[test]
    fn webhook_ids() {
        let ok = [("1;2;3", vec![1, 2, 3]), ("4, 5", vec![4, 5]), ("[7,8]", vec![7, 8]), ("9", vec![9])];
        for (input, want) in ok {
            assert_eq!(parse_webhook_ids(input).unwrap(), want, "{input:?}");
        }
        for bad in ["", "1;;2", "a", "[1.5]", "[\"1\"]", "[]", "-1", "1;2;"] {
            assert!(parse_webhook_ids(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_json() {
        let map = parse_tokens_json(r#"{"zip":"90210","First Name":"Jo"}"#).unwrap();
        assert_eq!(map["zip"], "90210");
        assert_eq!(map["First Name"], "Jo");
        assert!(parse_tokens_json("[1]").unwrap_err().contains("object"));
        assert!(parse_tokens_json(r#"{"zip":90210}"#).unwrap_err().contains("must be a string"));
        assert!(parse_tokens_json("{zip").unwrap_err().contains("not valid JSON"));
        let twice = parse_tokens_json(r#"{"zip":"1","zip":"2"}"#).unwrap_err();
        assert!(twice.contains("\"zip\" appears twice"), "{twice}");
    }

    proptest::proptest! {
        /// Fuzz: no cell text makes a value parser panic, and what parses
        /// round-trips through its normal form.
        #[test]
        fn value_parsers_take_any_text(text in "\\PC{0,40}|[0-9$,.\\-eE()\\[\\]{}\":; ]{0,30}") {
            use crate::input::money::{Sign, parse_money};
            let _ = parse_flag(&text);
            let _ = parse_record_id(&text);
            let _ = parse_webhook_ids(&text);
            let _ = parse_tokens_json(&text);
            if let Ok(call) = CallRef::parse(&text) {
                proptest::prop_assert_eq!(CallRef::parse(&call.to_string()).ok(), Some(call));
            }
            for sign in [Sign::Any, Sign::NonNegative] {
                if let Ok(amount) = parse_money(&text, sign) {
                    proptest::prop_assert_eq!(parse_money(&amount.to_string(), sign), Ok(amount));
                }
            }
        }
    }

    #[test]
    fn call_times() {
        let utc = jiff::tz::TimeZone::UTC;
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let cases = [
            ("2026-11-27T21:04:00-05:00", &utc, at("2026-11-28T02:04:00Z")),
            ("2026-11-27 21:04:00 -0500", &utc, at("2026-11-28T02:04:00Z")),
            ("2026-11-27 21:04:00", &utc, at("2026-11-27T21:04:00Z")),
            ("2026-11-27 21:04", &ny, at("2026-11-28T02:04:00Z")),
            ("11/27/2026 9:04 PM", &ny, at("2026-11-28T02:04:00Z")),
        ];
        for (text, zone, want) in cases {
            assert_eq!(parse_call_time(text, zone), Ok(want), "{text}");
        }
        assert!(parse_call_time("yesterday", &utc).is_err());
    }

    #[test]
    fn daylight_saving_is_never_guessed() {
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        // 01:30 on the night clocks go back happens twice: both instants.
        assert_eq!(
            parse_call_times("2026-11-01 01:30", &ny),
            Ok(CallTime::Twice(at("2026-11-01T05:30:00Z"), at("2026-11-01T06:30:00Z")))
        );
        let e = parse_call_time("2026-11-01 01:30", &ny).unwrap_err();
        assert!(e.contains("happened twice in America/New_York") && e.contains("from 02:00 to 01:00"), "{e}");
        // 02:30 on the night clocks go forward never happens.
        let e = parse_call_times("2026-03-08 02:30", &ny).unwrap_err();
        assert_eq!(
            e,
            "02:30 never happened in America/New_York: clocks went from 02:00 to 03:00 on 2026-03-08; \
             write the time with its offset"
        );
        // Either side of the change, and with an offset, it is one instant.
        assert_eq!(parse_call_times("2026-11-01 00:59", &ny), Ok(CallTime::At(at("2026-11-01T04:59:00Z"))));
        assert_eq!(parse_call_times("2026-11-01 02:00", &ny), Ok(CallTime::At(at("2026-11-01T07:00:00Z"))));
        assert_eq!(parse_call_times("2026-11-01T01:30:00-05:00", &ny), Ok(CallTime::At(at("2026-11-01T06:30:00Z"))));
    }

    #[test]
    fn caller_numbers() {
        for text in [
            "(719) 123-1234",
            "719-123-1234",
            "719.123.1234",
            "+17191231234",
            "+1 719 123 1234",
            "17191231234",
            " 7191231234 ",
        ] {
            assert_eq!(parse_caller_number(text).as_deref(), Ok("+17191231234"), "{text}");
        }
        for text in ["123-1234", "+447911123456", "719-123-123x", "(019) 123-1234", "+7191231234", ""] {
            assert!(parse_caller_number(text).is_err(), "{text}");
        }
        assert!(CallRef::parse("18446744073709551615").is_err(), "the pending id is never read from a file");
    }
}
