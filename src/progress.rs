//! The progress bar on stderr: rows done, rate, ETA and counts by status.
//! Drawn only when stderr is a terminal and `--quiet` is off; the consumer
//! that writes results is the only caller, so workers never touch the UI.

use std::io::{IsTerminal, Read};
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(quiet: bool, input: &Path) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: ProgressBar::hidden() };
        }
        let bar = ProgressBar::with_draw_target(estimate_rows(input), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} rows  {rate}  ETA {eta}  {msg}",
        )
        .expect("the template is valid")
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1} rows/s", state.per_sec());
        })
        .progress_chars("=> ");
        bar.set_style(style);
        Progress { bar }
    }

    /// `done` rows accounted for so far, and the status counts to show.
    pub fn update(&self, done: u64, counts: &str) {
        self.bar.set_position(done);
        self.bar.set_message(counts.to_string());
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Lines in the file minus the header: the bar's length. An estimate (a
/// quoted field may span lines), read fast and only for a visible bar.
fn estimate_rows(path: &Path) -> Option<u64> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
    Some(lines.saturating_sub(1).max(1))
}
