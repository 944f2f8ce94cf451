//! The progress bar on stderr: rows done of the file's records, the rate
//! achieved, an ETA from it, and counts by status. Drawn only when stderr
//! is a terminal and `--quiet` is off; the consumer that writes results is
//! the only caller, so workers never touch the UI.
//!
//! The rate is rows the uploader finished per second over the last
//! `RATE_SPAN` (or since the start, if sooner), counted by the bar itself:
//! indicatif's estimate, over every row done, read thousands a second at the
//! start (invalid rows, rows an earlier run finished) while requests went
//! out at 400.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    /// When the counts were last set: they are text, built at most this
    /// often rather than for every row.
    counts_set: Option<Instant>,
    rate: Rate,
    total: Option<u64>,
}

/// How often the counts and the rate shown are refreshed (indicatif draws
/// at 20 Hz).
const COUNTS_EVERY: Duration = Duration::from_millis(50);

impl Progress {
    /// A bar for an input of `records` records, its header included,
    /// `already_done` rows finished by an earlier run (`--resume`).
    pub fn new(quiet: bool, records: Option<u64>, already_done: u64) -> Progress {
        let total = records.map(|r| r.saturating_sub(1).max(1));
        let rate = Rate::new(Instant::now(), 0);
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: ProgressBar::hidden(), counts_set: None, rate, total };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_position(already_done);
        // Two lines, each within 80 columns at a million rows: progress
        // (`⠂ 00:00:03 [===>] 999999/1000000 rows  9999.9 rows/s  ETA 0:00:01`),
        // then the counts.
        let style = ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:18}] {pos}/{len} rows  {prefix}\n  {wide_msg}",
        )
        .expect("the template is valid")
        .progress_chars("=> ");
        bar.set_style(style);
        Progress { bar, counts_set: None, rate, total }
    }

    /// `done` rows accounted for so far (`paced` of them by the uploader,
    /// the rest invalid or finished by an earlier run), and the status
    /// counts to show (only called when they are due: nothing at all when
    /// the bar is hidden).
    pub fn update(&mut self, done: u64, paced: u64, counts: impl FnOnce() -> String) {
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(done);
        let now = Instant::now();
        if self.counts_set.is_none_or(|at| now.duration_since(at) >= COUNTS_EVERY) {
            self.rate.sample(now, paced);
            self.bar.set_prefix(speed(self.rate.per_sec(now), done, self.total));
            self.bar.set_message(counts());
            self.counts_set = Some(now);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `412.0 rows/s  ETA 0:00:07`, or `-- rows/s` before a rate is known.
fn speed(rate: Option<f64>, done: u64, total: Option<u64>) -> String {
    let Some(rate) = rate.filter(|r| *r > 0.0) else { return "-- rows/s".into() };
    let eta = match total {
        Some(total) if total > done => {
            let secs = ((total - done) as f64 / rate).ceil() as u64;
            format!("  ETA {}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
        }
        _ => String::new(),
    };
    format!("{rate:.1} rows/s{eta}")
}

/// How far back the rate looks: long enough to smooth pauses and bursts,
/// short enough to follow a change of pace (a 429 backing off).
const RATE_SPAN: Duration = Duration::from_secs(10);
/// No rate is shown before this much time has passed: the first rows finish
/// together (invalid rows, the first requests' answers).
const RATE_AFTER: Duration = Duration::from_secs(1);

/// Rows the uploader finished per second over the last `RATE_SPAN`.
#[derive(Debug)]
struct Rate {
    started: Instant,
    /// (when, rows done then), oldest first, one at most every `COUNTS_EVERY`.
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    fn new(started: Instant, done: u64) -> Rate {
        Rate { started, samples: VecDeque::from([(started, done)]) }
    }

    fn sample(&mut self, now: Instant, done: u64) {
        self.samples.push_back((now, done));
        // Keep one sample at or before the span's start.
        while self.samples.len() > 2 && self.samples.get(1).is_some_and(|(t, _)| now.duration_since(*t) >= RATE_SPAN) {
            self.samples.pop_front();
        }
    }

    fn per_sec(&self, now: Instant) -> Option<f64> {
        if now.duration_since(self.started) < RATE_AFTER {
            return None;
        }
        let (&(t0, d0), &(_, d1)) = (self.samples.front()?, self.samples.back()?);
        let secs = now.duration_since(t0).as_secs_f64();
        (secs > 0.0).then(|| d1.saturating_sub(d0) as f64 / secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_what_was_achieved_lately_not_the_first_burst() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut rate = Rate::new(t0, 0);
        // The first answers together, then 40 rows a second for 20 s.
        rate.sample(at(50), 100);
        assert_eq!(rate.per_sec(at(50)), None, "too soon to say");
        for s in 1..=20u64 {
            rate.sample(at(50 + s * 1000), 100 + 40 * s);
        }
        let now = rate.per_sec(at(20_050)).unwrap();
        assert!((now - 40.0).abs() < 0.5, "{now}");
        assert!(rate.samples.len() <= 12, "old samples go: {}", rate.samples.len());
    }

    #[test]
    fn speed_reads_as_a_rate_and_an_eta() {
        assert_eq!(speed(None, 0, Some(10)), "-- rows/s");
        assert_eq!(speed(Some(0.0), 0, Some(10)), "-- rows/s");
        assert_eq!(speed(Some(400.0), 1000, Some(3000)), "400.0 rows/s  ETA 0:00:05");
        assert_eq!(speed(Some(2.0), 0, Some(7300)), "2.0 rows/s  ETA 1:00:50");
        assert_eq!(speed(Some(5.0), 10, Some(10)), "5.0 rows/s");
        assert_eq!(speed(Some(5.0), 10, None), "5.0 rows/s");
    }
}
