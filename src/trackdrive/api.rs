//! The API client every request goes through: row updates, call reads,
//! window pages, name lists and audit logs alike. It holds what they share
//! (the connection, the rate gate, the job's stop signal, the retry budget,
//! the send slots) and the retry mechanism: every attempt passes the gate,
//! `retry::decide` says what the answer means, and this applies it (stops
//! the job, pauses the gate, backs off with full jitter) until the request
//! is done, final, ambiguous, or the job stops.

use std::time::Duration;

use reqwest::Url;
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

use super::attempt::{Attempt, preflight_problem};
use super::backoff::{Backoff, RetryBudget, draw};
use super::client::{ApiClient, Endpoint, MAX_RESPONSE_BYTES};
use super::gate::{Gate, Stop};
use super::reply::{Exchange, Reply};
use super::retry::{Decision, RequestKind, answer_of, decide};
use crate::trackdrive::gate::StopReason;

/// How long after passing the rate limiter a request may still go out.
const STALE_ADMISSION: Duration = Duration::from_millis(25);

/// Retries the whole job may spend: this many, plus a share of first attempts.
const RETRY_FLOOR: u64 = 50;
const RETRY_PERCENT: u64 = 20;

/// What is being requested.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// A GET: safe to repeat.
    Read(&'a Url),
    /// An update, `safe` when it may be sent twice.
    Write { url: &'a Url, body: &'a [u8], safe: bool },
}

impl Request<'_> {
    fn kind(&self) -> RequestKind {
        match self {
            Request::Read(_) => RequestKind::Read,
            Request::Write { safe, .. } => RequestKind::Write { safe: *safe },
        }
    }
}

/// Called when a write has passed the gate, just before it is sent (every
/// time it passes: the hook keeps its own state): where the row's intent is
/// made durable. `Err` holds the write back.
pub trait BeforeWrite {
    fn before_write(&mut self) -> impl std::future::Future<Output = Result<(), Hold>>;
}

/// Why a write is held back.
#[derive(Debug)]
pub enum Hold {
    /// The job cannot go on (its intent cannot be recorded): it stops.
    Stop(String),
    /// This row must not be sent (it repeats an earlier run's change, which
    /// that run `applied`, or may have): it ends so, with why, and the job
    /// goes on.
    Repeat(String, bool),
}

/// For reads: nothing to do first.
pub struct NoHook;

impl BeforeWrite for NoHook {
    async fn before_write(&mut self) -> Result<(), Hold> {
        Ok(())
    }
}

/// Why a read of a JSON document failed: the last HTTP status, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadFailure {
    pub status: Option<u16>,
    pub why: String,
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// How the client is set up (all from the run's settings).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub concurrency: usize,
    pub backoff: Backoff,
    pub max_retries: u32,
}

/// The client, and everything the job's requests share.
pub struct Api {
    client: ApiClient,
    pub endpoint: Endpoint,
    pub gate: Gate,
    pub stop: Stop,
    pub budget: RetryBudget,
    /// Requests in flight at once (`--concurrency`).
    permits: Semaphore,
    backoff: Backoff,
    max_retries: u32,
    /// The first read, made once before the first update: `true` when the
    /// job may send (see `preflight`).
    preflight: OnceCell<bool>,
    /// How far the server's clock runs from this machine's, by its `Date`
    /// headers: the sample with the shortest round trip, `(rtt, skew ms)`.
    skew: std::sync::Mutex<Option<(Duration, i64)>>,
}

impl Api {
    pub fn new(client: ApiClient, endpoint: Endpoint, gate: Gate, settings: &ApiSettings) -> Api {
        Api {
            client,
            endpoint,
            gate,
            stop: Stop::default(),
            budget: RetryBudget::new(RETRY_FLOOR, RETRY_PERCENT),
            permits: Semaphore::new(settings.concurrency),
            backoff: settings.backoff,
            max_retries: settings.max_retries,
            preflight: OnceCell::new(),
            skew: std::sync::Mutex::new(None),
        }
    }

    /// How far the server's clock runs ahead of this machine's (negative:
    /// behind), in milliseconds, once a response has carried a `Date`.
    pub fn server_skew_ms(&self) -> Option<i64> {
        self.skew.lock().unwrap_or_else(|p| p.into_inner()).map(|(_, skew)| skew)
    }

    /// Takes a response's `Date` as a sample of the server's clock; the one
    /// with the shortest round trip is kept (it says the most).
    fn clock_sample(&self, date: std::time::SystemTime, sent: std::time::SystemTime, rtt: Duration) {
        let ms = |t: std::time::SystemTime| match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        // A Date is whole seconds: the server's time was within the second after it.
        let skew = ms(date) + 500 - (ms(sent) + i64::try_from(rtt.as_millis() / 2).unwrap_or(0));
        let mut best = self.skew.lock().unwrap_or_else(|p| p.into_inner());
        if best.is_none_or(|(r, _)| rtt < r) {
            *best = Some((rtt, skew));
        }
    }

    /// One authenticated read before the first update, made once for the
    /// job: bad keys, a certificate that is not trusted, a name that does not
    /// resolve or a refused connection stop it before any row is sent, with
    /// the cause in words. `true` when the job may send.
    pub async fn preflight(&self) -> bool {
        *self
            .preflight
            .get_or_init(|| async {
                tokio::select! {
                    biased;
                    _ = self.stop.stopped() => return false,
                    _ = self.gate.admit() => {}
                }
                let (attempt, _) = self.client.get(&self.endpoint.first_call_url()).await;
                match preflight_problem(&attempt, &self.endpoint.host()) {
                    None => true,
                    Some(why) => {
                        self.stop.trigger(StopReason::Aborted(why));
                        false
                    }
                }
            })
            .await
    }

    /// GETs a JSON document of the API (a list page, an events log), under
    /// the same gate and retries as the rows.
    pub async fn get_json(&self, url: &Url) -> Result<serde_json::Value, ReadFailure> {
        let mut exchange = Exchange::default();
        let mut jitter = 0x6c69_7374;
        let reply = self.request(Request::Read(url), &mut exchange, &mut NoHook, &mut jitter).await;
        let failed = |why: String| ReadFailure { status: exchange.http_status, why: format!("{url}: {why}") };
        match reply {
            Reply::Done(_, true) => Err(failed(format!("the response is over {MAX_RESPONSE_BYTES} bytes"))),
            Reply::Done(body, false) => serde_json::from_str(&body).map_err(|e| failed(format!("not JSON ({e})"))),
            Reply::Refused(error) | Reply::Repeat(error, _) | Reply::Failed(error) | Reply::Ambiguous(error) => {
                Err(failed(error))
            }
            Reply::Stopped => Err(failed("the job stopped".into())),
        }
    }

    /// One request, retried while that is safe.
    pub async fn request(
        &self,
        request: Request<'_>,
        exchange: &mut Exchange,
        hook: &mut impl BeforeWrite,
        jitter: &mut u64,
    ) -> Reply {
        let mut tries = 0u32;
        loop {
            let permit = match self.admit(exchange, &request, hook).await {
                Ok(Some(permit)) => permit,
                Ok(None) => continue,
                Err(reply) => return reply,
            };
            tries += 1;
            exchange.attempts += 1;
            exchange.writes += u32::from(matches!(request, Request::Write { .. }));
            let sent = std::time::SystemTime::now();
            let (attempt, latency) = match request {
                Request::Read(url) => self.client.get(url).await,
                Request::Write { url, body, .. } => self.client.send(url, body.to_vec()).await,
            };
            if let Attempt::Response { date: Some(date), .. } = &attempt {
                self.clock_sample(*date, sent, latency);
            }
            drop(permit);
            self.gate.observe(answer_of(&attempt), latency);
            exchange.latency = Some(latency);
            exchange.http_status = match &attempt {
                Attempt::Response { status, .. } => Some(*status),
                _ => None,
            };
            if matches!(request, Request::Write { .. }) {
                exchange.timed_out = matches!(attempt, Attempt::TimedOut);
            }
            let reason = match self.apply(decide(attempt, request.kind(), &self.endpoint.host(), now())) {
                Ok(reason) => reason,
                Err(reply) => return reply,
            };
            if let Err(reply) = self.back_off(exchange, tries, reason, jitter).await {
                return reply;
            }
        }
    }

    /// Applies a decision's effects on the job; `Ok` is the reason to retry.
    fn apply(&self, decision: Decision) -> Result<String, Reply> {
        match decision {
            Decision::End { reply, stop } => {
                if let Some(reason) = stop {
                    self.stop.trigger(StopReason::Aborted(reason));
                }
                Err(reply)
            }
            Decision::Retry { reason, throttled, pause } => {
                if throttled {
                    self.gate.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                // Everyone waits, not just this request; the backoff covers
                // a 429 that named no time.
                if let Some(wait) = pause {
                    self.gate.pause(wait);
                }
                Ok(reason)
            }
        }
    }

    /// Waits for the gate and a send slot. `Ok(None)`: let through too long
    /// ago or paused meanwhile, go through the gate again. A write's hook
    /// runs here, after the gate and before the slot.
    async fn admit(
        &self,
        exchange: &Exchange,
        request: &Request<'_>,
        hook: &mut impl BeforeWrite,
    ) -> Result<Option<SemaphorePermit<'_>>, Reply> {
        tokio::select! {
            biased;
            _ = self.stop.stopped() => return Err(Reply::Stopped),
            _ = self.gate.admit() => {}
        }
        // Stopped while waiting for the gate: do not send.
        if self.stop.is_stopped() {
            return Err(Reply::Stopped);
        }
        let admitted = std::time::Instant::now();
        // A write's intent is made durable once the gate lets it through:
        // rows waiting on the rate limit are not in doubt after a crash.
        if matches!(request, Request::Write { .. }) {
            match hook.before_write().await {
                Ok(()) => {}
                Err(Hold::Stop(why)) => {
                    self.stop.trigger(StopReason::Aborted(why));
                    return Err(Reply::Stopped);
                }
                Err(Hold::Repeat(why, applied)) => return Err(Reply::Repeat(why, applied)),
            }
        }
        // Send slots are taken after the hook (the journal's sync), so the
        // slots stay busy with requests while the journal syncs.
        let permit = tokio::select! {
            biased;
            _ = self.stop.stopped() => return Err(Reply::Stopped),
            permit = self.permits.acquire() => permit.expect("the send semaphore is never closed"),
        };
        // A 429 may have paused everyone while this request waited for a
        // slot. And a request the limiter let through long ago (the machine
        // stalled while its intent synced or it waited for a slot) goes
        // through the limiter again: sent now, together with the others held
        // up, they would burst past the rate.
        if self.gate.is_paused() || (self.gate.is_limited() && admitted.elapsed() > STALE_ADMISSION) {
            return Ok(None);
        }
        // Counted here, when the request really goes out: a row sent back
        // through the gate (paused by a 429) is not a new first attempt, and
        // each one would have grown the retry budget.
        if exchange.attempts == 0 {
            self.budget.first_attempt();
        }
        Ok(Some(permit))
    }

    /// Before a retry: within `--max-retries` and the job-wide budget, waits
    /// the backoff; `Err` ends the request.
    async fn back_off(
        &self,
        exchange: &mut Exchange,
        tries: u32,
        reason: String,
        jitter: &mut u64,
    ) -> Result<(), Reply> {
        if tries > self.max_retries {
            return Err(Reply::Failed(format!("{reason}; gave up after {tries} attempts")));
        }
        if !self.budget.try_spend() {
            self.stop.trigger(StopReason::Aborted(
                "the job-wide retry budget is spent: the API keeps failing, so the job stopped".into(),
            ));
            return Err(Reply::Failed(format!("{reason}; retry budget spent")));
        }
        let delay = self.backoff.delay(tries, draw(jitter));
        exchange.retried_for = reason;
        tokio::select! {
            biased;
            _ = self.stop.stopped() => Err(Reply::Stopped),
            _ = tokio::time::sleep(delay) => Ok(()),
        }
    }
}

fn now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}
