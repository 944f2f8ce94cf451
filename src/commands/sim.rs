//! `tdrecon sim`: serve the simulator until Ctrl-C or SIGTERM, printing its
//! base URL as the first line of stdout so a script can read it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use crate::exit::{Exit, Fatal};
use crate::input::money::{Sign, parse_money};
use crate::input::reader::{CsvReader, read_error};
use crate::input::values::CallRef;
use crate::sim::store::uuid_for;
use crate::sim::{Call, FaultConfig, Sim, SimConfig, Store};
use crate::upload::credentials::Credentials;

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
}

/// Seeds a store from a CSV with columns `id,uuid,revenue,payout` (either id
/// may be empty; a missing UUID is derived from the id).
pub fn load_calls(path: &Path) -> anyhow::Result<Store> {
    let (mut rdr, headers) = CsvReader::open(path, b',')?;
    let headers: Vec<String> = headers.iter().map(|h| crate::input::columns::normalise(h)).collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (id_col, uuid_col, revenue_col, payout_col) = (col("id"), col("uuid"), col("revenue"), col("payout"));
    let (created_col, caller_col) = (col("created_at"), col("caller_number"));
    let now = jiff::Timestamp::now().as_millisecond();
    if id_col.is_none() && uuid_col.is_none() {
        return Err(anyhow!("{}: expected columns id,uuid,revenue,payout", path.display()));
    }
    let mut store = Store::default();
    let mut next_id = 900_000_001u64;
    let mut n = 0usize;
    while let Some(record) = rdr.next_record().map_err(|e| read_error(path, e))? {
        let line = record.line;
        let at = || format!("{} line {line}", path.display());
        let cells: Vec<&str> = record
            .raw
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow!("{}: not UTF-8 text", at()))?;
        let cell = |c: Option<usize>| c.and_then(|i| cells.get(i).copied()).map(str::trim).filter(|s| !s.is_empty());
        let id = match cell(id_col).map(CallRef::parse) {
            Some(Ok(CallRef::Id(id))) => id,
            Some(_) => return Err(anyhow!("{}: id must be a numeric Call ID", at())),
            None => {
                next_id += 1;
                next_id
            }
        };
        let uuid = match cell(uuid_col).map(CallRef::parse) {
            Some(Ok(CallRef::Uuid(u))) => u,
            Some(_) => return Err(anyhow!("{}: uuid must be a Call UUID", at())),
            None => uuid_for(id),
        };
        let mut call = Call::new(id, uuid);
        if let Some(text) = cell(revenue_col) {
            call.revenue = parse_money(text, Sign::NonNegative).map_err(|e| anyhow!("{}: revenue: {e}", at()))?;
        }
        if let Some(text) = cell(payout_col) {
            call.payout = parse_money(text, Sign::NonNegative).map_err(|e| anyhow!("{}: payout: {e}", at()))?;
        }
        // Without a time, calls a minute apart over the day before now.
        call.created_at_ms = match cell(created_col) {
            Some(text) => text
                .parse::<jiff::Timestamp>()
                .map_err(|e| anyhow!("{}: created_at {text:?}: {e}", at()))?
                .as_millisecond(),
            None => now - 24 * 3600 * 1000 + n as i64 * 60_000,
        };
        n += 1;
        if let Some(number) = cell(caller_col) {
            call.caller_number = number.to_string();
        }
        store.insert(call);
    }
    Ok(store)
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
            store,
            keys,
            rate_limit: opts.rate_limit,
            retry_after_date: opts.retry_after_date,
            max_per_page: opts.max_per_page,
            faults: opts.faults.clone(),
        };
        let sim = Sim::start(config)
            .await
            .with_context(|| format!("cannot listen on {}", opts.addr))
            .map_err(Fatal::usage)?;
        if let Some(path) = &opts.url_file {
            crate::outputs::write_atomically(path, format!("{}\n", sim.base_url()).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Fatal::usage)?;
        }
        crate::console::out(&format!("{}\n", sim.base_url()));
        crate::console::err(&format!(
            "tdrecon sim: serving {}; state at {}/__sim/state; Ctrl-C to stop\n",
            crate::outputs::tally::count(calls as u64, "call", "calls"),
            sim.base_url()
        ));
        crate::signals::wait_for_signal().await;
        sim.stop();
        if let Some(path) = &opts.dump_state {
            let json = serde_json::to_vec_pretty(&sim.state.state_json()).expect("state is plain JSON");
            crate::outputs::write_whole(path, &json)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Fatal::aborted)?;
        }
        Ok(Exit::Ok)
    })
}
