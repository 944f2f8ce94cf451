//! `tdrecon sim`'s flags: where it listens, the calls it serves, and the
//! few faults a rehearsal sets by hand; every other fault and shape comes
//! from a file (`--faults FILE.toml`, `sim::faults_file`), which these
//! flags override.

use std::path::PathBuf;

use clap::Args;

use super::values::probability;
use crate::commands::sim::SimOptions;
use crate::exit::Fatal;
use crate::sim::RateLimit;
use crate::sim::faults_file::{FaultsFile, Rehearsal};

#[derive(Debug, Args)]
pub(super) struct SimArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: std::net::SocketAddr,
    /// How many calls to create.
    #[arg(long, default_value_t = 1000, conflicts_with = "calls_file", value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    pub calls: u64,
    /// The first call id; the rest count up from it.
    #[arg(long, default_value_t = 100_000_001)]
    pub first_id: u64,
    /// Seed the calls from a CSV: id and/or uuid, created_at (ISO 8601), caller_number, and any call
    /// field under its resource name or update parameter (revenue, payout, buyer_converted, buyer_id,
    /// disposition_id, disposition_notes…).
    #[arg(long, value_name = "CSV")]
    pub calls_file: Option<PathBuf>,
    /// The faults and the shape to rehearse against, from a TOML file: 5xx, resets before and after
    /// applying, stalls, 200s that did not take, latency, a rate limit, a clock apart, paged events,
    /// audit logs typed otherwise (GUIDE.md, "The simulator", lists the keys).
    #[arg(long, value_name = "FILE.toml")]
    pub faults: Option<PathBuf>,
    /// Seed for fault injection: the same seed gives the same faults for the same request order
    /// [default: the faults file's, else 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Probability that an update gets a 5xx (500, 502 or 503) without being applied.
    #[arg(long = "fail-5xx", value_parser = probability, value_name = "P")]
    pub fail_5xx: Option<f64>,
    /// Requests per second before answering 429 with Retry-After (per one-second window; the faults
    /// file sets a burst and a longer window).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit: Option<u32>,
    /// On SIGINT/SIGTERM, write the final state JSON here before exiting.
    #[arg(long, value_name = "FILE")]
    pub dump_state: Option<PathBuf>,
    /// Once listening, write the base URL to this file (atomically: a script can wait for it to
    /// appear, then read it: `until [ -s sim.url ]; do sleep 0.1; done`).
    #[arg(long, value_name = "PATH")]
    pub url_file: Option<PathBuf>,
    /// The most calls a page of GET /api/v1/calls holds, whatever per_page asks.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_per_page: u32,
}

impl SimArgs {
    pub(super) fn resolve(self) -> Result<SimOptions, Fatal> {
        let mut rehearsal = match &self.faults {
            Some(path) => FaultsFile::load(path).map_err(|e| Fatal::usage(anyhow::anyhow!(e)))?,
            None => Rehearsal::plain(),
        };
        if let Some(seed) = self.seed {
            rehearsal.faults.seed = seed;
        }
        if let Some(p) = self.fail_5xx {
            rehearsal.faults.fail_5xx = p;
        }
        if let Some(n) = self.rate_limit {
            rehearsal.rate_limit = Some(RateLimit::per_second(n));
        }
        Ok(SimOptions {
            addr: self.addr,
            calls: self.calls,
            first_id: self.first_id,
            calls_file: self.calls_file,
            rate_limit: rehearsal.rate_limit,
            retry_after_date: rehearsal.retry_after_date,
            faults: rehearsal.faults,
            dump_state: self.dump_state,
            url_file: self.url_file,
            max_per_page: self.max_per_page as usize,
            shape: rehearsal.shape,
        })
    }
}
