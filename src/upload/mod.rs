//! The uploader: sends valid rows to the calls API, rate-limited, with
//! bounded concurrency and safe retries. `credentials` reads the keys,
//! `http` builds the TLS client, `client` is the only HTTP (one attempt),
//! `attempt` says what an attempt produced in words, `retry` decides what it
//! means, `backoff` how long to wait, `gate` holds every attempt to the rate
//! and to the server's pauses (`auto_rate` finds the rate, `rate_memory`
//! keeps it between runs), `api` is the client every request goes through,
//! `row` sends one row (`settle`: a row in doubt, by its audit log), `identity` reads the ids of calls named by UUID, `window` reads a time window's calls in pages and
//! `lookup` the name lists (`pages` follows a list's pages either way). Writes its journal through `outputs`; never
//! touches `commands`.

pub mod api;
pub mod attempt;
pub mod auto_rate;
pub mod backoff;
pub mod client;
pub mod credentials;
pub mod gate;
pub mod http;
pub mod identity;
pub mod lookup;
pub mod pages;
pub mod rate_memory;
pub mod retry;
pub mod row;
mod settle;
pub mod window;
