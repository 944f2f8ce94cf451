//! Saved profiles (`--config FILE`, TOML): what a buyer report that arrives
//! in the same shape every night needs, so the night's command is short.
//! Flags given on the command line win over the file. A key the file does
//! not know is an error naming the nearest known key, and API keys can never
//! be put in it (a profile is meant to be shared and committed).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Every key a profile may hold, for the error that names the nearest.
const KEYS: &[&str] = &[
    "map",
    "ignore_column",
    "delimiter",
    "sheet",
    "time_zone",
    "subdomain",
    "base_url",
    "rate",
    "max_rate",
    "concurrency",
    "timeout",
    "max_failures",
    "method",
];

/// What a profile holds; every part optional.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Their header → tdrecon's column, as `--map`.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    #[serde(default)]
    pub ignore_column: Vec<String>,
    pub delimiter: Option<String>,
    pub sheet: Option<String>,
    /// An IANA time zone for call times written without an offset.
    pub time_zone: Option<String>,
    pub subdomain: Option<String>,
    pub base_url: Option<String>,
    /// A number, or `"auto"`.
    pub rate: Option<Scalar>,
    pub max_rate: Option<u32>,
    pub concurrency: Option<u16>,
    /// A duration, as `--timeout` takes it (`"30s"`).
    pub timeout: Option<String>,
    /// A count or a percentage, as `--max-failures` takes it.
    pub max_failures: Option<Scalar>,
    /// `put`, `post` or `patch`.
    pub method: Option<String>,
}

/// A value written as a number or as text (`rate = 50`, `rate = "auto"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Number(i64),
    Text(String),
}

impl Scalar {
    pub fn text(&self) -> String {
        match self {
            Scalar::Number(n) => n.to_string(),
            Scalar::Text(t) => t.clone(),
        }
    }
}

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read the profile {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("the profile {path}: {error}")]
    Toml { path: String, error: String },
    #[error("the profile {path}: unknown key `{key}`{hint}")]
    Unknown { path: String, key: String, hint: String },
    #[error(
        "the profile {path}: `{key}` looks like an API key. Keys never go in a profile (it is meant to be \
         shared): set TRACKDRIVE_PUBLIC_KEY / TRACKDRIVE_PRIVATE_KEY, or use --credentials FILE"
    )]
    Secret { path: String, key: String },
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ProfileError::Io { path: shown.clone(), error })?;
        Profile::parse(&text, &shown)
    }

    pub fn parse(text: &str, shown: &str) -> Result<Profile, ProfileError> {
        let toml_err =
            |e: toml::de::Error| ProfileError::Toml { path: shown.to_string(), error: e.message().to_string() };
        let table: toml::Table = text.parse().map_err(toml_err)?;
        for key in table.keys() {
            let normal = crate::input::columns::normalise(key);
            if ["key", "secret", "password", "private", "credential"].iter().any(|w| normal.contains(w)) {
                return Err(ProfileError::Secret { path: shown.to_string(), key: key.clone() });
            }
            if !KEYS.contains(&key.as_str()) {
                let nearest = KEYS.iter().min_by_key(|k| crate::input::columns::edit_distance(&normal, k));
                let hint = nearest.map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
                return Err(ProfileError::Unknown { path: shown.to_string(), key: key.clone(), hint });
            }
        }
        table.try_into().map_err(toml_err)
    }
}

/// `tdrecon template --config`: a commented profile to start from.
pub const EXAMPLE: &str = r#"# tdrecon profile: what a buyer report that arrives in the same shape every
# night needs. Use it with: tdrecon run tonight.xlsx --config acme.toml
# Flags given on the command line win over this file. API keys never go here:
# set TRACKDRIVE_PUBLIC_KEY / TRACKDRIVE_PRIVATE_KEY, or use --credentials FILE.

# Their header = tdrecon's column (as --map).
[map]
"Buyer Revenue" = "revenue"
"Chargeback" = "add_revenue"
"Sold" = "buyer_converted"

# Everything below is optional.
# ignore_column = ["Internal Notes"]   # as --ignore-column
# delimiter = ";"                      # as --delimiter (.tsv files default to tabs)
# sheet = "Calls"                      # a spreadsheet's sheet (default: the first)
# time_zone = "America/New_York"       # for call times written without an offset

# Where and how fast to send (as the flags of the same names).
# subdomain = "acme"                   # or base_url = "https://acme.trackdrive.com"
# rate = "auto"                        # or a number of requests a second
# max_rate = 100
# concurrency = 8
# timeout = "30s"
# max_failures = "5%"
# method = "put"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_profile_reads() {
        let p = Profile::parse(
            "delimiter = \";\"\nrate = \"auto\"\nconcurrency = 4\nmax_failures = 20\n[map]\n\"Buyer Revenue\" = \"revenue\"\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.delimiter.as_deref(), Some(";"));
        assert_eq!(p.rate, Some(Scalar::Text("auto".into())));
        assert_eq!(p.max_failures.map(|m| m.text()), Some("20".into()));
        assert_eq!(p.map["Buyer Revenue"], "revenue");
    }

    #[test]
    fn the_example_is_a_valid_profile() {
        let p = Profile::parse(EXAMPLE, "example").unwrap();
        assert_eq!(p.map.len(), 3);
    }

    #[test]
    fn unknown_keys_and_secrets_are_refused() {
        let err = Profile::parse("rat = 5\n", "p.toml").unwrap_err().to_string();
        assert!(err.contains("unknown key `rat` (did you mean `rate`?)"), "{err}");
        let err = Profile::parse("concurency = 5\n", "p.toml").unwrap_err().to_string();
        assert!(err.contains("did you mean `concurrency`?"), "{err}");
        for key in ["private_key", "TRACKDRIVE_PRIVATE_KEY", "api_key", "password"] {
            let err = Profile::parse(&format!("{key} = \"x\"\n"), "p.toml").unwrap_err().to_string();
            assert!(err.contains("Keys never go in a profile") && !err.contains("\"x\""), "{key}: {err}");
        }
        let err = Profile::parse("rate = [1]\n", "p.toml").unwrap_err().to_string();
        assert!(err.contains("p.toml"), "{err}");
    }
}
