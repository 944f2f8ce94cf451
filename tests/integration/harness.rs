//! A simulator running in the test process, on its own runtime, that the
//! real binary talks to over loopback; and small helpers to read its state
//! and the job's CSV outputs.

use std::collections::HashMap;

use serde_json::Value;
use tdrecon::sim::{Sim, SimConfig, Store};

pub const PUBLIC: &str = "pk_test_4f9a";
pub const PRIVATE: &str = "sk_test_b71c0e";

pub struct SimHarness {
    // Dropped after `sim`, so the server's tasks stop with the runtime.
    sim: Sim,
    _runtime: tokio::runtime::Runtime,
}

impl SimHarness {
    pub fn start(calls: u64, configure: impl FnOnce(&mut SimConfig)) -> SimHarness {
        let mut config = SimConfig {
            keys: Some((PUBLIC.into(), PRIVATE.into())),
            ..SimConfig::new(Store::seeded(100000001, calls))
        };
        configure(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let sim = runtime.block_on(Sim::start(config)).unwrap();
        SimHarness { sim, _runtime: runtime }
    }

    pub fn url(&self) -> String {
        self.sim.base_url()
    }

    pub fn state(&self) -> Value {
        self.sim.state.state_json()
    }

    pub fn call(&self, id: u64) -> Value {
        self.state()["calls"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().expect("call exists")
    }

    /// Every call by id, from one read of the state (`call` reads it whole
    /// each time: use this in loops).
    pub fn calls_by_id(&self) -> HashMap<u64, Value> {
        let state = self.state();
        state["calls"].as_array().unwrap().iter().map(|c| (c["id"].as_u64().unwrap(), c.clone())).collect()
    }

    /// Changes the simulator's faults from the next request on.
    pub fn set_faults(&self, faults: tdrecon::sim::FaultConfig) {
        self.sim.state.set_faults(faults);
    }

    /// How many times each of the calls `FIRST .. FIRST + n` was changed.
    pub fn applied(&self, n: u64) -> Vec<u64> {
        let calls = self.calls_by_id();
        (0..n).map(|i| calls[&(FIRST + i)]["updates_applied"].as_u64().unwrap()).collect()
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.state()["stats"][name].as_u64().unwrap()
    }
}

/// `tdrecon run FILE` against `sim` with the test keys, quietly, unthrottled
/// (unless `extra` sets `--rate`),
/// with short backoffs, plus `extra`.
pub fn run_job(wd: &crate::util::Workdir, sim: &SimHarness, file: &str, extra: &[&str]) -> std::process::Command {
    job_command("run", wd, sim, file, extra)
}

/// A module's usual run: the flags every one of its tests takes, in front
/// of each test's own (`RECONCILE.run(&wd, &sim, "in.csv", &[...])`).
pub struct Preset(pub &'static [&'static str]);

impl Preset {
    pub fn run(
        &self,
        wd: &crate::util::Workdir,
        sim: &SimHarness,
        file: &str,
        extra: &[&str],
    ) -> std::process::Command {
        run_job(wd, sim, file, &[self.0, extra].concat())
    }
}

/// `run_job`, as `tdrecon plan`.
pub fn plan_job(wd: &crate::util::Workdir, sim: &SimHarness, file: &str, extra: &[&str]) -> std::process::Command {
    job_command("plan", wd, sim, file, extra)
}

/// The one place a job's command line is built: every module's `job`
/// calls `run_job` or `plan_job` with the flags it adds.
fn job_command(
    verb: &str,
    wd: &crate::util::Workdir,
    sim: &SimHarness,
    file: &str,
    extra: &[&str],
) -> std::process::Command {
    let url = sim.url();
    // The simulator applies an update before it answers, or not at all (a
    // connection dropped before then cancels it): its writes land at once,
    // so a row in doubt need not wait the real service's minute.
    let mut args = vec![verb, file, "--base-url", &url, "--quiet", "--backoff-base-ms", "5"];
    if verb == "run" {
        args.extend_from_slice(&["--audit-lag", "2s"]);
    }
    if !extra.contains(&"--rate") {
        args.extend_from_slice(&["--rate", "0"]);
    }
    args.extend_from_slice(extra);
    with_keys(wd.command(&args))
}

/// `cmd` with the simulator's test keys in its environment.
pub fn with_keys(mut cmd: std::process::Command) -> std::process::Command {
    cmd.env("TRACKDRIVE_PUBLIC_KEY", PUBLIC).env("TRACKDRIVE_PRIVATE_KEY", PRIVATE);
    cmd
}

/// The first call id of a seeded simulator.
pub const FIRST: u64 = 100000001;

/// `n` rows, each adding `amount(i)` to its own call `FIRST + i`.
pub fn add_rows(n: u64, amount: impl Fn(u64) -> String) -> String {
    let mut s = String::from("id,add_revenue\n");
    for i in 0..n {
        s.push_str(&format!("{},{}\n", FIRST + i, amount(i)));
    }
    s
}

/// A CSV file's rows as maps from header to cell.
pub fn rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    rdr.records().map(|r| headers.iter().cloned().zip(r.unwrap().iter().map(String::from)).collect()).collect()
}

/// How many rows of a results file ended each way, by status.
pub fn statuses(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for r in by_line(text).values() {
        *counts.entry(r["status"].clone()).or_default() += 1;
    }
    counts
}

/// Results rows keyed by input line.
pub fn by_line(text: &str) -> HashMap<u64, HashMap<String, String>> {
    rows(text).into_iter().map(|r| (r["line"].parse().unwrap(), r)).collect()
}
