//! The gate every attempt passes before it is sent: the job-wide stop
//! signal, a pause set by the server's `Retry-After`, and the GCRA rate
//! limiter (governor) shared by all in-flight rows.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::outputs::outcome::StopReason;

/// A job-wide stop signal that tasks can check or wait on.
#[derive(Debug)]
pub struct Stop {
    tx: watch::Sender<Option<StopReason>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop { tx: watch::channel(None).0 }
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

/// Rate limit plus server-requested pause.
#[derive(Debug)]
pub struct Gate {
    limiter: Option<DefaultDirectRateLimiter>,
    jitter: Duration,
    paused_until: Mutex<Option<Instant>>,
    max_pause: Duration,
    /// Responses that were 429, and the job-wide pauses they started.
    pub throttled: AtomicU64,
    pub pauses: AtomicU64,
}

impl Gate {
    /// `rate` requests per second with a burst of `burst`; `None` for no limit.
    pub fn new(rate: Option<(NonZeroU32, NonZeroU32)>, max_pause: Duration) -> Gate {
        let limiter = rate.map(|(rate, burst)| RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)));
        // A little jitter spreads tasks released in the same instant, without
        // changing the rate (governor adds it after the cell is taken).
        let jitter = rate.map_or(Duration::ZERO, |(r, _)| Duration::from_secs(1).div_f64(r.get() as f64 * 4.0));
        Gate {
            limiter,
            jitter: jitter.min(Duration::from_millis(20)),
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
            if let Some(limiter) = &self.limiter {
                limiter.until_ready_with_jitter(Jitter::up_to(self.jitter)).await;
            }
            // A 429 may have paused everyone while this task waited its turn.
            if self.paused().is_none() {
                return;
            }
        }
    }

    /// Holds every attempt for `wait` (capped): the server asked us to.
    pub fn pause(&self, wait: Duration) {
        // Saturating: whatever the server names, the pause is a time that exists.
        let now = Instant::now();
        let until = now.checked_add(wait.min(self.max_pause)).unwrap_or(now);
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|current| current <= now) {
            self.pauses.fetch_add(1, Ordering::Relaxed);
        }
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Whether a rate limit is set (`--rate` above 0).
    pub fn is_limited(&self) -> bool {
        self.limiter.is_some()
    }

    /// True while a server-requested pause is in force.
    pub fn is_paused(&self) -> bool {
        self.paused().is_some()
    }

    fn paused(&self) -> Option<Instant> {
        let paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        paused.filter(|until| *until > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pause_holds_every_attempt() {
        let gate = Gate::new(None, Duration::from_secs(60));
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
        let gate = Gate::new(None, Duration::from_secs(5));
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
