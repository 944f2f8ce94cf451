//! Saved profiles (`--config FILE`, TOML): what a buyer report that arrives
//! in the same shape every night needs, so the night's command is short.
//!
//! A profile is more arguments, as ripgrep's config file is: each key is a
//! flag of `run` (`max_rate = 50` is `--max-rate 50`, `reconcile = true` is
//! `--reconcile`, `[map]` is one `--map` per entry), put in front of the
//! command line's and parsed by the same parser, so a flag typed wins and
//! every form and range is checked once. This module turns the TOML into
//! those arguments, each with the key and line it came from; which keys
//! exist is the command line's to say (`Key`). A key the file does not know
//! is an error naming the nearest known key, and API keys can never be put
//! in it (a profile is meant to be shared and committed).

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A key a profile may hold: the flag it stands for, as the command line
/// defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// `max_rate`.
    pub name: String,
    /// `--max-rate`.
    pub flag: String,
    /// The flag takes a value (`--rate 5`), or is a switch (`--reconcile`).
    pub takes_value: bool,
    /// The flag may be given many times (`--map`, `--ignore-column`).
    pub repeatable: bool,
}

/// One key of a profile, as arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    /// The line it is on, counting from 1.
    pub line: usize,
    /// What it stands for on the command line: `["--max-rate", "50"]`.
    pub args: Vec<String>,
    /// The key as written, for messages (`rate = "fast"`).
    pub written: String,
}

/// A profile read and turned into arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The file, as the user named it.
    pub path: String,
    pub settings: Vec<Setting>,
}

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the profile {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("the profile {path}: {error}")]
    Toml { path: String, error: String },
    #[error("the profile {path}, line {line}: unknown key `{key}`{hint}")]
    Unknown { path: String, line: usize, key: String, hint: String },
    #[error("the profile {path}, line {line}: `{key}`: {why}")]
    Value { path: String, line: usize, key: String, why: String },
    #[error(
        "the profile {path}: `{key}` looks like an API key. Keys never go in a profile (it is meant to be \
         shared): set TRACKDRIVE_PUBLIC_KEY / TRACKDRIVE_PRIVATE_KEY, or use --credentials FILE"
    )]
    Secret { path: String, key: String },
}

/// The most bytes of a profile read: a profile is a page of settings.
const MAX_BYTES: u64 = 1 << 20;

impl Profile {
    pub fn load(path: &Path, keys: &[Key]) -> Result<Profile, ProfileError> {
        use std::io::Read;
        let shown = path.display().to_string();
        let io = |error| ProfileError::Io { path: shown.clone(), error };
        let mut text = String::new();
        std::fs::File::open(path).and_then(|f| f.take(MAX_BYTES).read_to_string(&mut text)).map_err(io)?;
        Profile::parse(&text, &shown, keys)
    }

    pub fn parse(text: &str, shown: &str, keys: &[Key]) -> Result<Profile, ProfileError> {
        let table = DeTable::parse(text)
            .map_err(|e| ProfileError::Toml { path: shown.to_string(), error: e.to_string().trim().to_string() })?;
        let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
        let mut settings = Vec::new();
        for (name, value) in table.get_ref().iter() {
            let (name, line) = (name.get_ref().to_string(), line_of(name.span().start));
            let normal = crate::input::columns::normalise(&name);
            if ["key", "secret", "password", "private", "credential"].iter().any(|w| normal.contains(w)) {
                return Err(ProfileError::Secret { path: shown.to_string(), key: name });
            }
            let Some(key) = keys.iter().find(|k| k.name == name) else {
                let nearest = keys.iter().min_by_key(|k| crate::input::columns::edit_distance(&normal, &k.name));
                let hint = nearest.map(|n| format!(" (did you mean `{}`?)", n.name)).unwrap_or_default();
                return Err(ProfileError::Unknown { path: shown.to_string(), line, key: name, hint });
            };
            let value_err = |why: String| ProfileError::Value { path: shown.to_string(), line, key: name.clone(), why };
            let written = format!("{name} = {}", text.get(value.span()).unwrap_or_default().trim());
            let args = arguments(key, value).map_err(value_err)?;
            settings.push(Setting { key: name.clone(), line, args, written });
        }
        Ok(Profile { path: shown.to_string(), settings })
    }

    /// Every setting's arguments, in the file's order.
    pub fn args(&self) -> impl Iterator<Item = &str> {
        self.settings.iter().flat_map(|s| s.args.iter().map(String::as_str))
    }
}

/// The arguments a key's value stands for.
fn arguments(key: &Key, value: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
    let flag = key.flag.clone();
    match value.get_ref() {
        DeValue::Boolean(true) if !key.takes_value => Ok(vec![flag]),
        DeValue::Boolean(false) if !key.takes_value => Ok(Vec::new()),
        _ if !key.takes_value => Err("expected true or false".into()),
        // `[map]`: one `--map 'Header=column'` per entry; `[value_map.Status]`:
        // one `--value-map 'Status:Theirs=ours'` per entry of the inner table.
        DeValue::Table(table) if key.repeatable => {
            let mut args = Vec::new();
            for (from, to) in table.iter() {
                match to.get_ref() {
                    DeValue::String(to) => args.extend([flag.clone(), format!("{}={to}", from.get_ref())]),
                    DeValue::Table(inner) => {
                        for (theirs, ours) in inner.iter() {
                            let ours = match ours.get_ref() {
                                // `Returned = { buyer_converted = "no", call_disposition = "Returned" }`
                                DeValue::Table(fields) => fields
                                    .iter()
                                    .map(|(c, v)| scalar(v.get_ref()).map(|v| format!("{}={v}", c.get_ref())))
                                    .collect::<Result<Vec<_>, _>>()
                                    .map(|pairs| pairs.join(";")),
                                other => scalar(other),
                            }
                            .map_err(|why| format!("`{}` in [{}]: {why}", theirs.get_ref(), from.get_ref()))?;
                            args.extend([flag.clone(), format!("{}:{}={ours}", from.get_ref(), theirs.get_ref())]);
                        }
                    }
                    _ => return Err(format!("`{}` must map to a column name in quotes", from.get_ref())),
                }
            }
            Ok(args)
        }
        DeValue::Array(items) if key.repeatable => items
            .iter()
            .map(|item| scalar(item.get_ref()).map(|v| [flag.clone(), v]))
            .collect::<Result<Vec<_>, _>>()
            .map(|pairs| pairs.concat()),
        other => Ok(vec![flag, scalar(other)?]),
    }
}

/// A value as the flag takes it: strings as written, numbers by their digits.
fn scalar(value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(n) if n.radix() == 10 => Ok(n.as_str().replace('_', "")),
        DeValue::Float(f) => Ok(f.as_str().replace('_', "")),
        other => Err(format!("expected a string or a number, found {}", other.type_str())),
    }
}

/// `tdrecon template --config`: a commented profile to start from.
pub const EXAMPLE: &str = r#"# tdrecon profile: what a buyer report that arrives in the same shape every
# night needs. Use it with: tdrecon run tonight.xlsx --config acme.toml
# Flags given on the command line win over this file. API keys never go here:
# set TRACKDRIVE_PUBLIC_KEY / TRACKDRIVE_PRIVATE_KEY, or use --credentials FILE.
# Uncomment any line to use it. Settings come first: in TOML every line after
# a [table] header belongs to that table, so the tables ([map]) are last.

# Reading the report.
# ignore_column = ["Internal Notes"]   # as --ignore-column
# delimiter = ";"                      # as --delimiter (.tsv files default to tabs)
# sheet = "Calls"                      # a spreadsheet's sheet (default: the one it opens on, never a hidden one)
# time_zone = "America/New_York"       # for call times written without an offset
# encoding = "windows-1252"            # as Excel on Windows saves "CSV"
# match_window = "5m"                  # how far a call may be from a row found by caller

# Where and how fast to send (as the flags of the same names).
# subdomain = "acme"                   # or base_url = "https://acme.trackdrive.com"
# rate = "auto"                        # or a number of requests a second
# max_rate = 100
# concurrency = 8
# timeout = "30s"
# max_failures = "5%"
# method = "put"

# Checking and safety.
# reconcile = true                     # read each call first, send only what differs
# repeat_window = "30d"                # the ledger refuses an add sent this recently
# audit_lag = "60s"                    # an add in doubt is judged not applied only this long after
# page_size = 100                      # calls a page when reading a window
# negative_as_add = ["revenue"]        # a negative revenue is a chargeback (add_revenue)
# buyer = ["Acme Insurance"]           # whose report: discrepancies are judged for it
# ledger = "postgres://tdrecon@db.internal/tdrecon"   # a team's shared ledger (password: PGPASSWORD or ~/.pgpass)

# Their header = tdrecon's column (as --map). A header the file lacks is
# ignored; a value map must name a header the file has.
# [map]
# "Buyer Revenue" = "revenue"
# "Chargeback" = "add_revenue"
# "Sold" = "buyer_converted"

# What a column's values stand for (as --value-map): here the report's "Sold"
# column says Y or N; a value not listed is refused, naming the column.
# [value_map.Sold]
# "Y" = "yes"
# "N" = "no"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<Key> {
        let key = |name: &str, takes_value, repeatable| Key {
            name: name.into(),
            flag: format!("--{}", name.replace('_', "-")),
            takes_value,
            repeatable,
        };
        vec![
            key("map", true, true),
            key("value_map", true, true),
            key("ignore_column", true, true),
            key("delimiter", true, false),
            key("rate", true, false),
            key("concurrency", true, false),
            key("max_failures", true, false),
            key("reconcile", false, false),
        ]
    }

    fn args(text: &str) -> Vec<String> {
        Profile::parse(text, "p.toml", &keys()).unwrap().args().map(String::from).collect()
    }

    #[test]
    fn a_profile_is_more_arguments() {
        let got = args(
            "delimiter = \";\"\nrate = \"auto\"\nconcurrency = 4\nmax_failures = 20\nreconcile = true\n\
             ignore_column = [\"A\", \"B\"]\n[map]\n\"Buyer Revenue\" = \"revenue\"\n",
        );
        let want = [
            "--concurrency",
            "4",
            "--delimiter",
            ";",
            "--ignore-column",
            "A",
            "--ignore-column",
            "B",
            "--map",
            "Buyer Revenue=revenue",
            "--max-failures",
            "20",
            "--rate",
            "auto",
            "--reconcile",
        ];
        assert_eq!(got, want);
        assert!(args("reconcile = false\n").is_empty());
    }

    #[test]
    fn the_example_is_a_valid_profile_as_printed_and_uncommented() {
        assert!(args(EXAMPLE).is_empty(), "as printed, it sets nothing");
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| l.strip_prefix("# ").filter(|rest| rest.starts_with(['[', '"'])).unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        let got = args(&uncommented);
        assert_eq!(got.iter().filter(|a| *a == "--map").count(), 3, "{got:?}");
        assert_eq!(got.iter().filter(|a| *a == "--value-map").count(), 2, "{got:?}");
    }

    #[test]
    fn a_value_map_is_one_flag_per_value() {
        let got = args("[value_map.\"Status\"]\nConverted = \"yes\"\n\"Not Converted\" = \"no\"\nReturned = \"no\"\n");
        let want = [
            "--value-map",
            "Status:Converted=yes",
            "--value-map",
            "Status:Not Converted=no",
            "--value-map",
            "Status:Returned=no",
        ];
        assert_eq!(got, want);
        let got =
            args("[value_map.Status]\nReturned = { buyer_converted = \"no\", call_disposition = \"Returned\" }\n");
        assert_eq!(got, ["--value-map", "Status:Returned=buyer_converted=no;call_disposition=Returned"]);
    }

    #[test]
    fn errors_name_the_key_and_its_line() {
        let err = |text: &str| Profile::parse(text, "p.toml", &keys()).unwrap_err().to_string();
        let e = err("\nrat = 5\n");
        assert!(e.contains("line 2: unknown key `rat` (did you mean `rate`?)"), "{e}");
        assert!(err("concurency = 5\n").contains("did you mean `concurrency`?"));
        for key in ["private_key", "TRACKDRIVE_PRIVATE_KEY", "api_key", "password"] {
            let e = err(&format!("{key} = \"x\"\n"));
            assert!(e.contains("Keys never go in a profile") && !e.contains("\"x\""), "{key}: {e}");
        }
        let e = err("delimiter = \";\"\nrate = [1]\n");
        assert!(e.contains("line 2: `rate`: expected a string or a number, found array"), "{e}");
        let e = err("reconcile = \"yes\"\n");
        assert!(e.contains("`reconcile`: expected true or false"), "{e}");
        let e = err("rate = \n");
        assert!(e.contains("p.toml") && e.contains("line 1"), "{e}");
        let e = err("[map]\nx = 1\n");
        assert!(e.contains("`x` must map to a column name"), "{e}");
    }
}
