//! The value parsers that check each flag's form and range, and the small
//! enums clap parses flags into: one place, whichever command takes them
//! (a profile's settings go through them too).

/// The set columns `--negative-as-add` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum NegativeAsAdd {
    Revenue,
    Payout,
}

/// `--method`, as clap parses it (the library's `Method` knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum MethodArg {
    Put,
    Post,
    Patch,
}

/// `--rate`: a number of requests a second, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum RateArg {
    PerSecond(u32),
    Auto,
}

impl std::fmt::Display for RateArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateArg::PerSecond(n) => write!(f, "{n}"),
            RateArg::Auto => f.write_str("auto"),
        }
    }
}

pub(super) fn rate_arg(text: &str) -> Result<RateArg, String> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("auto") => Ok(RateArg::Auto),
        t => match t.parse::<u32>() {
            Ok(n) if n <= 10_000 => Ok(RateArg::PerSecond(n)),
            _ => Err(format!("{t:?}: expected a number of requests a second from 0 to 10000, or auto")),
        },
    }
}

/// `--delimiter`: one ASCII character, or `\t` / `tab`.
pub(super) fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        d if d.len() == 1 && d.is_ascii() => Ok(d.as_bytes()[0]),
        d => Err(format!("{d:?}: expected one ASCII character")),
    }
}

/// `--time-zone`: an IANA name.
pub(super) fn time_zone(text: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(text.trim()).map_err(|_| format!("{text:?}: not an IANA time zone, like America/New_York"))
}

/// `--timeout`: 1 ms to 1 hour.
pub(super) fn timeout(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_millis(1), std::time::Duration::from_secs(3600))
}

/// `--encoding`: a WHATWG label (`windows-1252`, `latin1`, `utf-16le`…).
pub(super) fn encoding(text: &str) -> Result<&'static encoding_rs::Encoding, String> {
    let label = text.trim();
    // WHATWG's utf-16 is little-endian; say so rather than guess silently.
    let label = if label.eq_ignore_ascii_case("utf-16") { "utf-16le" } else { label };
    // The help's `latin-1` is no WHATWG label (`latin1` is).
    let label = if label.eq_ignore_ascii_case("latin-1") { "latin1" } else { label };
    encoding_rs::Encoding::for_label(label.as_bytes())
        .ok_or_else(|| format!("{text:?}: not an encoding (try utf-8, windows-1252, latin-1, utf-16le, utf-16be)"))
}

/// `--match-window`: 1 second to 24 hours.
pub(super) fn match_window(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(1), std::time::Duration::from_secs(86_400))
}

/// `--repeat-window`: 1 second to 366 days.
pub(super) fn repeat_window(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(1), std::time::Duration::from_secs(366 * 86_400))
}

/// `--plan-max-age`: 1 minute to 30 days.
pub(super) fn plan_max_age(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(60), std::time::Duration::from_secs(30 * 86_400))
}

/// `--audit-lag`: 1 second to 1 hour.
pub(super) fn audit_lag(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_secs(1), std::time::Duration::from_secs(3600))
}

/// `--max-pause`: 1 ms to 1 hour.
pub(super) fn max_pause(text: &str) -> Result<std::time::Duration, String> {
    duration(text, std::time::Duration::from_millis(1), std::time::Duration::from_secs(3600))
}

/// `30s`, `500ms`, `2m`, or a bare number of seconds, from `min` to `max`.
pub(super) fn duration(
    text: &str,
    min: std::time::Duration,
    max: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("{t:?}: expected a duration like 30s or 500ms"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => return Err(format!("{t:?}: expected a duration like 30s or 500ms")),
    };
    let range = || format!("{t:?}: expected from {} ms to {} s", min.as_millis(), max.as_secs());
    // Checked before building a Duration, which panics on values past its range.
    if !secs.is_finite() || secs < min.as_secs_f64() || secs > max.as_secs_f64() {
        return Err(range());
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| range())
}

pub(super) fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a probability from 0 to 1".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::defaults;

    proptest::proptest! {
        /// Fuzz: no text makes the duration parser panic, and what it
        /// accepts is within the flag's range.
        #[test]
        fn durations_are_bounded(text in "\\PC{0,24}|[0-9.]{1,30}(ms|s|m)?") {
            if let Ok(d) = timeout(&text) {
                proptest::prop_assert!(d >= std::time::Duration::from_millis(1) && d <= std::time::Duration::from_secs(3600));
            }
        }
    }

    #[test]
    fn duration_table() {
        let ok = [("30s", 30_000), ("500ms", 500), ("2m", 120_000), ("1.5", 1_500), ("3600", 3_600_000)];
        for (text, ms) in ok {
            assert_eq!(timeout(text).map(|d| d.as_millis()), Ok(ms), "{text}");
        }
        for bad in ["0", "0.1ms", "3601s", "61m", "99999999999999999999", "1e400", "-1s", "s", "", "5h"] {
            assert!(timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_defaults_parse_as_their_flags_do() {
        assert_eq!(timeout(defaults::TIMEOUT), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(max_pause(defaults::MAX_PAUSE), Ok(std::time::Duration::from_secs(120)));
        assert_eq!(match_window(defaults::MATCH_WINDOW), Ok(std::time::Duration::from_secs(300)));
        assert_eq!(repeat_window(defaults::REPEAT_WINDOW), Ok(std::time::Duration::from_secs(30 * 86_400)));
        assert_eq!(repeat_window("12h"), Ok(std::time::Duration::from_secs(12 * 3600)));
        assert!(repeat_window("400d").is_err());
        assert_eq!(rate_arg(&RateArg::PerSecond(defaults::RATE).to_string()), Ok(RateArg::PerSecond(defaults::RATE)));
        assert_eq!(delimiter("tab"), Ok(b'\t'));
        assert!(delimiter(";;").is_err());
    }
}
