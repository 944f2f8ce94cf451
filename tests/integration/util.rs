//! A working directory named after its test, and a way to run the real
//! binary in it. A failing check prints the command, its directory, status
//! and output, and the directory stays (as xsv's and ripgrep's do), so the
//! path it prints can be looked at; a passing test's directory is removed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Workdir {
    dir: PathBuf,
}

/// Tells apart the directories of one test.
static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Workdir {
    /// `target/tmp/<module>-<test>-<pid>-<n>`, empty: the test's name comes
    /// from its thread, which the test harness names after it.
    pub fn new() -> Workdir {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("test").replace("::", "-");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // The process's id too: a later run never clears a failed run's directory.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test's directory");
        Workdir { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("write a test file");
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// `tdrecon ARGS` in this directory, with no TrackDrive keys in its environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tdrecon"));
        cmd.args(args)
            .current_dir(&self.dir)
            .env_remove("TRACKDRIVE_PUBLIC_KEY")
            .env_remove("TRACKDRIVE_PRIVATE_KEY")
            // Input locks and the remembered rate stay in the test's directory, not the user's.
            .env("TDRECON_LOCK_DIR", self.dir.join("locks"))
            .env("TDRECON_STATE_DIR", self.dir.join("state"))
            .env_remove("TDRECON_LEDGER")
            .env_remove("PGPASSWORD");
        // A test run against the other backend (`pg::on_postgres`).
        crate::pg::LEDGER.with(|l| {
            if let Some((url, password)) = &*l.borrow() {
                cmd.env("TDRECON_LEDGER", url).env("PGPASSWORD", password);
            }
        });
        cmd
    }

    /// Runs the command and checks its exit code, printing everything on a mismatch.
    pub fn run(&self, cmd: &mut Command, want_code: i32) -> Output {
        self.run_any(cmd, &[want_code])
    }

    /// Runs the command and checks it exits with one of `codes`.
    pub fn run_any(&self, cmd: &mut Command, codes: &[i32]) -> Output {
        let out = cmd.output().expect("start tdrecon");
        if !out.status.code().is_some_and(|c| codes.contains(&c)) {
            panic!("{}", describe(cmd, &self.dir, &out, &format!("expected exit {codes:?}")));
        }
        out
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        // A failing test keeps its directory: the message printed its path.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts `cmd` with its output captured (read it with `wait_with_output`).
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start tdrecon")
}

/// Starts `cmd` with its output dropped: for a run that will be killed.
pub fn spawn_quiet(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start tdrecon")
}

/// Waits until `done` holds, checking every 10 ms, for at most 20 s.
pub fn wait_for(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (`-INT`, `-HUP`, `-TERM`) to a child.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("run kill");
    assert!(status.success(), "kill {signal} failed");
}

pub fn describe(cmd: &Command, dir: &Path, out: &Output, what: &str) -> String {
    format!(
        "{what}\ncommand: {cmd:?}\ndir: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A summary line as `tdrecon` prints it: the label, then the figure aligned.
pub fn summary_line(label: &str, figure: u64) -> String {
    format!("{label:<40}{figure:>8}")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd` with its standard streams on a pseudo-terminal (Python's
/// `pty`, 100 columns), as an operator's shell would: its exit code and
/// everything it drew, escape sequences and all.
pub fn on_a_terminal(cmd: &Command) -> (Option<i32>, String) {
    const PTY: &str = r#"
import os, pty, struct, sys, fcntl, termios
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
out = bytearray()
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(out))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut py = Command::new("python3");
    py.arg("-c").arg(PTY).arg(cmd.get_program()).args(cmd.get_args()).env("TERM", "xterm-256color");
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => py.env(key, v),
            None => py.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        py.current_dir(dir);
    }
    let out = py.output().expect("run python3's pty");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}
