//! The progress bar on stderr: rows done, rate, ETA and counts by status.
//! Drawn only when stderr is a terminal and `--quiet` is off; the consumer
//! that writes results is the only caller, so workers never touch the UI.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    /// When the counts were last set: they are text, built at most this
    /// often rather than for every row.
    counts_set: Option<Instant>,
}

/// How often the counts shown are refreshed (indicatif draws at 20 Hz).
const COUNTS_EVERY: Duration = Duration::from_millis(50);

impl Progress {
    /// A bar for an input of `lines` lines (an estimate of its rows: a
    /// quoted field may span lines), `already_done` of them finished by an
    /// earlier run (`--resume`).
    pub fn new(quiet: bool, lines: Option<u64>, already_done: u64) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: ProgressBar::hidden(), counts_set: None };
        }
        // Rows an earlier run finished count as done, but not in the rate.
        let rows = lines.map(|l| l.saturating_sub(1).max(1));
        let bar = ProgressBar::with_draw_target(rows, ProgressDrawTarget::stderr()).with_position(already_done);
        // Two lines, each within 80 columns: progress, then the counts.
        let style = ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:24}] {pos}/{len} rows  {rate}  ETA {eta}\n  {wide_msg}",
        )
        .expect("the template is valid")
        .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1} rows/s", state.per_sec());
        })
        .progress_chars("=> ");
        bar.set_style(style);
        Progress { bar, counts_set: None }
    }

    /// `done` rows accounted for so far, and the status counts to show
    /// (only called when they are due: nothing at all when the bar is hidden).
    pub fn update(&mut self, done: u64, counts: impl FnOnce() -> String) {
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(done);
        if self.counts_set.is_none_or(|at| at.elapsed() >= COUNTS_EVERY) {
            self.bar.set_message(counts());
            self.counts_set = Some(Instant::now());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
