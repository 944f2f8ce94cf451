//! What the simulator does with an update: the seeded faults that decide
//! its fate (a 5xx, a reset before or after applying, a stall, a 200 whose
//! body says it did not take, a 200 that ignores a field), then the update
//! itself (`store::apply`), its audit entry, and the call as it is after.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::faults::Fault;
use super::server::{ConnKill, SimState, error, not_found};
use super::store::{Serializer, apply};
use crate::input::fields::CallField;

pub(super) async fn update(
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
    let faults = sim.faults();
    let plan = faults.plan(sequence);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let fail_first = {
        let mut store = sim.store();
        let Some(call) = store.find_mut(&key) else { return not_found(&key) };
        call.requests_seen += 1;
        call.requests_seen <= faults.fail_first
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
        // The envelope other resources document, in a 200: not applied.
        Fault::ErrorBody => {
            let errors = json!({"status": 422, "errors": {"base": ["simulated: the update was not saved"]}});
            return axum::Json(errors).into_response();
        }
        _ => {}
    }
    let (body, serializer) = match read_body(&sim, &query, &body) {
        Ok(read) => read,
        Err(refused) => return *refused,
    };
    let applied = {
        let mut store = sim.store();
        let Some(call) = store.find_mut(&key) else { return not_found(&key) };
        apply(call, &body, faults.ignore_param.as_deref()).map(|()| {
            let now = super::audit::log_time(super::audit::now(sim.shape.clock_offset_ms));
            call.audit(&format!("/api/v1/calls/{key}"), method.as_str(), &body, &now, &sim.shape.audit);
            call.api_json(serializer)
        })
    };
    let response = match applied {
        Ok(call) => axum::Json(call).into_response(),
        Err(errors) => return error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": errors})),
    };
    match fault {
        Fault::ApplyThenStall => {
            tokio::time::sleep(faults.stall).await;
            response
        }
        Fault::ApplyThenReset => reset(kill).await,
        _ => response,
    }
}

/// An update's body and the serializer it asks for, or the answer that
/// refuses it (not an object, a parameter the account does not know, an
/// unknown serializer).
fn read_body(
    sim: &SimState,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<(serde_json::Map<String, Value>, Serializer), Box<Response>> {
    let body: serde_json::Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(Box::new(error(StatusCode::BAD_REQUEST, json!({"error": "the body must be a JSON object"})))),
    };
    if sim.shape.refuse_unknown
        && let Some(unknown) = body.keys().find(|k| CallField::of_param(k).is_none() && *k != "serializer")
    {
        return Err(Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"status": 422, "errors": {unknown: ["is not a permitted parameter"]}}),
        )));
    }
    let serializer_param =
        query.get("serializer").map(String::as_str).or(body.get("serializer").and_then(Value::as_str));
    match Serializer::parse(serializer_param) {
        Ok(serializer) => Ok((body, serializer)),
        Err(e) => Err(Box::new(error(StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": {"serializer": e}})))),
    }
}

/// Drops the connection: the client sees it close with no response.
async fn reset(kill: ConnKill) -> Response {
    kill.0.notify_one();
    // The connection task drops this future with the connection.
    std::future::pending().await
}
