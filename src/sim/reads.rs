//! What the simulator serves to reads, in the shapes TrackDrive documents
//! (../shared/TRACKDRIVE-API.md): a call under its resource's names inside
//! `{"call": …}`; the calls list as `{"calls": […], "metadata": …}` (or a
//! bare array with `root=false`), 25 a page unless `per_page` says, capped,
//! followed by `cursor` (`-1` first, `next_cursor` `0` on the last page) or
//! by `page`; `columns=` only from the pick list (anything else is a 422);
//! stats that require `group_by`, `stat` and the window; the name lists in
//! pages (traffic sources 25 a page, without `total_pages`); events.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::server::{SimState, error, not_found};
use super::store::{Call, Serializer};
use crate::input::fields::PICK_LIST;

/// Calls a page holds when `per_page` does not say.
const DEFAULT_PER_PAGE: usize = 25;

/// A call as served: its resource's fields, less the ones the shape omits.
fn served(sim: &SimState, call: &Call, serializer: Serializer) -> Value {
    let mut json = call.api_json(serializer);
    if let Some(fields) = json.get_mut("call").and_then(Value::as_object_mut) {
        fields.retain(|k, _| !sim.shape.omit.iter().any(|o| o == k));
    }
    json
}

/// `GET /api/v1/calls/:id` (id or UUID).
pub(super) async fn show(
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
        Some(call) => axum::Json(served(&sim, call, serializer)).into_response(),
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

fn unprocessable(key: &str, why: impl Into<String>) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, json!({"status": 422, "errors": {key: [why.into()]}}))
}

/// Admits a list or stats request (count, auth, rate limit) and reads its
/// `created_at_from` / `created_at_to` window; `Err` is the answer that
/// refuses it.
fn admit_window(
    sim: &SimState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(Option<i64>, Option<i64>), Box<Response>> {
    if let Some(refused) = sim.refusal(headers) {
        return Err(Box::new(refused));
    }
    match (time_param(query, "created_at_from"), time_param(query, "created_at_to")) {
        (Ok(from), Ok(to)) => Ok((from, to)),
        (Err(e), _) | (_, Err(e)) => Err(Box::new(unprocessable("created_at", e))),
    }
}

/// A positive number parameter, `default` when absent.
fn number(query: &HashMap<String, String>, key: &str, default: usize) -> Result<usize, Box<Response>> {
    match query.get(key) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Box::new(unprocessable(key, format!("{v} is not a positive number")))),
        },
    }
}

/// `GET /api/v1/calls`: calls by `created_at` window, oldest first.
pub(super) async fn calls_page(
    State(sim): State<Arc<SimState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (from, to) = match admit_window(&sim, &headers, &query) {
        Ok(window) => window,
        Err(refused) => return *refused,
    };
    let per_page = match number(&query, "per_page", DEFAULT_PER_PAGE) {
        Ok(n) => n.min(sim.max_per_page),
        Err(refused) => return *refused,
    };
    let columns: Option<Vec<&str>> = query.get("columns").map(|c| c.split(',').map(str::trim).collect());
    if let Some(columns) = &columns {
        if sim.shape.refuse_columns {
            return unprocessable("columns", "is not accepted");
        }
        if let Some(bad) = columns.iter().find(|c| !PICK_LIST.contains(c)) {
            return unprocessable("columns", format!("must be any combination of the pick list: {bad} is not"));
        }
    }
    // `page` when asked by page, else the cursor.
    let by_page = query.contains_key("page");
    let start = if by_page {
        match number(&query, "page", 1) {
            Ok(page) => (page - 1).saturating_mul(per_page),
            Err(refused) => return *refused,
        }
    } else {
        match query.get("cursor").map(String::as_str) {
            None | Some("-1") => 0,
            Some(c) => match c.parse::<usize>() {
                Ok(n) if n > 0 => n - 1,
                _ => return unprocessable("cursor", "not a cursor"),
            },
        }
    };
    let store = sim.store();
    let calls = store.in_window(from, to);
    let page: Vec<Value> = calls
        .iter()
        .skip(start)
        .take(per_page)
        .map(|c| {
            let mut call = served(&sim, c, Serializer::Call)["call"].take();
            if let (Some(columns), Some(fields)) = (&columns, call.as_object_mut()) {
                fields.retain(|k, _| columns.contains(&k.as_str()));
            }
            call
        })
        .collect();
    if query.get("root").is_some_and(|r| r == "false") {
        return axum::Json(Value::Array(page)).into_response();
    }
    let more = start + per_page < calls.len();
    let mut metadata = Map::new();
    metadata.insert("per_page".into(), per_page.into());
    metadata.insert("total_count".into(), calls.len().into());
    if by_page {
        metadata.insert("current_page".into(), (start / per_page + 1).into());
        metadata.insert("total_pages".into(), calls.len().div_ceil(per_page).max(1).into());
    } else {
        metadata.insert("next_cursor".into(), (if more { start + per_page + 1 } else { 0 }).into());
    }
    axum::Json(json!({"calls": page, "metadata": metadata})).into_response()
}

/// The `group_by` values `calls/stats` documents.
const GROUP_BY: [&str; 7] = [
    "buyer_converted",
    "offer_converted",
    "status",
    "created_at_five_minutes",
    "created_at_day",
    "created_at_week",
    "created_at_month",
];

/// `GET /api/v1/calls/stats`: `group_by`, `stat` and the window are required,
/// as documented. The response's shape is not documented; this one is a
/// guess, and tdrecon does not rely on it.
pub(super) async fn calls_stats(
    State(sim): State<Arc<SimState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (from, to) = match admit_window(&sim, &headers, &query) {
        Ok(window) => window,
        Err(refused) => return *refused,
    };
    let (Some(from), Some(to)) = (from, to) else {
        return unprocessable("created_at", "created_at_from and created_at_to are required");
    };
    if !query.get("group_by").is_some_and(|g| GROUP_BY.contains(&g.as_str())) {
        return unprocessable("group_by", format!("is required: one of {}", GROUP_BY.join(", ")));
    }
    let stat = query.get("stat").map(String::as_str).unwrap_or_default();
    if !["count", "revenue", "profit", "cost"].contains(&stat) {
        return unprocessable("stat", "is required: one of count, revenue, profit, cost");
    }
    let store = sim.store();
    let mut days: std::collections::BTreeMap<String, (u64, rust_decimal::Decimal)> = Default::default();
    for call in store.in_window(Some(from), Some(to)) {
        let day = call.created_at().get(..10).unwrap_or_default().to_string();
        let value = match stat {
            "revenue" => call.revenue(),
            "profit" => call.profit(),
            "cost" => call.payout(),
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

/// `GET /api/v1/calls/:id/events`: the call's event log, audit entries
/// included; in pages of `--events-per-page` followed by `cursor`, when set.
pub(super) async fn events(
    State(sim): State<Arc<SimState>>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = sim.refusal(&headers) {
        return refused;
    }
    sim.event_reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if sim.faults().events_down {
        return error(StatusCode::SERVICE_UNAVAILABLE, json!({"error": "events unavailable"}));
    }
    let start = match query.get("cursor").map(String::as_str) {
        None | Some("-1") => 0,
        Some(c) => match c.parse::<usize>() {
            Ok(n) if n > 0 => n - 1,
            _ => return unprocessable("cursor", "not a cursor"),
        },
    };
    match sim.store().find_mut(&key) {
        Some(call) => axum::Json(call.events_json(sim.shape.events_per_page, start)).into_response(),
        None => not_found(&key),
    }
}

/// `GET /api/v1/call_dispositions|buyers|traffic_sources?page=`: 25 a page.
/// Buyers and dispositions honour `per_page` (up to 100) and say
/// `total_pages`; traffic sources document no `per_page` and, here, say no
/// `total_pages` either: a reader must follow pages until one is short.
pub(super) async fn list(
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
    let traffic_sources = name == "traffic_sources";
    let page = match number(&query, "page", 1) {
        Ok(page) => page,
        Err(refused) => return *refused,
    };
    let per_page = match number(&query, "per_page", DEFAULT_PER_PAGE) {
        Ok(_) if traffic_sources => DEFAULT_PER_PAGE,
        Ok(n) => n.min(100),
        Err(refused) => return *refused,
    };
    let rows: Vec<Value> = items.iter().skip((page - 1).saturating_mul(per_page)).take(per_page).cloned().collect();
    let mut metadata = Map::new();
    metadata.insert("current_page".into(), page.into());
    metadata.insert("per_page".into(), per_page.into());
    if !traffic_sources {
        metadata.insert("total_pages".into(), items.len().div_ceil(per_page).max(1).into());
        metadata.insert("total_count".into(), items.len().into());
    }
    axum::Json(json!({key: rows, "metadata": metadata})).into_response()
}
