//! `--summary-json`: where it goes (a file, or `-` for standard output, with
//! the text summary then on standard error), what every summary carries
//! (version, start and finish times, the input's SHA-256), and the summary of
//! a command that ended in an error (exit 2 or 3 before a summary existed).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::exit::Fatal;

/// Where a command's summaries go.
#[derive(Debug, Clone, Default)]
pub struct SummaryOut {
    /// `--summary-json PATH`, or `-` for standard output.
    pub json: Option<PathBuf>,
    /// Files the command reads besides its input (its profile, the
    /// simulator's calls): a failure's summary is never written over one.
    pub also_read: Vec<PathBuf>,
    /// `--notify`: where word goes when the command ends.
    pub notify: Vec<String>,
}

impl SummaryOut {
    /// The JSON goes to standard output: the text summary must not.
    pub fn json_on_stdout(&self) -> bool {
        self.json.as_deref() == Some(Path::new("-"))
    }

    /// Prints the text summary: to stdout, or to stderr when stdout is the JSON's.
    pub fn text(&self, text: &str) {
        if self.json_on_stdout() {
            crate::console::err(text);
        } else {
            crate::console::out(text);
        }
    }

    /// Writes `value` where `--summary-json` says, if it says.
    pub fn write(&self, value: &Value) -> std::io::Result<()> {
        let Some(path) = &self.json else { return Ok(()) };
        let mut bytes = serde_json::to_vec_pretty(value).expect("a summary is plain JSON");
        bytes.push(b'\n');
        if self.json_on_stdout() { crate::console::out_bytes(&bytes) } else { crate::files::write_whole(path, &bytes) }
    }

    /// The summary of a command that ended with `fatal` before it had one,
    /// written and sent where `--summary-json` and `--notify` say.
    pub fn write_failure(&self, command: &str, input: &Path, started_at: &str, fatal: &Fatal) {
        let value = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "command": command,
            "started_at": started_at,
            "finished_at": now(),
            "input": input.display().to_string(),
            "input_sha256": input_sha256(input),
            "exit_code": fatal.exit as i32,
            "error": format!("{:#}", fatal.error),
        });
        let name = input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
        let line =
            crate::reports::notify::failure_line(command, &name, &format!("{:#}", fatal.error), fatal.exit as i32);
        crate::reports::notify::send(&self.notify, &crate::reports::notify::body(&value, &line));
        let Some(path) = &self.json else { return };
        // The failure may be that this path is the input (or a link, or a
        // folder): then the error alone is said, and nothing is written.
        let read: Vec<&Path> = std::iter::once(input).chain(self.also_read.iter().map(PathBuf::as_path)).collect();
        if path.as_os_str() != "-" && crate::files::paths::check(&read, &[("--summary-json", path)]).is_err() {
            return;
        }
        if let Err(e) = self.write(&value) {
            crate::console::warn(&format!("cannot write the summary JSON: {e}"));
        }
    }
}

/// Now, as RFC 3339 to the second.
pub fn now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// The input's SHA-256, when it can be read (it is the journal's binding
/// too, so the two can be matched).
pub fn input_sha256(input: &Path) -> Option<String> {
    crate::input::source::sha256_of(input)
}
