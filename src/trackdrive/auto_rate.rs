//! `--rate auto`: finding the account's rate limit from how the API answers.
//!
//! TrackDrive publishes no limit. The controller starts at a safe rate and
//! doubles it every eighth of a second while the answers are healthy (slow
//! start); the first 429 ends that and sets the rate just under what the
//! server was accepting in the last second (the ceiling, as far as it has
//! shown it). From then on it climbs back by a twentieth a tick to 97% of
//! that ceiling and holds there (each probe that finds the limit costs the
//! whole job a `Retry-After` pause): 20 seconds, doubled each time a probe
//! finds the same limit again, up to ten minutes. Past the hold it probes
//! by half a percent a tick, and each 429 cuts it back the same way (at
//! most once a second, so the 429s of one overshoot count once). A rise in
//! 5xx answers cuts it too, and latency far above the best seen holds it.
//! It never goes past `--max-rate`.
//!
//! What a run learned (`Known`) is kept by `rate_memory`; `resume` starts
//! the next run from it, just under the ceiling and held, with neither the
//! slow start nor the 429 that finding the limit costs. Pure: time is
//! passed in, so tests drive it.

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
/// limit pauses the whole job (a second, on a per-second limit). Each probe
/// that finds the same limit again doubles the hold, up to `MAX_HOLD`: on a
/// long night the limit is confirmed every few minutes, not every 20 s.
pub const HOLD: Duration = Duration::from_secs(20);
pub const MAX_HOLD: Duration = Duration::from_secs(600);
/// Where it starts: the old default, safe for any account.
pub const START: f64 = 10.0;
/// How far under the ceiling it runs: a fixed window then never sees more
/// than its allowance, even with the odd request bunched.
const MARGIN: f64 = 0.97;
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
    /// Since when the rate has stayed under the ceiling without probing,
    /// and for how long it stays there.
    held_since: Option<Instant>,
    hold: Duration,
    /// What the server accepted in the second before the last 429: the
    /// limit, as far as it has shown it.
    ceiling: Option<f64>,
    /// The highest rate a whole tick was sent at with healthy answers.
    healthy: f64,
    /// The lowest rate answered 429 since the ceiling was last set.
    throttled_at: Option<f64>,
    /// The highest rate used, and the first.
    pub reached: f64,
    pub start: f64,
}

/// What a run learned about the account's limit, for the next one to start
/// from (`rate_memory` keeps it between runs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Known {
    /// The limit as the last 429 showed it, if one did.
    pub ceiling: Option<f64>,
    /// The highest rate answered healthily for a whole tick.
    pub healthy: f64,
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
            held_since: None,
            hold: HOLD,
            ceiling: None,
            healthy: 0.0,
            throttled_at: None,
            reached: rate,
            start: rate,
        }
    }

    /// Starts from what an earlier run learned: just under a ceiling it
    /// found, held there as after a 429 (so a nightly job neither slow-starts
    /// nor pays a pause to find the same limit again); or, when it never met
    /// the limit, slow-starting from the highest rate that was healthy.
    pub fn resume(max: f64, now: Instant, known: Known) -> AutoRate {
        let mut auto = AutoRate::new(max, now);
        let valid = |r: f64| r.is_finite() && r >= MIN;
        auto.healthy = if valid(known.healthy) { known.healthy } else { 0.0 };
        match known.ceiling.filter(|&c| valid(c)) {
            Some(ceiling) => {
                auto.ceiling = Some(ceiling);
                auto.slow_start = false;
                auto.held_since = Some(now);
                // Found before: a probe is less likely to find it moved.
                auto.hold = HOLD * 2;
                auto.rate = (ceiling * MARGIN).min(max).max(MIN);
            }
            None => auto.rate = auto.healthy.max(START).min(max),
        }
        auto.reached = auto.rate;
        auto.start = auto.rate;
        auto
    }

    /// What this run knows about the limit (including what it started
    /// from). What was healthy for a tick can be past a fixed window's
    /// allowance: it is never said to be more than the limit found.
    pub fn known(&self) -> Known {
        let ceiling = match (self.ceiling, self.throttled_at) {
            (Some(c), Some(r)) => Some(c.min(r).max(MIN)),
            (c, _) => c,
        };
        Known { ceiling, healthy: ceiling.map_or(self.healthy, |c| self.healthy.min(c)) }
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
        self.held_since = Some(now);
        self.forget_before(now);
        let accepted = self.accepted.len() as f64;
        // The first 429 ends a slow start that overshot: what the server
        // accepted in the last second is the limit, however far past it the
        // rate went. Later, just after a pause, the last second says little
        // when it is short: then cut by a tenth.
        let first = std::mem::replace(&mut self.slow_start, false);
        let rate = if first || accepted >= self.rate * 0.5 {
            let ceiling = accepted.max(MIN);
            let same = self.ceiling.is_some_and(|c| (ceiling - c).abs() <= c * 0.05);
            self.hold = if same { (self.hold * 2).min(MAX_HOLD) } else { HOLD };
            self.ceiling = Some(ceiling);
            self.throttled_at = None;
            (accepted * 0.95).min(self.rate * 0.9)
        } else {
            // Whatever the last second says, a rate answered 429 is not
            // under the limit: what the next run is told comes down to it.
            // (This run climbs back towards the ceiling as before: lowering
            // it here made first runs slower in benches/auto_rate.sh.)
            self.throttled_at = Some(self.throttled_at.map_or(self.rate, |r| r.min(self.rate)));
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
        // What the server took, healthily, over the tick (not more than the
        // rate: a tick of two requests at 10/s says little).
        if elapsed > 0.0 {
            self.healthy = self.healthy.max((f64::from(accepted) / elapsed).min(self.rate));
        }
        // Back towards the limit last seen quickly, then past it slowly: a
        // probe that finds it again costs a 429 or two, not a storm.
        let rate = match self.ceiling {
            _ if self.slow_start => self.rate * 2.0,
            Some(ceiling) if self.rate < ceiling * MARGIN => (self.rate * 1.05).min(ceiling * MARGIN),
            Some(_) if self.held_since.is_some_and(|at| now.duration_since(at) < self.hold) => return None,
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

    /// How a simulated run went: the mean rate over its second half, the
    /// share of requests answered 429 and their number, the highest rate
    /// reached, and requests accepted a second over the whole run.
    struct Run {
        mean: f64,
        share: f64,
        throttled: u32,
        reached: f64,
        throughput: f64,
    }

    /// A server that accepts `limit` a second in one-second windows (a 429
    /// pauses the client to the window's end, as `Retry-After` does), and a
    /// client sending at the controller's rate.
    fn simulate(limit: u32, max: f64, seconds: u32) -> Run {
        let start = Instant::now();
        simulate_from(AutoRate::new(max, start), start, limit, seconds)
    }

    fn simulate_from(mut auto: AutoRate, start: Instant, limit: u32, seconds: u32) -> Run {
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
        Run { mean, share: f64::from(throttled) / f64::from(sent), throttled, reached: auto.reached, throughput }
    }

    #[test]
    fn settles_just_under_the_limit_with_few_429s() {
        for limit in [20, 100, 300] {
            let Run { mean, share, reached, throughput, .. } = simulate(limit, 1000.0, 60);
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
    fn a_limit_found_again_is_probed_less_often() {
        // Ten minutes at 100/s: probes after holds of 20, 40, 80, 160 and
        // 320 s (a probe every 20 s would be some 25 pauses).
        let Run { throttled, throughput, .. } = simulate(100, 1000.0, 600);
        assert!((3..=8).contains(&throttled), "{throttled} 429s");
        assert!(throughput > 95.0, "{throughput}");
    }

    #[test]
    fn never_passes_max_rate() {
        let Run { mean, share, reached, .. } = simulate(300, 50.0, 30);
        assert!(reached <= 50.0 && mean <= 50.0, "{reached} {mean}");
        assert_eq!(share, 0.0);
    }

    #[test]
    fn a_remembered_limit_is_the_start_without_slow_start_or_429() {
        for limit in [20, 100, 300] {
            let start = Instant::now();
            let known = Known { ceiling: Some(f64::from(limit)), healthy: f64::from(limit) * 0.97 };
            let auto = AutoRate::resume(1000.0, start, known);
            assert_eq!(auto.rate(), f64::from(limit) * MARGIN);
            // Ten seconds, within the hold: all of it at the limit, no 429.
            let Run { mean, share, reached, throughput, .. } = simulate_from(auto, start, limit, 10);
            assert_eq!(share, 0.0, "limit {limit}");
            assert_eq!(reached, f64::from(limit) * MARGIN);
            assert!(
                throughput > f64::from(limit) * 0.95 && (mean - reached).abs() < 1e-6,
                "limit {limit}: {throughput} {mean}"
            );
        }
    }

    #[test]
    fn a_stale_or_odd_memory_is_corrected_or_ignored() {
        let start = Instant::now();
        // The limit was lowered since: the first 429 sets the rate from what
        // the server accepts, and it settles under the new limit.
        let lowered = AutoRate::resume(1000.0, start, Known { ceiling: Some(300.0), healthy: 290.0 });
        let Run { mean, share, throughput, .. } = simulate_from(lowered, start, 100, 60);
        assert!(mean < 100.0 && throughput > 85.0 && share < 0.03, "{mean} {throughput} {share}");
        // Above --max-rate: held to it.
        assert_eq!(AutoRate::resume(50.0, start, Known { ceiling: Some(300.0), healthy: 0.0 }).rate(), 50.0);
        // Never met a limit: slow start goes on from the healthy rate.
        let climbing = AutoRate::resume(1000.0, start, Known { ceiling: None, healthy: 80.0 });
        assert_eq!((climbing.rate(), climbing.slow_start), (80.0, true));
        // Not numbers: a fresh start.
        let odd = AutoRate::resume(1000.0, start, Known { ceiling: Some(f64::NAN), healthy: f64::INFINITY });
        assert_eq!((odd.rate(), odd.slow_start, odd.known()), (START, true, Known { ceiling: None, healthy: 0.0 }));
    }

    #[test]
    fn a_rate_answered_429_is_never_remembered_as_under_the_limit() {
        // A slow start's ceiling can be high (a fixed window's last second
        // held the end of the window before); a 429 soon after the pause,
        // with little accepted since, brings the ceiling down to the rate
        // that met it, so the next run does not start over the limit.
        let start = Instant::now();
        let mut auto = AutoRate::resume(1000.0, start, Known { ceiling: Some(83.0), healthy: 0.0 });
        let rate = auto.rate();
        let at = |ms: u64| start + Duration::from_millis(ms);
        for ms in (0..200).step_by(10) {
            auto.observe(at(ms), Answer::Accepted, Duration::from_millis(5));
        }
        assert_eq!(auto.observe(at(200), Answer::Throttled, Duration::ZERO), Some(rate * 0.9));
        assert_eq!(auto.known().ceiling, Some(rate));
    }

    #[test]
    fn what_a_run_learned_is_known() {
        let start = Instant::now();
        let mut auto = AutoRate::new(1000.0, start);
        assert_eq!(auto.known(), Known { ceiling: None, healthy: 0.0 });
        // Healthy ticks raise what is known to be healthy; a 429 sets the ceiling.
        let at = |ms: u64| start + Duration::from_millis(ms);
        for ms in (10..=130).step_by(10) {
            auto.observe(at(ms), Answer::Accepted, Duration::from_millis(5));
        }
        assert_eq!(auto.known().healthy, 10.0);
        auto.observe(at(140), Answer::Throttled, Duration::ZERO);
        assert_eq!(auto.known().ceiling, Some(13.0), "thirteen accepted in the last second");
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
