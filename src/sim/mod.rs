//! The TrackDrive simulator: the calls API on loopback, from an in-memory
//! store, in the shapes TrackDrive documents, with a server-side rate limit
//! and seeded faults. Tests, benchmarks and `run --sandbox` all run against
//! it. `store` holds the calls and applies updates, `reads` and `writes`
//! answer requests, `server` holds the state and the connections, `faults`
//! draws each request's fate.

pub mod faults;
mod reads;
pub mod server;
pub mod store;
mod writes;

pub use faults::FaultConfig;
pub use server::{RateLimit, Shape, Sim, SimConfig, SimState};
pub use store::{Call, Store};
