//! `run --sandbox`: a simulator in process, seeded with the file's calls
//! (a few left out, so a 404 shows), with light seeded faults so the
//! rehearsal exercises retries; and the state summary printed at the end.

use std::time::Duration;

use rust_decimal::Decimal;

use crate::exit::Fatal;
use crate::input::fields::{CallField, Value};
use crate::input::update::CallUpdate;
use crate::input::values::CallRef;
use crate::sim::store::uuid_for;
use crate::sim::{Call, FaultConfig, Sim, SimConfig, Store};

/// One call in this many is left out of the sandbox, so its row gets a 404.
const MISSING_EVERY: usize = 25;

/// The faults a sandbox rehearsal runs with.
pub fn faults() -> FaultConfig {
    FaultConfig {
        seed: 1,
        fail_5xx: 0.03,
        latency: Duration::from_millis(2),
        latency_jitter: Duration::from_millis(10),
        ..FaultConfig::default()
    }
}

/// Builds the store of a sandbox from the file's valid rows, one at a time.
#[derive(Default)]
pub struct Seeder {
    store: Store,
    /// Ids for calls a row names by UUID or finds by caller.
    synthetic_id: u64,
    rows: usize,
}

impl Seeder {
    /// Adds the call a valid row names (one in `MISSING_EVERY` left out).
    pub fn add(&mut self, update: &CallUpdate) {
        self.rows += 1;
        if self.rows.is_multiple_of(MISSING_EVERY) {
            return;
        }
        let mut synthetic = || {
            self.synthetic_id += 1;
            900_000_000 + self.synthetic_id
        };
        let mut call = match update.call {
            // A row found by caller and time gets a call from that caller then.
            CallRef::PENDING => {
                let id = synthetic();
                Call::new(id, uuid_for(id))
            }
            CallRef::Id(id) => Call::new(id, uuid_for(id)),
            CallRef::Uuid(uuid) => Call::new(synthetic(), uuid),
        };
        if let Some(at) = update.call_time {
            call.created_at_ms = at;
        }
        if let Some(caller) = &update.caller_number {
            call.caller_number = caller.clone();
        }
        // Some history to add to, so set and add give visibly different results.
        call.set(CallField::Revenue, Some(Value::Money(Decimal::new(1000 + (self.rows as i64 % 7) * 250, 2))));
        call.set(CallField::Payout, Some(Value::Money(Decimal::new(500, 2))));
        self.store.insert(call);
    }

    pub fn into_store(self) -> Store {
        self.store
    }
}

pub async fn start(store: Store) -> Result<Sim, Fatal> {
    let config = SimConfig { faults: faults(), ..SimConfig::new(store) };
    Sim::start(config).await.map_err(|e| Fatal::usage(anyhow::anyhow!("cannot start the sandbox simulator: {e}")))
}

/// A few lines on what the sandbox holds after the run.
pub fn describe(sim: &Sim) -> String {
    let state = sim.state.state_json();
    let calls = state["calls"].as_array().map(Vec::as_slice).unwrap_or_default();
    let updated = calls.iter().filter(|c| c["updates_applied"].as_u64().unwrap_or(0) > 0).count();
    let applied: u64 = calls.iter().filter_map(|c| c["updates_applied"].as_u64()).sum();
    let twice = calls.iter().filter(|c| c["updates_applied"].as_u64().unwrap_or(0) > 1).count();
    let total = |key: &str| -> Decimal {
        calls.iter().filter_map(|c| c[key].as_str()).filter_map(|s| Decimal::from_str_exact(s).ok()).sum()
    };
    format!(
        "sandbox: {} calls, {updated} updated ({applied} updates applied, {twice} calls updated more than once)\n\
         sandbox: revenue total {}, payout total {}\n\
         sandbox: {} requests, {} injected faults, {} throttled\n",
        calls.len(),
        total("revenue"),
        total("payout"),
        state["stats"]["requests"],
        state["stats"]["faults"],
        state["stats"]["throttled"],
    )
}
