//! The TrackDrive simulator: the calls API on loopback, from an in-memory
//! store, in the shapes TrackDrive documents, with a server-side rate limit
//! and seeded faults. Tests, benchmarks and `run --sandbox` all run against
//! it. `store` holds the calls and applies updates, `reads` and `writes`
//! answer requests, `server` holds the state and the connections, `faults`
//! draws each request's fate.

pub mod audit;
pub mod calls_file;
pub mod faults;
pub mod faults_file;
mod reads;
pub mod server;
pub mod store;
mod writes;

pub use faults::FaultConfig;
pub use server::{RateLimit, Shape, Sim, SimConfig, SimState};
pub use store::{Call, Store};

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;

/// The API's routes, and the simulator's own state.
fn routes(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/api/v1/calls", get(reads::calls_page))
        .route("/api/v1/calls/stats", get(reads::calls_stats))
        .route("/api/v1/calls/{id}", get(reads::show).put(writes::update).patch(writes::update).post(writes::update))
        .route("/api/v1/calls/{id}/events", get(reads::events))
        .route("/api/v1/{list}", get(reads::list))
        .route("/__sim/state", get(|State(s): State<Arc<SimState>>| async move { axum::Json(s.state_json()) }))
        .layer(axum::middleware::map_response_with_state(Arc::clone(&state), date_header))
        .with_state(state)
}

/// Every answer's `Date`, by the simulator's clock (which may run apart).
async fn date_header(
    State(sim): State<Arc<SimState>>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    let at = audit::now(sim.shape.clock_offset_ms);
    let when =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(at.as_millisecond()).unwrap_or(0));
    if let Ok(value) = axum::http::HeaderValue::from_str(&httpdate::fmt_http_date(when)) {
        response.headers_mut().insert(axum::http::header::DATE, value);
    }
    response
}
