//! Seeded fault injection. Each request gets a sequence number on arrival,
//! and every random choice for it is drawn from `(seed, sequence)`, so the
//! same seed gives the same faults for the same request order.

use std::time::Duration;

use crate::splitmix::splitmix64;

/// Fault probabilities and timings, from the `sim` command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    pub seed: u64,
    pub fail_5xx: f64,
    pub latency: Duration,
    pub latency_jitter: Duration,
    pub reset_before_apply: f64,
    pub apply_then_stall: f64,
    pub apply_then_reset: f64,
    /// How long a stalled response is held.
    pub stall: Duration,
    /// The first N update requests for each call get 503.
    pub fail_first: u64,
    /// Probability that an update is answered 200 with an error in its body
    /// (`{"status": 422, "errors": …}`) and not applied.
    pub error_200: f64,
    /// An update parameter every update ignores (a 200 all the same).
    pub ignore_param: Option<String>,
    /// Every read of a call's events answers 503, as an account whose audit
    /// log is down might.
    pub events_down: bool,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    ServerError(u16),
    ResetBeforeApply,
    ApplyThenStall,
    ApplyThenReset,
    /// A 200 whose body says the update did not take; not applied.
    ErrorBody,
}

/// The random draws for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub fault: Fault,
    pub latency: Duration,
}

impl FaultConfig {
    pub fn plan(&self, sequence: u64) -> Plan {
        let mut state = self.seed ^ sequence.wrapping_mul(0xA24B_AED4_963E_E407);
        let mut draw = || {
            state = splitmix64(state);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let jitter = self.latency_jitter.as_secs_f64() * draw();
        let latency = self.latency + Duration::from_secs_f64(jitter);
        // One draw picks among the faults, so their probabilities add up.
        let x = draw();
        let mut edge = 0.0;
        let mut pick = |p: f64| {
            edge += p;
            x < edge
        };
        let fault = if pick(self.fail_5xx) {
            server_error(draw())
        } else if pick(self.reset_before_apply) {
            Fault::ResetBeforeApply
        } else if pick(self.apply_then_stall) {
            Fault::ApplyThenStall
        } else if pick(self.apply_then_reset) {
            Fault::ApplyThenReset
        } else if pick(self.error_200) {
            Fault::ErrorBody
        } else {
            Fault::None
        };
        Plan { fault, latency }
    }
}

/// Which 5xx a server-error fault answers with.
fn server_error(x: f64) -> Fault {
    Fault::ServerError(if x < 0.5 {
        503
    } else if x < 0.8 {
        500
    } else {
        502
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> FaultConfig {
        FaultConfig {
            seed,
            fail_5xx: 0.1,
            reset_before_apply: 0.1,
            apply_then_stall: 0.1,
            apply_then_reset: 0.1,
            latency_jitter: Duration::from_millis(10),
            ..FaultConfig::default()
        }
    }

    #[test]
    fn same_seed_same_plans() {
        let a: Vec<Plan> = (0..500).map(|i| config(7).plan(i)).collect();
        let b: Vec<Plan> = (0..500).map(|i| config(7).plan(i)).collect();
        let c: Vec<Plan> = (0..500).map(|i| config(8).plan(i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rates_are_roughly_the_probabilities() {
        let n = 20_000;
        let plans: Vec<Plan> = (0..n).map(|i| config(1).plan(i)).collect();
        let count = |f: fn(&Fault) -> bool| plans.iter().filter(|p| f(&p.fault)).count() as f64 / n as f64;
        for (name, rate) in [
            ("5xx", count(|f| matches!(f, Fault::ServerError(_)))),
            ("reset", count(|f| *f == Fault::ResetBeforeApply)),
            ("stall", count(|f| *f == Fault::ApplyThenStall)),
            ("apply-reset", count(|f| *f == Fault::ApplyThenReset)),
        ] {
            assert!((rate - 0.1).abs() < 0.02, "{name}: {rate}");
        }
        assert!(plans.iter().all(|p| p.latency <= Duration::from_millis(10)));
    }

    #[test]
    fn no_faults_by_default() {
        let none = FaultConfig::default();
        assert!((0..1000).all(|i| none.plan(i).fault == Fault::None));
    }
}
