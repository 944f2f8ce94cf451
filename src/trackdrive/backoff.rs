//! How long to wait before a retry, and how many retries the whole job may
//! spend. Capped exponential backoff with full jitter (a random wait between
//! zero and the capped exponential), so rows that failed together do not
//! retry together.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry), given a
    /// uniform draw in `[0, 1)`.
    pub fn delay(&self, retry: u32, draw: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32.checked_shl(retry.saturating_sub(1).min(20)).unwrap_or(u32::MAX));
        exp.min(self.cap).mul_f64(draw.clamp(0.0, 1.0))
    }
}

/// A job-wide allowance of retries: a fixed floor plus a share of the first
/// attempts made, so a server that fails everything stops the job instead of
/// being hammered with `max_retries` times the traffic.
#[derive(Debug)]
pub struct RetryBudget {
    floor: u64,
    percent: u64,
    first_attempts: AtomicU64,
    retries: AtomicU64,
}

impl RetryBudget {
    pub fn new(floor: u64, percent: u64) -> RetryBudget {
        RetryBudget { floor, percent, first_attempts: AtomicU64::new(0), retries: AtomicU64::new(0) }
    }

    pub fn first_attempt(&self) {
        self.first_attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_spend(&self) -> bool {
        let allowed = self.floor + self.first_attempts.load(Ordering::Relaxed) * self.percent / 100;
        self.retries.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| (r < allowed).then_some(r + 1)).is_ok()
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// A uniform draw in `[0, 1)` from a per-task generator (no shared state on
/// the hot path, and no cryptographic quality needed for jitter).
pub fn draw(state: &mut u64) -> f64 {
    *state = crate::splitmix::splitmix64(*state);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_exponential_with_full_jitter() {
        let b = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(2) };
        assert_eq!(b.delay(1, 0.999_999), Duration::from_millis(100).mul_f64(0.999_999));
        assert_eq!(b.delay(2, 0.5), Duration::from_millis(100));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(200));
        assert_eq!(b.delay(10, 0.5), Duration::from_secs(1), "capped at 2s, halved by the draw");
        assert_eq!(b.delay(1000, 0.5), Duration::from_secs(1), "no overflow");
        assert_eq!(b.delay(5, 0.0), Duration::ZERO);
    }

    #[test]
    fn draws_are_uniform_enough() {
        let mut s = 1;
        let draws: Vec<f64> = (0..10_000).map(|_| draw(&mut s)).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn budget_grows_with_traffic() {
        let budget = RetryBudget::new(2, 10);
        assert!(budget.try_spend() && budget.try_spend());
        assert!(!budget.try_spend(), "floor spent");
        for _ in 0..20 {
            budget.first_attempt();
        }
        assert!(budget.try_spend() && budget.try_spend(), "10% of 20 more");
        assert!(!budget.try_spend());
        assert_eq!(budget.retries(), 4);
    }
}
