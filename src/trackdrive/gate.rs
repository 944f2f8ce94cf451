//! The gate every attempt passes before it is sent: the job-wide stop
//! signal, a pause set by the server's `Retry-After`, and the GCRA rate
//! limiter (governor) shared by all in-flight rows, fixed or, with
//! `--rate auto`, replaced as `auto_rate` finds the account's limit.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};
use tokio::sync::watch;
use tokio::time::Instant;

use super::auto_rate::{Answer, AutoRate, Known};

/// Why the job stopped admitting rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Auth failure, retry budget, failure threshold, a write error: exit 3.
    Aborted(String),
    /// Ctrl-C or SIGTERM: exit 130.
    Interrupted,
}

/// A job-wide stop signal that tasks can check or wait on; clones share it.
#[derive(Debug, Clone)]
pub struct Stop {
    tx: Arc<watch::Sender<Option<StopReason>>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop { tx: Arc::new(watch::channel(None).0) }
    }
}

impl Stop {
    /// Stops the job; the first reason given is the one kept.
    pub fn trigger(&self, reason: StopReason) {
        self.tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.tx.borrow().clone()
    }

    pub fn is_stopped(&self) -> bool {
        self.tx.borrow().is_some()
    }

    /// Resolves once the job is stopped.
    pub async fn stopped(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

/// How fast attempts may go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// No limit (`--rate 0`: the simulator only).
    Off,
    /// `--rate N` with a burst.
    Fixed { rate: NonZeroU32, burst: NonZeroU32 },
    /// `--rate auto`, never above `max` (`--max-rate`).
    Auto { max: NonZeroU32 },
}

/// The limiter in force, replaced whole when `--rate auto` changes the rate.
#[derive(Debug, Clone)]
struct Limiter {
    cells: Arc<DefaultDirectRateLimiter>,
    jitter: Duration,
    /// Counts replacements: a task that waited on an older limiter waits
    /// again on the new one, so a cut takes effect at once.
    generation: u64,
    rate: f64,
}

impl Limiter {
    fn new(rate: f64, burst: Option<NonZeroU32>, generation: u64) -> Limiter {
        let per_second = rate.max(0.01);
        let period = Duration::from_secs_f64(1.0 / per_second);
        let burst = burst.unwrap_or(NonZeroU32::new((per_second / 5.0) as u32).unwrap_or(NonZeroU32::MIN));
        let quota = Quota::with_period(period).expect("a positive period").allow_burst(burst);
        // A little jitter spreads tasks released in the same instant, without
        // changing the rate (governor adds it after the cell is taken).
        let jitter = Duration::from_secs_f64(1.0 / (per_second * 4.0)).min(Duration::from_millis(20));
        Limiter { cells: Arc::new(RateLimiter::direct(quota)), jitter, generation, rate }
    }
}

/// Rate limit plus server-requested pause.
#[derive(Debug)]
pub struct Gate {
    limiter: Mutex<Option<Limiter>>,
    /// `--rate auto`'s controller, told of every answer.
    auto: Option<Mutex<AutoRate>>,
    paused_until: Mutex<Option<Instant>>,
    max_pause: Duration,
    /// Responses that were 429, and the job-wide pauses they started.
    pub throttled: AtomicU64,
    pub pauses: AtomicU64,
}

impl Gate {
    pub fn new(pacing: Pacing, max_pause: Duration) -> Gate {
        Gate::starting_from(pacing, max_pause, None)
    }

    /// As `new`; with `--rate auto` and what an earlier run learned
    /// (`rate_memory`), starts from that instead of from 10/s.
    pub fn starting_from(pacing: Pacing, max_pause: Duration, known: Option<Known>) -> Gate {
        let (limiter, auto) = match pacing {
            Pacing::Off => (None, None),
            Pacing::Fixed { rate, burst } => (Some(Limiter::new(f64::from(rate.get()), Some(burst), 0)), None),
            Pacing::Auto { max } => {
                let (max, now) = (f64::from(max.get()), std::time::Instant::now());
                let auto = match known {
                    Some(known) => AutoRate::resume(max, now, known),
                    None => AutoRate::new(max, now),
                };
                (Some(Limiter::new(auto.rate(), Some(NonZeroU32::MIN), 0)), Some(Mutex::new(auto)))
            }
        };
        Gate {
            limiter: Mutex::new(limiter),
            auto,
            paused_until: Mutex::new(None),
            max_pause,
            throttled: AtomicU64::new(0),
            pauses: AtomicU64::new(0),
        }
    }

    /// Waits until an attempt may be sent.
    pub async fn admit(&self) {
        loop {
            if let Some(until) = self.paused() {
                tokio::time::sleep_until(until).await;
            }
            let current = lock(&self.limiter).clone();
            if let Some(limiter) = current {
                limiter.cells.until_ready_with_jitter(Jitter::up_to(limiter.jitter)).await;
                // The rate changed while this task waited: wait on the new one.
                if lock(&self.limiter).as_ref().is_some_and(|now| now.generation != limiter.generation) {
                    continue;
                }
            }
            // A 429 may have paused everyone while this task waited its turn.
            if self.paused().is_none() {
                return;
            }
        }
    }

    /// Tells `--rate auto` how an attempt was answered (nothing otherwise).
    pub fn observe(&self, answer: Answer, latency: Duration) {
        let Some(auto) = &self.auto else { return };
        let changed = lock(auto).observe(std::time::Instant::now(), answer, latency);
        if let Some(rate) = changed {
            let mut limiter = lock(&self.limiter);
            let generation = limiter.as_ref().map_or(0, |l| l.generation + 1);
            // No burst: after a pause a burst would spend a fixed window's
            // allowance at once and meet the limit again.
            *limiter = Some(Limiter::new(rate, Some(NonZeroU32::MIN), generation));
        }
    }

    /// The rate in force (requests a second), if any.
    pub fn rate(&self) -> Option<f64> {
        lock(&self.limiter).as_ref().map(|l| l.rate)
    }

    /// With `--rate auto`, the rate it started at.
    pub fn auto_start(&self) -> Option<f64> {
        self.auto.as_ref().map(|a| lock(a).start)
    }

    /// With `--rate auto`, what it knows of the limit (for the next run).
    pub fn auto_known(&self) -> Option<Known> {
        self.auto.as_ref().map(|a| lock(a).known())
    }

    /// With `--rate auto`, the highest rate it reached.
    pub fn auto_reached(&self) -> Option<f64> {
        self.auto.as_ref().map(|a| lock(a).reached)
    }

    /// Holds every attempt for `wait` (capped): the server asked us to.
    pub fn pause(&self, wait: Duration) {
        // Saturating: whatever the server names, the pause is a time that exists.
        let now = Instant::now();
        let until = now.checked_add(wait.min(self.max_pause)).unwrap_or(now);
        let mut paused = lock(&self.paused_until);
        if paused.is_none_or(|current| current <= now) {
            self.pauses.fetch_add(1, Ordering::Relaxed);
        }
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Whether a rate limit is set (`--rate` above 0, or auto).
    pub fn is_limited(&self) -> bool {
        lock(&self.limiter).is_some()
    }

    /// True while a server-requested pause is in force.
    pub fn is_paused(&self) -> bool {
        self.paused().is_some()
    }

    fn paused(&self) -> Option<Instant> {
        lock(&self.paused_until).filter(|until| *until > Instant::now())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pause_holds_every_attempt() {
        let gate = Gate::new(Pacing::Off, Duration::from_secs(60));
        let start = Instant::now();
        gate.admit().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        gate.pause(Duration::from_secs(3));
        gate.pause(Duration::from_secs(1)); // a shorter pause does not cut it short
        gate.admit().await;
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn pause_is_capped() {
        let gate = Gate::new(Pacing::Off, Duration::from_secs(5));
        let start = Instant::now();
        gate.pause(Duration::from_secs(3600));
        gate.admit().await;
        assert!(start.elapsed() >= Duration::from_secs(5) && start.elapsed() < Duration::from_secs(6));
    }

    #[tokio::test]
    async fn stop_keeps_the_first_reason() {
        let stop = Stop::default();
        assert!(!stop.is_stopped());
        stop.trigger(StopReason::Aborted("auth".into()));
        stop.trigger(StopReason::Interrupted);
        stop.stopped().await;
        assert_eq!(stop.reason(), Some(StopReason::Aborted("auth".into())));
    }
}
