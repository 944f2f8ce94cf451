//! A team's ledger on PostgreSQL (`--ledger postgres://…`): the same
//! ledger as SQLite's, in one database that every machine of a team (and
//! every account of an agency) shares, so two machines sending one report
//! at the same moment cannot both pass the check.
//!
//! Which update goes out first is decided by a transaction-scoped advisory
//! lock per account and call (`pg_advisory_xact_lock`), taken before the
//! check reads: a second transaction wanting the same call waits for the
//! first to commit its intent, and its check (READ COMMITTED: each
//! statement sees what committed before it) then finds that intent. Not a
//! unique constraint (a repeat is "the same add within the window by
//! another run", no key says it), and not SERIALIZABLE (its conflicts are
//! per page, not per call, and each would have to be retried); the lock
//! blocks only the runs sending to the same call, for the time of one
//! commit.
//!
//! The connection: TLS (rustls, with the system's roots, as reqwest) for
//! any host but loopback and a local socket; the password only from
//! `PGPASSWORD` or a password file (`pgpass`), never from the URL.

mod pgpass;
pub(super) mod store;

use std::time::Duration;

use postgres::config::Host;

/// How long connecting may take before the ledger is said unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A shared ledger's address, its password looked up, never shown.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    /// `postgres://user@host:port/dbname`: what messages name.
    shown: String,
    tls: bool,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl PgTarget {
    /// Reads a `postgres://` (or `postgresql://`) URL. A URL holding a
    /// password is refused without being repeated.
    pub fn parse(url: &str) -> Result<PgTarget, String> {
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(
                "--ledger takes a postgres:// URL (without it, each machine keeps its own SQLite ledger)".into()
            );
        }
        let mut config: postgres::Config = url.parse().map_err(|e| format!("--ledger: not a PostgreSQL URL ({e})"))?;
        if config.get_password().is_some() {
            return Err("--ledger: the URL holds a password; give it in PGPASSWORD or a password file \
                        (~/.pgpass, mode 600), never in the URL (it would show in ps and logs)"
                .into());
        }
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "postgres".into());
            config.user(&user);
        }
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => {
                config.host("localhost");
                "localhost".into()
            }
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or_default().to_string();
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        let local = config.get_hosts().iter().all(|h| match h {
            Host::Unix(_) => true,
            Host::Tcp(h) => is_loopback(h),
        });
        let wanted = pgpass::Wanted { host: &host, port, dbname: &dbname, user: &user };
        if let Some(password) = pgpass::password(&wanted)? {
            config.password(password);
        }
        config.connect_timeout(CONNECT_TIMEOUT).application_name("tdrecon").keepalives(true);
        let shown = format!("postgres://{user}@{host}:{port}/{dbname}");
        Ok(PgTarget { config, shown, tls: !local })
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// A connection, on TLS unless the server is on this machine. Blocking:
    /// call it from a thread of its own, never from the async runtime.
    pub(super) fn connect(&self) -> Result<postgres::Client, String> {
        let cannot = |e: &dyn std::fmt::Display| format!("cannot reach the ledger {}: {e}", self.shown);
        if !self.tls {
            return self.config.connect(postgres::NoTls).map_err(|e| cannot(&words(&e)));
        }
        use rustls_platform_verifier::ConfigVerifierExt;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = rustls::ClientConfig::with_platform_verifier().map_err(|e| cannot(&e))?;
        let mut config = self.config.clone();
        config.ssl_mode(postgres::config::SslMode::Require);
        config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls)).map_err(|e| cannot(&words(&e)))
    }
}

/// The writer's connection: the schema brought up to date and the run
/// named. On the writer's own thread.
pub(super) fn open_store(target: &PgTarget, run: &super::RunInfo) -> Result<store::PgStore, String> {
    let mut client = target.connect()?;
    store::migrate(&mut client).map_err(|e| format!("{}: {e}", target.shown()))?;
    store::register(&mut client, run).map_err(|e| format!("{}: {}", target.shown(), words(&e)))?;
    Ok(store::PgStore { client, account: run.account.clone() })
}

/// A database error in words: the server's message (postgres::Error says
/// only "db error"), or the connection's, with its cause.
pub(super) fn words(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Loopback, by name or address: the ledger's traffic stays on the machine.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_read_and_shown_without_secrets() {
        let t = PgTarget::parse("postgres://ops@127.0.0.1:5433/ledger").unwrap();
        assert_eq!((t.shown(), t.tls), ("postgres://ops@127.0.0.1:5433/ledger", false));
        let t = PgTarget::parse("postgresql://ops@db.internal/ledger").unwrap();
        assert_eq!((t.shown(), t.tls), ("postgres://ops@db.internal:5432/ledger", true));
        let t = PgTarget::parse("postgres://ops@%2Fvar%2Frun%2Fpostgresql/ledger").unwrap();
        assert!(!t.tls, "a local socket");
        let e = PgTarget::parse("postgres://ops:hunter2@db.internal/ledger").unwrap_err();
        assert!(e.contains("PGPASSWORD") && !e.contains("hunter2"), "{e}");
        assert!(PgTarget::parse("mysql://x").unwrap_err().contains("postgres://"));
        assert!(format!("{t:?}").starts_with("postgres://ops@"));
        for (host, loopback) in [("localhost", true), ("127.0.0.9", true), ("[::1]", true), ("db", false)] {
            assert_eq!(is_loopback(host), loopback, "{host}");
        }
    }
}
