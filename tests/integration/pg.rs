//! A real PostgreSQL for the team ledger's tests, from Debian's packages
//! through `.ci/postgres`: the server `.ci/run` started (its directory in
//! `TDRECON_TEST_POSTGRES_DIR`), else one this test process starts on first
//! use and a watcher stops when the process ends. Each test gets a database
//! of its own. A test that stops the server mid-run starts a private one
//! (`Server::private`), stopped when it is dropped.
//!
//! Without PostgreSQL on the machine the tests say so and pass, unless
//! `TDRECON_REQUIRE_POSTGRES` is set (as `.ci/run` sets it): then they fail.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres");

/// A server on loopback: where it lives, its port and the password of its
/// user `tdrecon`.
pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    pub password: String,
    /// Stopped (immediately) and removed when dropped.
    private: bool,
}

impl Server {
    fn start(dir: &Path) -> Result<Server, String> {
        let port = free_port();
        let out = Command::new("bash")
            .args([SCRIPT, "start", &dir.display().to_string(), &port.to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Server::at(dir, port)
    }

    fn at(dir: &Path, port: u16) -> Result<Server, String> {
        let password = std::fs::read_to_string(dir.join("password")).map_err(|e| e.to_string())?;
        Ok(Server { dir: dir.to_path_buf(), port, password: password.trim().to_string(), private: false })
    }

    /// A server of the test's own (to stop and start as it likes).
    pub fn private() -> Option<Server> {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-private-{}-{}", std::process::id(), next()));
        let _ = std::fs::remove_dir_all(&dir);
        match Server::start(&dir) {
            Ok(mut s) => {
                s.private = true;
                Some(s)
            }
            Err(e) => unavailable(&e),
        }
    }

    /// `postgres://tdrecon@127.0.0.1:PORT/DBNAME`: no password in it.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://tdrecon@127.0.0.1:{}/{dbname}", self.port)
    }

    /// A connection as the test's own client (not through tdrecon).
    pub fn client(&self, dbname: &str) -> postgres::Client {
        let mut config = postgres::Config::new();
        config.host("127.0.0.1").port(self.port).user("tdrecon").password(&self.password).dbname(dbname);
        config.connect(postgres::NoTls).expect("connect to the test server")
    }

    /// A new, empty database.
    pub fn database(&self) -> String {
        let name = format!("t{}_{}", std::process::id(), next());
        self.client("postgres").batch_execute(&format!("CREATE DATABASE {name}")).expect("create a database");
        name
    }

    pub fn stop(&self, mode: &str) {
        let status = Command::new("bash").args([SCRIPT, "stop", &self.dir.display().to_string(), mode]).status();
        assert!(status.is_ok_and(|s| s.success()), "stop the server");
    }

    pub fn restart(&self) {
        let status = Command::new("bash").args([SCRIPT, "restart", &self.dir.display().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "start the server again");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.private {
            let _ = Command::new("bash").args([SCRIPT, "stop", &self.dir.display().to_string(), "immediate"]).output();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn next() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// No server could be had: fails under `TDRECON_REQUIRE_POSTGRES`, else
/// the test says it skipped.
fn unavailable<T>(why: &str) -> Option<T> {
    assert!(std::env::var_os("TDRECON_REQUIRE_POSTGRES").is_none(), "TDRECON_REQUIRE_POSTGRES is set: {why}");
    eprintln!("SKIPPED: no PostgreSQL on this machine (apt-get install postgresql-15): {why}");
    None
}

/// The process's shared server: `.ci/run`'s, else one started now and
/// stopped by a watcher when this process ends.
pub fn shared() -> Option<&'static Server> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    let got = SERVER.get_or_init(|| {
        if let Some(dir) = std::env::var_os("TDRECON_TEST_POSTGRES_DIR") {
            let dir = PathBuf::from(dir);
            let port = std::fs::read_to_string(dir.join("port")).map_err(|e| e.to_string())?;
            return Server::at(&dir, port.trim().parse().map_err(|_| "a port".to_string())?);
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-shared-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = Server::start(&dir)?;
        // Stopped when the tests end, whichever way they end.
        let watch = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; bash {SCRIPT} stop {dir} immediate; rm -rf {dir}",
            pid = std::process::id(),
            dir = dir.display()
        );
        Command::new("setsid").args(["bash", "-c", &watch]).spawn().map_err(|e| e.to_string())?;
        Ok(server)
    });
    match got {
        Ok(server) => Some(server),
        Err(e) => unavailable(e),
    }
}

thread_local! {
    /// The shared ledger this test's commands are given (`TDRECON_LEDGER`
    /// and `PGPASSWORD` in their environment): see `Workdir::command`.
    pub static LEDGER: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Runs `test` with every `tdrecon` it starts keeping its ledger in a new
/// database of the shared server: the same test, against the other backend.
pub fn on_postgres(test: fn()) {
    let Some(server) = shared() else { return };
    let db = server.database();
    LEDGER.with(|l| *l.borrow_mut() = Some((server.url(&db), server.password.clone())));
    test();
    LEDGER.with(|l| *l.borrow_mut() = None);
    let runs: i64 = server.client(&db).query_one("SELECT count(*) FROM tdrecon_runs", &[]).expect("its tables").get(0);
    assert!(runs > 0, "the test's runs kept their ledger in the shared database");
}
