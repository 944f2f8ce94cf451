//! `tdrecon sim`: serve the simulator until Ctrl-C or SIGTERM, printing its
//! base URL as the first line of stdout so a script can read it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::exit::{Exit, Fatal};
use crate::sim::calls_file::load_calls;
use crate::sim::{FaultConfig, Sim, SimConfig, Store};
use crate::trackdrive::credentials::Credentials;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub addr: SocketAddr,
    pub calls: u64,
    pub first_id: u64,
    pub calls_file: Option<PathBuf>,
    pub rate_limit: Option<crate::sim::RateLimit>,
    pub retry_after_date: bool,
    pub faults: FaultConfig,
    pub dump_state: Option<PathBuf>,
    /// The most calls a page of the calls list holds.
    pub max_per_page: usize,
    /// Where to write the base URL once listening, for scripts to wait on.
    pub url_file: Option<PathBuf>,
    /// How the calls and lists are shaped.
    pub shape: crate::sim::Shape,
}

pub fn run(opts: SimOptions) -> Result<Exit, Fatal> {
    let store = match &opts.calls_file {
        Some(path) => load_calls(path).map_err(Fatal::usage)?,
        None => Store::seeded(opts.first_id, opts.calls),
    };
    let keys = match Credentials::from_env() {
        Some(Ok(c)) => Some((c.public.clone(), c.private().to_string())),
        Some(Err(e)) => return Err(Fatal::usage(e)),
        None => {
            crate::console::err(
                "tdrecon sim: no TRACKDRIVE_PUBLIC_KEY/TRACKDRIVE_PRIVATE_KEY set: accepting any key\n",
            );
            None
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime").map_err(Fatal::usage)?;
    runtime.block_on(async {
        let calls = store.len();
        let config = SimConfig {
            addr: opts.addr,
            keys,
            rate_limit: opts.rate_limit,
            retry_after_date: opts.retry_after_date,
            max_per_page: opts.max_per_page,
            faults: opts.faults.clone(),
            shape: opts.shape.clone(),
            ..SimConfig::new(store)
        };
        let sim = Sim::start(config)
            .await
            .with_context(|| format!("cannot listen on {}", opts.addr))
            .map_err(Fatal::usage)?;
        if let Some(path) = &opts.url_file {
            crate::files::write_atomically(path, format!("{}\n", sim.base_url()).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Fatal::usage)?;
        }
        crate::console::out(&format!("{}\n", sim.base_url()));
        crate::console::err(&format!(
            "tdrecon sim: serving {}; state at {}/__sim/state; Ctrl-C to stop\n",
            crate::text::count(calls as u64, "call", "calls"),
            sim.base_url()
        ));
        crate::signals::wait_for_signal().await;
        sim.stop();
        if let Some(path) = &opts.dump_state {
            let json = serde_json::to_vec_pretty(&sim.state.state_json()).expect("state is plain JSON");
            crate::files::write_whole(path, &json)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Fatal::aborted)?;
        }
        Ok(Exit::Ok)
    })
}
