//! TrackDrive API keys: from the environment or a file only its owner can
//! read, never from a command-line argument (argv is visible to every user
//! on the machine). The private key is redacted from `Debug` output.

use std::fmt;
use std::path::Path;

pub const PUBLIC_VAR: &str = "TRACKDRIVE_PUBLIC_KEY";
pub const PRIVATE_VAR: &str = "TRACKDRIVE_PRIVATE_KEY";

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub public: String,
    private: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("public", &"<redacted>").field("private", &"<redacted>").finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CredentialsError {
    #[error("{PUBLIC_VAR} is set but {PRIVATE_VAR} is not (or the other way round): set both")]
    HalfSet,
    #[error("no API keys: set {PUBLIC_VAR} and {PRIVATE_VAR}, or pass --credentials FILE")]
    Missing,
    #[error("cannot read credentials file {0}: {1}")]
    Unreadable(String, String),
    #[error(
        "credentials file {0} can be read by other users (mode {1:o}); run `chmod 600 {0}` and rotate the keys if others could see them"
    )]
    TooOpen(String, u32),
    #[error("credentials file {0} must set {PUBLIC_VAR}=… and {PRIVATE_VAR}=… on their own lines")]
    Malformed(String),
}

impl Credentials {
    pub fn new(public: impl Into<String>, private: impl Into<String>) -> Credentials {
        Credentials { public: public.into(), private: private.into() }
    }

    pub fn private(&self) -> &str {
        &self.private
    }

    /// The keys from `file` when given, else from the environment.
    pub fn load(file: Option<&Path>) -> Result<Credentials, CredentialsError> {
        match file {
            Some(path) => Credentials::from_file(path),
            None => Credentials::from_env().unwrap_or(Err(CredentialsError::Missing)),
        }
    }

    /// Both variables set: `Some(Ok)`; neither: `None`; one: an error.
    pub fn from_env() -> Option<Result<Credentials, CredentialsError>> {
        let get = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match (get(PUBLIC_VAR), get(PRIVATE_VAR)) {
            (Some(public), Some(private)) => Some(Ok(Credentials::new(public.trim(), private.trim()))),
            (None, None) => None,
            _ => Some(Err(CredentialsError::HalfSet)),
        }
    }

    /// Reads `KEY=VALUE` lines naming both variables. Refused when group or
    /// others may read the file.
    pub fn from_file(path: &Path) -> Result<Credentials, CredentialsError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| CredentialsError::Unreadable(shown.clone(), e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CredentialsError::TooOpen(shown, mode));
            }
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| CredentialsError::Unreadable(shown.clone(), e.to_string()))?;
        Credentials::parse(&text).ok_or(CredentialsError::Malformed(shown))
    }

    fn parse(text: &str) -> Option<Credentials> {
        let mut public = None;
        let mut private = None;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
            match key.trim() {
                PUBLIC_VAR => public = Some(value),
                PRIVATE_VAR => private = Some(value),
                _ => {}
            }
        }
        match (public, private) {
            (Some(p), Some(k)) if !p.is_empty() && !k.is_empty() => Some(Credentials::new(p, k)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_keys() {
        let c = Credentials::new("pub-123", "secret-456");
        let shown = format!("{c:?}");
        assert!(!shown.contains("pub-123") && !shown.contains("secret-456"), "{shown}");
    }

    #[test]
    fn file_format() {
        let c =
            Credentials::parse("# keys\nexport TRACKDRIVE_PUBLIC_KEY=\"abc\"\nTRACKDRIVE_PRIVATE_KEY = def\n").unwrap();
        assert_eq!((c.public.as_str(), c.private()), ("abc", "def"));
        assert!(Credentials::parse("TRACKDRIVE_PUBLIC_KEY=abc\n").is_none());
        assert!(Credentials::parse("garbage").is_none());
    }

    #[cfg(unix)]
    #[test]
    fn open_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "TRACKDRIVE_PUBLIC_KEY=a\nTRACKDRIVE_PRIVATE_KEY=b\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Credentials::from_file(&path).unwrap_err();
        assert!(matches!(err, CredentialsError::TooOpen(_, 0o644)), "{err}");
        assert!(!err.to_string().contains('b'.to_string().repeat(2).as_str()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Credentials::from_file(&path).unwrap(), Credentials::new("a", "b"));
    }
}
