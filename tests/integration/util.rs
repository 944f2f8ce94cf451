//! A throw-away working directory and a way to run the real binary in it.
//! A failing check prints the command, its directory, status and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("create a temporary directory") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
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
            .current_dir(self.dir.path())
            .env_remove("TRACKDRIVE_PUBLIC_KEY")
            .env_remove("TRACKDRIVE_PRIVATE_KEY")
            // Input locks and the remembered rate stay in the test's directory, not the user's.
            .env("TDRECON_LOCK_DIR", self.dir.path().join("locks"))
            .env("TDRECON_STATE_DIR", self.dir.path().join("state"));
        cmd
    }

    /// Runs the command and checks its exit code, printing everything on a mismatch.
    pub fn run(&self, cmd: &mut Command, want_code: i32) -> Output {
        let out = cmd.output().expect("start tdrecon");
        if out.status.code() != Some(want_code) {
            panic!("{}", describe(cmd, self.dir.path(), &out, &format!("expected exit {want_code}")));
        }
        out
    }
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
