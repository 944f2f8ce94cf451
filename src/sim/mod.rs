//! The TrackDrive simulator: the calls API on loopback, from an in-memory
//! store, with a server-side rate limit and seeded faults. Tests, benchmarks
//! and `run --sandbox` all run against it.

pub mod faults;
pub mod server;
pub mod store;

pub use faults::FaultConfig;
pub use server::{RateLimit, Sim, SimConfig, SimState};
pub use store::{Call, Store};
