//! `--rate auto`: finding the account's rate limit from how the API answers.
//!
//! TrackDrive publishes no limit. The controller starts at a safe rate and
//! doubles it every eighth of a second while the answers are healthy (slow
//! start); the first 429 ends that and sets the rate just under what the server was
//! accepting in the last second (the ceiling, as far as it has shown it);
//! from then on it climbs back by a twentieth a tick to 97% of that
//! ceiling, holds there for 20 seconds (each probe that finds the limit
//! costs the whole job a `Retry-After` pause), then probes past it by half a
//! percent a tick, and each 429 cuts it
//! back the same way (at most once a second, so the 429s of one overshoot
//! count once). A rise in 5xx answers cuts it too,
//! and latency far above the best seen holds it. It never goes past
//! `--max-rate`. Pure: time is passed in, so tests drive it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How often the rate is reconsidered while answers are healthy…
pub const TICK: Duration = Duration::from_millis(500);
/// …and while it is still doubling. A server that counts in one-second
/// windows says 429 only once a window's allowance is spent, so a fast
/// doubling overshoots; the first 429 then sets the rate from what was
/// accepted, not from the overshoot.
pub const SLOW_START_TICK: Duration = Duration::from_millis(125);
/// After a 429, how long the rate stays under the ceiling it found before
/// probing past it again: with `Retry-After`, every probe that finds the
/// limit pauses the whole job (a second, on a per-second limit).
pub const HOLD: Duration = Duration::from_secs(20);
/// Where it starts: the old default, safe for any account.
pub const START: f64 = 10.0;
/// The least it goes down to.
const MIN: f64 = 1.0;

/// What one answer says about the pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Anything but a 429 or a 5xx: the server took the request.
    Accepted,
    /// 429: over the limit.
    Throttled,
    /// 5xx, a timeout, a broken connection: maybe overloaded.
    Failed,
}

#[derive(Debug)]
pub struct AutoRate {
    rate: f64,
    max: f64,
    slow_start: bool,
    /// When the server accepted a request, over the last second.
    accepted: VecDeque<Instant>,
    tick_started: Instant,
    tick_accepted: u32,
    tick_failed: u32,
    tick_latency: Duration,
    /// The lowest mean latency of a tick so far: the unloaded server.
    best_latency: Option<Duration>,
    last_cut: Option<Instant>,
    /// What the server accepted in the second before the last 429: the
    /// limit, as far as it has shown it.
    ceiling: Option<f64>,
    /// The highest rate used.
    pub reached: f64,
}

impl AutoRate {
    pub fn new(max: f64, now: Instant) -> AutoRate {
        let rate = START.min(max);
        AutoRate {
            rate,
            max,
            slow_start: true,
            accepted: VecDeque::new(),
            tick_started: now,
            tick_accepted: 0,
            tick_failed: 0,
            tick_latency: Duration::ZERO,
            best_latency: None,
            last_cut: None,
            ceiling: None,
            reached: rate,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes one answer; returns the new rate when it changes.
    pub fn observe(&mut self, now: Instant, answer: Answer, latency: Duration) -> Option<f64> {
        match answer {
            Answer::Accepted => {
                self.accepted.push_back(now);
                self.tick_accepted += 1;
                self.tick_latency += latency;
            }
            Answer::Failed => self.tick_failed += 1,
            Answer::Throttled => return self.cut(now),
        }
        let tick = if self.slow_start { SLOW_START_TICK } else { TICK };
        if now.duration_since(self.tick_started) >= tick { self.tick(now) } else { None }
    }

    /// A 429: set the rate under what the server accepted in the last second.
    fn cut(&mut self, now: Instant) -> Option<f64> {
        if self.last_cut.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
            return None;
        }
        self.last_cut = Some(now);
        self.forget_before(now);
        let accepted = self.accepted.len() as f64;
        // The first 429 ends a slow start that overshot: what the server
        // accepted in the last second is the limit, however far past it the
        // rate went. Later, just after a pause, the last second says little
        // when it is short: then cut by a tenth.
        let first = std::mem::replace(&mut self.slow_start, false);
        let rate = if first || accepted >= self.rate * 0.5 {
            self.ceiling = Some(accepted.max(MIN));
            (accepted * 0.95).min(self.rate * 0.9)
        } else {
            self.rate * 0.9
        };
        let rate = rate.max(MIN);
        self.restart_tick(now);
        self.set(rate)
    }

    /// A healthy tick raises the rate; a sick one lowers or holds it.
    fn tick(&mut self, now: Instant) -> Option<f64> {
        let (accepted, failed) = (self.tick_accepted, self.tick_failed);
        let elapsed = now.duration_since(self.tick_started).as_secs_f64();
        let mean = (accepted > 0).then(|| self.tick_latency / accepted);
        self.restart_tick(now);
        if failed * 10 > accepted + failed {
            return self.set((self.rate * 0.7).max(MIN));
        }
        if let Some(mean) = mean {
            let best = *self.best_latency.get_or_insert(mean);
            self.best_latency = Some(best.min(mean));
            if mean > best * 3 && mean > Duration::from_millis(50) {
                return None;
            }
        }
        // Raise only a rate that is being used: a job held back by
        // --concurrency or slow answers learns nothing about the limit.
        // (At a few a second a tick holds a request or none: let it pass.)
        if (accepted as f64) < (self.rate * elapsed * 0.5).min(self.rate * elapsed - 1.0) {
            return None;
        }
        // Back towards the limit last seen quickly, then past it slowly: a
        // probe that finds it again costs a 429 or two, not a storm.
        let rate = match self.ceiling {
            _ if self.slow_start => self.rate * 2.0,
            Some(ceiling) if self.rate < ceiling * 0.97 => (self.rate * 1.05).min(ceiling * 0.97),
            Some(_) if self.last_cut.is_some_and(|at| now.duration_since(at) < HOLD) => return None,
            // Past the hold, probe by half a percent a tick: an account's
            // limit may have been raised.
            _ => self.rate * 1.005,
        };
        self.set(rate.min(self.max))
    }

    fn set(&mut self, rate: f64) -> Option<f64> {
        if (rate - self.rate).abs() < 0.01 {
            return None;
        }
        self.rate = rate;
        self.reached = self.reached.max(rate);
        Some(rate)
    }

    fn restart_tick(&mut self, now: Instant) {
        self.tick_started = now;
        self.tick_accepted = 0;
        self.tick_failed = 0;
        self.tick_latency = Duration::ZERO;
    }

    fn forget_before(&mut self, now: Instant) {
        while self.accepted.front().is_some_and(|&t| now.duration_since(t) > Duration::from_secs(1)) {
            self.accepted.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts `limit` a second in one-second windows (a 429
    /// pauses the client to the window's end, as `Retry-After` does), and a
    /// client sending at the controller's rate: its mean rate over the second
    /// half, the share of requests answered 429, the highest rate reached,
    /// and requests accepted a second over the whole run.
    fn simulate(limit: u32, max: f64, seconds: u32) -> (f64, f64, f64, f64) {
        let start = Instant::now();
        let mut auto = AutoRate::new(max, start);
        let (mut sent, mut throttled) = (0u32, 0u32);
        let mut t = 0.0f64;
        let mut window = (0u64, 0u32);
        let mut last_half = Vec::new();
        while t < f64::from(seconds) {
            let now = start + Duration::from_secs_f64(t);
            let second = t as u64;
            if window.0 != second {
                window = (second, 0);
            }
            window.1 += 1;
            sent += 1;
            let answer = if window.1 > limit {
                throttled += 1;
                Answer::Throttled
            } else {
                Answer::Accepted
            };
            auto.observe(now, answer, Duration::from_millis(20));
            if t > f64::from(seconds) / 2.0 {
                last_half.push(auto.rate());
            }
            t = if answer == Answer::Throttled { (second + 1) as f64 } else { t + 1.0 / auto.rate() };
        }
        let mean = last_half.iter().sum::<f64>() / last_half.len() as f64;
        let throughput = f64::from(sent - throttled) / f64::from(seconds);
        (mean, f64::from(throttled) / f64::from(sent), auto.reached, throughput)
    }

    #[test]
    fn settles_just_under_the_limit_with_few_429s() {
        for limit in [20, 100, 300] {
            let (mean, share, reached, throughput) = simulate(limit, 1000.0, 60);
            eprintln!(
                "limit {limit}: mean {mean:.1}, 429 share {share:.4}, reached {reached:.1}, throughput {throughput:.1}"
            );
            let limit = f64::from(limit);
            assert!(throughput > limit * 0.87, "limit {limit}: {throughput} accepted a second");
            assert!(mean > limit * 0.85 && mean < limit * 1.05, "limit {limit}: mean rate {mean}");
            assert!(share < 0.03, "limit {limit}: {share} of requests 429");
            assert!(reached <= 1000.0);
        }
    }

    #[test]
    fn never_passes_max_rate() {
        let (mean, share, reached, _) = simulate(300, 50.0, 30);
        assert!(reached <= 50.0 && mean <= 50.0, "{reached} {mean}");
        assert_eq!(share, 0.0);
    }

    #[test]
    fn server_errors_cut_and_slow_answers_hold() {
        let t0 = Instant::now();
        let mut auto = AutoRate::new(100.0, t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // A healthy slow-start tick (an eighth of a second) doubles the rate.
        for ms in [50, 100] {
            auto.observe(at(ms), Answer::Accepted, Duration::from_millis(20));
        }
        assert_eq!(auto.observe(at(125), Answer::Accepted, Duration::from_millis(20)), Some(20.0));
        // Healthy again: 40.
        for ms in [175, 200, 225] {
            auto.observe(at(ms), Answer::Accepted, Duration::from_millis(20));
        }
        assert_eq!(auto.observe(at(250), Answer::Accepted, Duration::from_millis(20)), Some(40.0));
        // A tick with most answers failing cuts it by 30%.
        for ms in [275, 300] {
            auto.observe(at(ms), Answer::Accepted, Duration::from_millis(20));
        }
        auto.observe(at(325), Answer::Failed, Duration::ZERO);
        auto.observe(at(350), Answer::Failed, Duration::ZERO);
        assert_eq!(auto.observe(at(375), Answer::Failed, Duration::ZERO), Some(28.0));
        // Answers ten times slower than the best: held, tick after tick.
        for i in 1..=20 {
            assert_eq!(auto.observe(at(375 + i * 100), Answer::Accepted, Duration::from_millis(400)), None);
        }
        assert_eq!(auto.rate(), 28.0);
    }
}
