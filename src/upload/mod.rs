//! The uploader: sends valid rows to the calls API, rate-limited, with
//! bounded concurrency and safe retries. `classify` decides what an outcome
//! means, `row` decides what to do about it, `gate` holds every attempt to
//! the rate and to the server's pauses, `client` is the only HTTP.

pub mod backoff;
pub mod classify;
pub mod client;
pub mod gate;
pub mod lookup;
pub mod outcome;
pub mod row;
