//! TrackDrive's API, and nothing else: the one HTTP client every request
//! goes through and what it reads. `credentials` reads the keys, `http`
//! builds the TLS client, `client` makes one attempt, `attempt` says what it
//! produced in words, `retry` decides what it means, `backoff` how long to
//! wait, `gate` holds every attempt to the rate and to the server's pauses
//! (`auto_rate` finds the rate), `api` is the client every request goes
//! through. Reads: `window` (a time window's calls in pages), `pages` (a
//! list's pages, whichever way it says them), `lookup` (the name lists),
//! `identity` (the id of a call named by UUID), `snapshot` (a call as the API
//! returns it), `events` (a call's audit log, every page). Depends on `input` (the field
//! table) and `resolve` (the data the reads build) only.

pub mod api;
pub mod attempt;
pub mod auto_rate;
pub mod backoff;
pub mod client;
pub mod credentials;
pub mod events;
pub mod fetch;
pub mod gate;
pub mod http;
pub mod identity;
pub mod lookup;
pub mod pages;
pub mod reply;
pub mod retry;
pub mod snapshot;
pub mod window;

pub use snapshot::Snapshot;
