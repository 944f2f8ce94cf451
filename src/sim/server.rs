//! The HTTP side of the simulator: its state, routes, Basic auth, the
//! server-side rate limit, and the connections (the handlers are in `reads`
//! and `writes`).
//!
//! axum serves the routes, but connections are accepted here with hyper
//! directly: a "reset" fault has to drop the TCP connection mid-exchange,
//! which a handler can only do by signalling the task that owns it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::faults::FaultConfig;
use super::store::Store;

/// Everything the handlers share.
pub struct SimState {
    store: Mutex<Store>,
    credentials: Option<String>,
    rate_limit: Option<RateLimit>,
    pub(super) max_per_page: usize,
    retry_after_date: bool,
    /// The faults in force: a test may change them between runs.
    faults: Mutex<FaultConfig>,
    pub(super) shape: Shape,
    pub(super) sequence: AtomicU64,
    /// The current rate-limit period's number and the requests counted in it.
    counted: Mutex<(u64, u64)>,
    started: std::time::Instant,
    /// API requests received in each 100 ms since start, to check a client's
    /// rate from the server's side.
    timeline: Mutex<Vec<u64>>,
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub faults_injected: AtomicU64,
    /// Pages of call events served (what settling rows in doubt costs).
    pub event_reads: AtomicU64,
}

/// A limit like an API gateway's: `per_second` on average, counted over fixed
/// periods of `period` (a second, or a minute), each allowing
/// `per_second × period + burst` requests before answering 429 with
/// `Retry-After` set to the period's end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
    pub period: Duration,
}

impl RateLimit {
    /// `n` a second in one-second periods, no burst.
    pub fn per_second(n: u32) -> RateLimit {
        RateLimit { per_second: n, burst: 0, period: Duration::from_secs(1) }
    }
}

/// How to run a simulator.
#[derive(Debug)]
pub struct SimConfig {
    pub addr: SocketAddr,
    pub store: Store,
    /// `(public, private)`; `None` accepts any key.
    pub keys: Option<(String, String)>,
    /// The server-side rate limit, if any.
    pub rate_limit: Option<RateLimit>,
    /// Send `Retry-After` as an HTTP date instead of seconds.
    pub retry_after_date: bool,
    pub faults: FaultConfig,
    /// The most calls a page of `GET /api/v1/calls` holds.
    pub max_per_page: usize,
    /// How the calls and lists are shaped, where a real account may differ.
    pub shape: Shape,
}

impl SimConfig {
    /// A simulator of `store` on a free loopback port: any key, no limit,
    /// no fault, pages of at most 100.
    pub fn new(store: Store) -> SimConfig {
        SimConfig {
            addr: ([127, 0, 0, 1], 0).into(),
            store,
            keys: None,
            rate_limit: None,
            retry_after_date: false,
            faults: FaultConfig::default(),
            max_per_page: 100,
            shape: Shape::default(),
        }
    }
}

/// Where a real account may differ from the documented shapes: switches to
/// rehearse those differences against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// Fields of the call resource left out of every call served (`doctor`
    /// then warns of them).
    pub omit: Vec<String>,
    /// Refuse any `columns=` with a 422, as an account might.
    pub refuse_columns: bool,
    /// The server's clock runs this far from real time (its AuditLog times
    /// and `Date` header): negative is behind.
    pub clock_offset_ms: i64,
    /// A call's events this many a page (`metadata.next_cursor`); 0: all.
    pub events_per_page: usize,
    /// How AuditLog entries record an update's params.
    pub audit: super::audit::AuditStyle,
    /// Refuse an update carrying a parameter the API does not know (a 422
    /// naming it), as an account might.
    pub refuse_unknown: bool,
}

impl SimState {
    fn new(config: SimConfig) -> SimState {
        SimState {
            store: Mutex::new(config.store),
            credentials: config.keys.map(|(public, private)| format!("{public}:{private}")),
            rate_limit: config.rate_limit,
            max_per_page: config.max_per_page.max(1),
            retry_after_date: config.retry_after_date,
            faults: Mutex::new(config.faults),
            shape: config.shape,
            sequence: AtomicU64::new(0),
            counted: Mutex::new((0, 0)),
            started: std::time::Instant::now(),
            timeline: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
            event_reads: AtomicU64::new(0),
        }
    }

    /// Counts one API request, by arrival time.
    fn arrived(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let slot = (self.started.elapsed().as_millis() / 100) as usize;
        let mut timeline = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        if timeline.len() <= slot {
            timeline.resize(slot + 1, 0);
        }
        timeline[slot] += 1;
    }

    /// The faults in force now.
    pub fn faults(&self) -> FaultConfig {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes the faults from the next request on.
    pub fn set_faults(&self, faults: FaultConfig) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        // The store is only changed by whole-call replacement: never torn.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The whole store and the counters, as `/__sim/state` returns them.
    pub fn state_json(&self) -> Value {
        let calls: Vec<Value> = self.store().calls().iter().map(|c| c.state_json()).collect();
        let timeline = self.timeline.lock().unwrap_or_else(|p| p.into_inner()).clone();
        json!({
            "calls": calls,
            "requests_per_100ms": timeline,
            "stats": {
                "requests": self.requests.load(Ordering::Relaxed),
                "throttled": self.throttled.load(Ordering::Relaxed),
                "faults": self.faults_injected.load(Ordering::Relaxed),
                "event_reads": self.event_reads.load(Ordering::Relaxed),
            }
        })
    }

    /// Counts an API request; the answer that refuses it, if it must be
    /// refused: 401 (bad key) or 429 (over the rate limit).
    pub(super) fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        self.arrived();
        if !self.authorised(headers) {
            return Some(error(StatusCode::UNAUTHORIZED, json!({"error": "invalid API key"})));
        }
        self.throttle().map(throttled)
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.credentials else { return true };
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, encoded)) = value.split_once(' ') else { return false };
        scheme.eq_ignore_ascii_case("basic")
            && base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .is_ok_and(|decoded| decoded == expected.as_bytes())
    }

    /// Fixed periods on the wall clock: `Some(retry-after)` when this
    /// request is over the limit.
    fn throttle(&self) -> Option<HeaderValue> {
        let limit = self.rate_limit?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let period_ms = limit.period.as_millis().max(1) as u64;
        let now_ms = now.as_millis() as u64;
        let index = now_ms / period_ms;
        let allowed = u64::from(limit.per_second) * period_ms / 1000 + u64::from(limit.burst);
        let mut counted = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        if counted.0 != index {
            *counted = (index, 0);
        }
        counted.1 += 1;
        if counted.1 <= allowed {
            return None;
        }
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let ends_ms = (index + 1) * period_ms;
        let value = if self.retry_after_date {
            httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ends_ms.div_ceil(1000) * 1000))
        } else {
            // Whole seconds until the period ends, at least 1.
            (ends_ms.saturating_sub(now_ms)).div_ceil(1000).max(1).to_string()
        };
        Some(HeaderValue::from_str(&value).expect("a number or an HTTP date is a valid header value"))
    }
}

/// Signals the task that owns a connection to drop it.
#[derive(Clone)]
pub(super) struct ConnKill(pub Arc<Notify>);

pub(super) fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(super) fn not_found(key: &str) -> Response {
    error(StatusCode::NOT_FOUND, json!({"errors": {"id": format!("no call with id {key}")}}))
}

fn throttled(retry_after: HeaderValue) -> Response {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, json!({"error": "rate limit exceeded"}));
    response.headers_mut().insert(header::RETRY_AFTER, retry_after);
    response
}

/// A running simulator.
pub struct Sim {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    shutdown: watch::Sender<bool>,
}

impl Sim {
    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState::new(config));
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(accept_loop(listener, super::routes(Arc::clone(&state)), stop));
        Ok(Sim { addr, state, shutdown })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and closes open connections.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: back off, keep serving.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let conn_kill = ConnKill(Arc::clone(&kill));
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(conn_kill.clone());
                router.clone().oneshot(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = stop.changed() => {}
            }
        });
    }
}
