//! The password of a shared ledger, from where libpq's users keep it: the
//! `PGPASSWORD` environment variable, or a password file (`PGPASSFILE`,
//! else `~/.pgpass`) that only its owner may read, as libpq requires. Never
//! from a URL or the command line.

use std::path::{Path, PathBuf};

/// What a connection is for, as a `.pgpass` line matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted<'a> {
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// The password for `wanted`: `PGPASSWORD`, else the password file's first
/// matching line. `Err` names a password file others may read (libpq
/// ignores such a file; tdrecon refuses to guess it was meant).
pub fn password(wanted: &Wanted<'_>) -> Result<Option<String>, String> {
    if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
        return Ok(Some(p.to_string_lossy().into_owned()));
    }
    let Some(file) = password_file() else { return Ok(None) };
    let Ok(meta) = std::fs::metadata(&file) else { return Ok(None) };
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "the password file {} may be read by others: chmod 600 it (libpq ignores it too)",
            file.display()
        ));
    }
    let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(matching(&text, wanted))
}

fn password_file() -> Option<PathBuf> {
    if let Some(f) = std::env::var_os("PGPASSFILE").filter(|f| !f.is_empty()) {
        return Some(PathBuf::from(f));
    }
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".pgpass"))
}

/// The first line of a `.pgpass` text (`host:port:database:user:password`,
/// `*` for any, `\:` and `\\` escaped) that matches `wanted`.
fn matching(text: &str, wanted: &Wanted<'_>) -> Option<String> {
    let port = wanted.port.to_string();
    text.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).find_map(|line| {
        let fields = split(line);
        let [host, p, db, user, password] = <[String; 5]>::try_from(fields).ok()?;
        let fits = |field: &str, value: &str| field == "*" || field == value;
        (fits(&host, wanted.host) && fits(&p, &port) && fits(&db, wanted.dbname) && fits(&user, wanted.user))
            .then_some(password)
    })
}

/// A line's fields: split at unescaped colons, escapes removed.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_line_gives_the_password() {
        let text = "# team ledger\n\
                    db.internal:5432:ledger:ops:s3cret\n\
                    *:*:ledger:ops:any:colon\n\
                    127.0.0.1:5433:*:*:pa\\:ss\\\\word\n";
        let want = |host, port, dbname, user| Wanted { host, port, dbname, user };
        let table = [
            (want("db.internal", 5432, "ledger", "ops"), Some("s3cret")),
            (want("db.other", 5432, "ledger", "ops"), Some("any:colon")),
            (want("127.0.0.1", 5433, "x", "y"), Some("pa:ss\\word")),
            (want("127.0.0.1", 5432, "x", "y"), None),
        ];
        for (wanted, password) in table {
            assert_eq!(matching(text, &wanted).as_deref(), password, "{wanted:?}");
        }
    }
}
