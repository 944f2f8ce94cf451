//! What was typed, resolved into what the commands take (ripgrep's "high"
//! arguments): the input, the account, and every check that depends on more
//! than one flag (`resolve_job`: a run's or a plan's settings). Commands
//! receive these options whole and never second-guess them.

use super::args::{AccountArgs, DoctorArgs, HistoryArgs, NamesArgs, ValidateArgs, WhichArg};
use super::input_args::InputArgs;
use super::values::NegativeAsAdd;
use crate::commands::doctor::DoctorOptions;
use crate::commands::validate::ValidateOptions;
use crate::exit::Fatal;
use crate::input::InputOptions;
use crate::input::columns::HeaderOptions;
use crate::input::columns::same_value;
use crate::input::fields::CallField;
use crate::input::source::Source;
use crate::trackdrive::client::{check_base_url, subdomain_url};
use crate::trackdrive::credentials::Credentials;

pub(super) fn usage(e: impl std::fmt::Display) -> Fatal {
    Fatal::usage(anyhow::anyhow!("{e}"))
}

impl ValidateArgs {
    pub(super) fn resolve(mut self) -> Result<ValidateOptions, Fatal> {
        self.input.fetch(false)?;
        let input = self.input.resolve(false)?;
        let errors = self.errors.unwrap_or_else(|| input.sibling("errors"));
        let mut outputs = vec![("--errors", errors.as_path())];
        outputs.extend(self.summary_json.as_deref().filter(|p| p.as_os_str() != "-").map(|p| ("--summary-json", p)));
        crate::files::paths::check(&input.read_files(), &outputs).map_err(usage)?;
        Ok(ValidateOptions { input, errors, summary_json: self.summary_json })
    }
}

impl InputArgs {
    /// A report named by URL: fetched into its kept copy (`reuse`, for a
    /// resume: the copy an earlier run kept, so the same bytes are read),
    /// which is then the file read; the URL, without its query, names it.
    pub(super) fn fetch(&mut self, reuse: bool) -> Result<(), Fatal> {
        use crate::trackdrive::fetch;
        let Some(url) = self.file.to_str().filter(|f| fetch::is_url(f)).map(str::to_string) else { return Ok(()) };
        let kept = fetch::kept_copy(&url);
        if !(reuse && kept.is_file()) {
            let bytes = fetch::fetch(&url, &kept).map_err(usage)?;
            crate::console::warn(&format!(
                "fetched {} ({} KiB) into {}",
                fetch::shown(&url),
                bytes.div_ceil(1024),
                kept.display()
            ));
        }
        self.fetched_from = Some(fetch::shown(&url));
        self.file = kept;
        Ok(())
    }

    /// The input's options: what was given, then what the file's name
    /// implies. Opens the source (a spreadsheet or a stream is written out
    /// as CSV here; so is a plain file, when `private`).
    pub(super) fn resolve(self, private: bool) -> Result<InputOptions, Fatal> {
        let source = Source::open(&self.file, self.sheet.as_deref(), private, self.encoding, self.trust_encoding)
            .map_err(Fatal::usage)?;
        // A typed mapping replaces the profile's for its header; two typed
        // for one header are refused, not decided by their order.
        let same = |a: &str, b: &str| crate::input::columns::normalise(a) == crate::input::columns::normalise(b);
        let mut maps: Vec<(String, String)> = Vec::new();
        for (from, to) in self.profile_maps {
            maps.retain(|(f, _)| !same(f, &from));
            maps.push((from, to));
        }
        let typed: Vec<(String, String)> = self.maps;
        for (i, (from, to)) in typed.iter().enumerate() {
            if let Some((_, other)) = typed[..i].iter().find(|(f, t)| same(f, from) && t != to) {
                return Err(usage(format!(
                    "--map maps {from:?} twice, to `{other}` and to `{to}`: keep the one you mean"
                )));
            }
            maps.retain(|(f, _)| !same(f, from));
            maps.push((from.clone(), to.clone()));
        }
        // So does a typed meaning of a value of a column replace the
        // profile's; two typed meanings of one value are refused. Values are
        // the same as cells are matched to them (`same_value`); the column's
        // own check refuses two the profile gives.
        let same_key = |(h, t): (&str, &str), (h2, t2): (&str, &str)| same(h, h2) && same_value(t, t2);
        let mut values: Vec<(String, String, String)> = self.profile_value_maps;
        let typed = self.value_map;
        for (i, (header, theirs, ours)) in typed.iter().enumerate() {
            if let Some((_, _, other)) =
                typed[..i].iter().find(|(h, t, o)| same_key((h, t), (header, theirs)) && o != ours)
            {
                return Err(usage(format!(
                    "--value-map maps {theirs:?} of {header:?} twice, to {other:?} and to {ours:?}: keep the one \
                     you mean"
                )));
            }
            values.retain(|(h, t, _)| !same_key((h, t), (header, theirs)));
            values.push((header.clone(), theirs.clone(), ours.clone()));
        }
        let mut negative_as_add: Vec<CallField> = Vec::new();
        for column in self.negative_as_add {
            let field = match column {
                NegativeAsAdd::Revenue => CallField::Revenue,
                NegativeAsAdd::Payout => CallField::Payout,
            };
            if !negative_as_add.contains(&field) {
                negative_as_add.push(field);
            }
        }
        Ok(InputOptions {
            path: source.path,
            name: self.fetched_from.map_or(source.name, std::path::PathBuf::from),
            // A spreadsheet's cells are written out with commas, whatever
            // --delimiter (or a profile's) says of text files.
            delimiter: if source.sheet.is_some() {
                source.delimiter
            } else {
                self.delimiter.unwrap_or(source.delimiter)
            },
            headers: HeaderOptions { maps, ignore: self.ignore, values, negative_as_add },
            sheet: source.sheet,
            line_map: source.line_map,
            spool: source.spool,
            time_zone: self.time_zone.unwrap_or(jiff::tz::TimeZone::UTC),
            survey: source.survey,
            profile: self.config,
        })
    }
}

impl AccountArgs {
    /// The account's checked base URL and its keys.
    fn resolve(&self) -> Result<(String, Credentials), Fatal> {
        let base_url = match (&self.subdomain, &self.base_url) {
            (Some(name), _) => subdomain_url(name).map_err(usage)?,
            (None, Some(url)) => check_base_url(url).map_err(usage)?,
            (None, None) => return Err(usage("say which account: --subdomain NAME or --base-url URL")),
        };
        let credentials = Credentials::load(self.credentials.as_deref()).map_err(Fatal::usage)?;
        Ok((base_url, credentials))
    }
}

impl DoctorArgs {
    pub(super) fn resolve(self) -> Result<DoctorOptions, Fatal> {
        let (base_url, credentials) = self.account.resolve()?;
        Ok(DoctorOptions { base_url, credentials, json: self.json, timeout: self.timeout })
    }
}

impl NamesArgs {
    pub(super) fn resolve(self) -> Result<crate::commands::names::NamesOptions, Fatal> {
        use crate::commands::names::Which;
        let (base_url, credentials) = self.account.resolve()?;
        let which = match self.which {
            WhichArg::Dispositions => Which::Dispositions,
            WhichArg::Buyers => Which::Buyers,
            WhichArg::TrafficSources => Which::TrafficSources,
        };
        let rate = std::num::NonZeroU32::new(super::defaults::RATE).unwrap_or(std::num::NonZeroU32::MIN);
        Ok(crate::commands::names::NamesOptions {
            base_url,
            credentials,
            which,
            csv: self.csv,
            timeout: self.timeout,
            rate,
        })
    }
}

impl HistoryArgs {
    pub(super) fn resolve(self) -> Result<crate::commands::history::HistoryOptions, Fatal> {
        let since = match &self.since {
            Some(t) => Some(history_time(t).map_err(|e| usage(format!("--since {t:?}: {e}")))?),
            None => None,
        };
        let (base_url, credentials) = self.account.resolve()?;
        let ledger = self.ledger.resolve()?;
        Ok(crate::commands::history::HistoryOptions {
            base_url,
            credentials,
            call: self.call,
            runs: self.runs,
            since,
            ledger,
        })
    }
}

/// A time for `history --since`: `today` or `yesterday` (this machine's
/// midnight), a span back from now (`24h`, `7d`, `90m`), a date (its
/// midnight) or a date and time, in this machine's zone unless it has an
/// offset.
fn history_time(text: &str) -> Result<i64, String> {
    history_time_at(text, jiff::ZonedDateTime::now())
}

fn history_time_at(text: &str, now: jiff::ZonedDateTime) -> Result<i64, String> {
    let text = text.trim();
    let midnight = |days_back: i64| {
        let day = now.date().checked_sub(jiff::Span::new().days(days_back)).map_err(|e| e.to_string())?;
        day.to_zoned_datetime(now.time_zone().clone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| e.to_string())
    };
    match text.to_ascii_lowercase().as_str() {
        "today" => return midnight(0),
        "yesterday" => return midnight(1),
        _ => {}
    }
    if let Some((number, unit)) = text.char_indices().last().map(|(i, c)| (&text[..i], c.to_ascii_lowercase()))
        && let Ok(n) = number.trim().parse::<u32>()
        && let Some(ms) = match unit {
            'm' => Some(60_000),
            'h' => Some(3_600_000),
            'd' => Some(86_400_000),
            _ => None,
        }
    {
        return Ok(now.timestamp().as_millisecond() - i64::from(n) * ms);
    }
    // Read in this machine's zone, as `--runs` shows its times. jiff reads
    // a date and time as its date alone: a date is a date only when
    // nothing follows it.
    let zone = now.time_zone().clone();
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && text.len() == 10
    {
        return date.to_zoned_datetime(zone).map(|z| z.timestamp().as_millisecond()).map_err(|e| e.to_string());
    }
    crate::input::values::parse_call_time(text, &zone).map_err(|e| format!("{e} (or today, yesterday, 24h, 7d)"))
}

#[cfg(test)]
mod tests {
    use super::history_time_at;

    #[test]
    fn since_reads_words_spans_and_times() {
        let now: jiff::ZonedDateTime = "2026-12-07T09:30:00-06:00[America/Chicago]".parse().unwrap();
        let at = |t: &str| history_time_at(t, now.clone());
        let ms = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let table = [
            ("today", ms("2026-12-07T06:00:00Z")),
            ("Yesterday", ms("2026-12-06T06:00:00Z")),
            ("24h", ms("2026-12-06T15:30:00Z")),
            ("7d", ms("2026-11-30T15:30:00Z")),
            ("90m", ms("2026-12-07T14:00:00Z")),
            // Dates and times without an offset: this machine's zone.
            ("2026-11-27", ms("2026-11-27T06:00:00Z")),
            ("2026-11-27 21:04:00", ms("2026-11-28T03:04:00Z")),
            ("2026-11-27T21:04:00Z", ms("2026-11-27T21:04:00Z")),
        ];
        for (text, want) in table {
            assert_eq!(at(text), Ok(want), "{text}");
        }
        for bad in ["last week", "7w", "h", ""] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }
}
