//! The uploader: sends valid rows to the calls API, rate-limited, with
//! bounded concurrency and safe retries. `credentials` reads the keys,
//! `http` builds the TLS client, `client` is the only HTTP, `classify`
//! decides what an outcome means, `backoff` how long to wait, `gate` holds
//! every attempt to the rate and to the server's pauses, `row` decides what
//! to do about one row, and `lookup` reads the name lists. Writes its journal
//! and results through `outputs`; never touches `commands`.

pub mod auto_rate;
pub mod backoff;
pub mod classify;
pub mod client;
pub mod credentials;
pub mod gate;
pub mod http;
pub mod lookup;
pub mod rate_memory;
pub mod row;
pub mod window;
