//! The HTTP side of the simulator: routes, Basic auth, the server-side rate
//! limit, and the faults that need control of the connection itself.
//!
//! axum serves the routes, but connections are accepted here with hyper
//! directly: a "reset" fault has to drop the TCP connection mid-exchange,
//! which a handler can only do by signalling the task that owns it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use super::faults::{Fault, FaultConfig};
use super::store::{Serializer, Store, apply};

/// Everything the handlers share.
pub struct SimState {
    store: Mutex<Store>,
    credentials: Option<String>,
    rate_limit: Option<RateLimit>,
    max_per_page: usize,
    retry_after_date: bool,
    faults: FaultConfig,
    sequence: AtomicU64,
    /// The current rate-limit period's number and the requests counted in it.
    counted: Mutex<(u64, u64)>,
    started: std::time::Instant,
    /// API requests received in each 100 ms since start, to check a client's
    /// rate from the server's side.
    timeline: Mutex<Vec<u64>>,
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub faults_injected: AtomicU64,
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
}

impl SimState {
    fn new(config: SimConfig) -> SimState {
        SimState {
            store: Mutex::new(config.store),
            credentials: config.keys.map(|(public, private)| format!("{public}:{private}")),
            rate_limit: config.rate_limit,
            max_per_page: config.max_per_page.max(1),
            retry_after_date: config.retry_after_date,
            faults: config.faults,
            sequence: AtomicU64::new(0),
            counted: Mutex::new((0, 0)),
            started: std::time::Instant::now(),
            timeline: Mutex::new(Vec::new()),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
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
            }
        })
    }

    /// Counts an API request; the answer that refuses it, if it must be
    /// refused: 401 (bad key) or 429 (over the rate limit).
    fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
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
struct ConnKill(Arc<Notify>);

fn error(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn routes(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/api/v1/calls", get(calls_page))
        .route("/api/v1/calls/stats", get(calls_stats))
        .route("/api/v1/calls/{id}", get(show).put(update).patch(update).post(update))
        .route("/api/v1/calls/{id}/events", get(events))
        .route("/api/v1/{list}", get(list))
        .route("/__sim/state", get(|State(s): State<Arc<SimState>>| async move { axum::Json(s.state_json()) }))
        .with_state(state)
}

async fn show(
    State(sim): State<Arc<SimState>>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    let serializer = match Serializer::parse(query.get("serializer").map(String::as_str)) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": {"serializer": e}})),
    };
    match sim.store().find_mut(&key) {
        Some(call) => axum::Json(call.api_json(serializer)).into_response(),
        None => not_found(&key),
    }
}

/// A `created_at_from` / `created_at_to` bound: ISO 8601, or TrackDrive's
/// `2016-01-01 12:25:15 -0500`.
fn time_param(query: &HashMap<String, String>, key: &str) -> Result<Option<i64>, String> {
    let Some(text) = query.get(key) else { return Ok(None) };
    let parsed = text
        .parse::<jiff::Timestamp>()
        .ok()
        .or_else(|| jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", text.trim()).ok()?.to_timestamp().ok());
    match parsed {
        Some(t) => Ok(Some(t.as_millisecond())),
        None => Err(format!("{key}: not a time: {text}")),
    }
}

impl SimState {
    /// Admits a list or stats request (count, auth, rate limit) and reads
    /// its `created_at_from` / `created_at_to` window; `Err` is the answer
    /// that refuses it.
    fn admit_window(
        &self,
        headers: &HeaderMap,
        query: &HashMap<String, String>,
    ) -> Result<(Option<i64>, Option<i64>), Box<Response>> {
        if let Some(refused) = self.refusal(headers) {
            return Err(Box::new(refused));
        }
        match (time_param(query, "created_at_from"), time_param(query, "created_at_to")) {
            (Ok(from), Ok(to)) => Ok((from, to)),
            (Err(e), _) | (_, Err(e)) => {
                Err(Box::new(error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": {"created_at": e}}))))
            }
        }
    }
}

/// `GET /api/v1/calls`: calls by `created_at` window, oldest first, in pages
/// with a cursor (`cursor=-1` first, then `metadata.next_cursor`; `0` on the
/// last page), `per_page` capped by `--max-per-page`, `columns=` to limit
/// the fields.
async fn calls_page(
    State(sim): State<Arc<SimState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (from, to) = match sim.admit_window(&headers, &query) {
        Ok(window) => window,
        Err(refused) => return *refused,
    };
    let per_page = query.get("per_page").and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0).unwrap_or(25);
    let per_page = per_page.min(sim.max_per_page);
    let start = match query.get("cursor").map(String::as_str) {
        None | Some("-1") => 0,
        Some(c) => match c.parse::<usize>() {
            Ok(n) if n > 0 => n - 1,
            _ => return error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": {"cursor": "not a cursor"}})),
        },
    };
    let columns: Option<Vec<&str>> = query.get("columns").map(|c| c.split(',').map(str::trim).collect());
    let store = sim.store();
    let calls = store.in_window(from, to);
    let page: Vec<Value> = calls
        .iter()
        .skip(start)
        .take(per_page)
        .map(|c| {
            let mut call = c.api_json(Serializer::Call)["call"].take();
            if let (Some(columns), Some(fields)) = (&columns, call.as_object_mut()) {
                fields.retain(|k, _| columns.contains(&k.as_str()));
            }
            call
        })
        .collect();
    let next = if start + per_page < calls.len() { start + per_page + 1 } else { 0 };
    axum::Json(json!({
        "calls": page,
        "metadata": {"next_cursor": next, "per_page": per_page, "total_count": calls.len()}
    }))
    .into_response()
}

/// `GET /api/v1/calls/stats?group_by=created_at_day&stat=count|revenue|profit|cost`
/// over the same window: one entry a day.
async fn calls_stats(
    State(sim): State<Arc<SimState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (from, to) = match sim.admit_window(&headers, &query) {
        Ok(window) => window,
        Err(refused) => return *refused,
    };
    let stat = query.get("stat").map(String::as_str).unwrap_or("count");
    if !["count", "revenue", "profit", "cost"].contains(&stat) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": {"stat": "count, revenue, profit or cost"}}));
    }
    let store = sim.store();
    let mut days: std::collections::BTreeMap<String, (u64, rust_decimal::Decimal)> = Default::default();
    for call in store.in_window(from, to) {
        let day = call.created_at().get(..10).unwrap_or_default().to_string();
        let value = match stat {
            "revenue" => call.revenue,
            "profit" => call.profit(),
            "cost" => call.payout,
            _ => rust_decimal::Decimal::ONE,
        };
        let entry = days.entry(day).or_default();
        entry.0 += 1;
        entry.1 += value;
    }
    let rows: Vec<Value> = days
        .into_iter()
        .map(|(day, (count, total))| {
            let value = if stat == "count" { json!(count) } else { json!(total.round_dp(2).to_string()) };
            json!({"created_at_day": day, stat: value})
        })
        .collect();
    axum::Json(json!({"stats": rows})).into_response()
}

/// `GET /api/v1/calls/:id/events`: the call's event log, audit entries included.
async fn events(State(sim): State<Arc<SimState>>, Path(key): Path<String>, headers: HeaderMap) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    match sim.store().find_mut(&key) {
        Some(call) => axum::Json(call.events_json()).into_response(),
        None => not_found(&key),
    }
}

/// `GET /api/v1/call_dispositions|buyers|traffic_sources?page=&per_page=`.
async fn list(
    State(sim): State<Arc<SimState>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    let Some((key, items)) = super::store::list(&name) else {
        return error(StatusCode::NOT_FOUND, json!({"error": format!("no such list: {name}")}));
    };
    let number = |k: &str, default: usize| {
        query.get(k).and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0).unwrap_or(default)
    };
    let (page, per_page) = (number("page", 1), number("per_page", 25).min(100));
    let total_pages = items.len().div_ceil(per_page).max(1);
    let rows: Vec<Value> = items.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
    axum::Json(json!({
        key: rows,
        "metadata": {"current_page": page, "total_pages": total_pages, "per_page": per_page, "total_count": items.len()}
    }))
    .into_response()
}

fn throttled(retry_after: HeaderValue) -> Response {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, json!({"error": "rate limit exceeded"}));
    response.headers_mut().insert(header::RETRY_AFTER, retry_after);
    response
}

fn not_found(key: &str) -> Response {
    error(StatusCode::NOT_FOUND, json!({"errors": {"id": format!("no call with id {key}")}}))
}

async fn update(
    State(sim): State<Arc<SimState>>,
    method: axum::http::Method,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    Extension(kill): Extension<ConnKill>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    let sequence = sim.sequence.fetch_add(1, Ordering::Relaxed);
    let plan = sim.faults.plan(sequence);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let fail_first = {
        let mut store = sim.store();
        let Some(call) = store.find_mut(&key) else { return not_found(&key) };
        call.requests_seen += 1;
        call.requests_seen <= sim.faults.fail_first
    };
    let fault = if fail_first { Fault::ServerError(503) } else { plan.fault };
    if fault != Fault::None {
        sim.faults_injected.fetch_add(1, Ordering::Relaxed);
    }
    match fault {
        Fault::ServerError(code) => {
            let status = StatusCode::from_u16(code).expect("fault codes are valid statuses");
            return error(status, json!({"error": "simulated server error"}));
        }
        Fault::ResetBeforeApply => return reset(kill).await,
        _ => {}
    }
    let body: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => map,
        _ => return error(StatusCode::BAD_REQUEST, json!({"error": "the body must be a JSON object"})),
    };
    let serializer_param =
        query.get("serializer").map(String::as_str).or(body.get("serializer").and_then(Value::as_str));
    let serializer = match Serializer::parse(serializer_param) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": {"serializer": e}})),
    };
    let applied = {
        let mut store = sim.store();
        let Some(call) = store.find_mut(&key) else { return not_found(&key) };
        apply(call, &body).map(|()| {
            let now = jiff::Timestamp::now().to_string();
            call.audit(&format!("/api/v1/calls/{key}"), method.as_str(), &body, &now);
            call.api_json(serializer)
        })
    };
    let response = match applied {
        Ok(call) => axum::Json(call).into_response(),
        Err(errors) => return error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": errors})),
    };
    match fault {
        Fault::ApplyThenStall => {
            tokio::time::sleep(sim.faults.stall).await;
            response
        }
        Fault::ApplyThenReset => reset(kill).await,
        _ => response,
    }
}

/// Drops the connection: the client sees it close with no response.
async fn reset(kill: ConnKill) -> Response {
    kill.0.notify_one();
    // The connection task drops this future with the connection.
    std::future::pending().await
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
        tokio::spawn(accept_loop(listener, routes(Arc::clone(&state)), stop));
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
