//! A call is its numeric id, however a row named it. Rows that add, fire
//! webhooks or ask for transcriptions and name their call by a UUID no
//! window read told the id of are resolved before anything is sent: one
//! read of each such call (`GET /api/v1/calls/:uuid`), counted. The
//! validator then keys them by id (one call, one row, in the file; the
//! ledger and the audit-log check by id across runs).

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use serde_json::Value;

use super::api::{Api, NoHook, Request};
use super::reply::{Exchange, Reply};
use crate::input::values::CallRef;

/// What reading the calls named by UUID found.
#[derive(Debug, Default)]
pub struct Ids {
    /// Each UUID's call id.
    pub ids: HashMap<u128, u64>,
    /// UUIDs the API has no call for (404): their rows are sent as they are,
    /// and refused by the API the same way.
    pub missing: HashSet<u128>,
    /// UUIDs whose call could not be read, and why: their rows are not sent
    /// (`failed`, safe to run again), since they cannot be keyed by id.
    pub unread: HashMap<u128, String>,
    /// Reads made.
    pub reads: u64,
}

/// Reads the id of each call in `uuids`, `concurrency` at a time, under
/// the job's gate and retries.
pub async fn read_ids(api: &Api, uuids: &[u128], concurrency: usize) -> Ids {
    let reads = futures::stream::iter(uuids.iter().copied())
        .map(|uuid| async move { (uuid, read_id(api, uuid).await) })
        .buffer_unordered(concurrency.max(1));
    let mut found = Ids::default();
    let mut reads = std::pin::pin!(reads);
    while let Some((uuid, (answer, attempts))) = reads.next().await {
        found.reads += u64::from(attempts);
        match answer {
            Read::Id(id) => {
                found.ids.insert(uuid, id);
            }
            Read::Missing => {
                found.missing.insert(uuid);
            }
            Read::Failed(why) => {
                found.unread.insert(uuid, why);
            }
        }
    }
    found
}

enum Read {
    Id(u64),
    Missing,
    Failed(String),
}

/// One call's id, and the requests it took.
async fn read_id(api: &Api, uuid: u128) -> (Read, u32) {
    let url = api.endpoint.read_url(&CallRef::Uuid(uuid));
    let mut exchange = Exchange::default();
    let mut jitter = (uuid as u64) ^ 0x6964_7321;
    let reply = api.request(Request::Read(&url), &mut exchange, &mut NoHook, &mut jitter).await;
    let read = match reply {
        Reply::Done(body, false) => match id_in(&body) {
            Some(id) => Read::Id(id),
            None => Read::Failed("the call read has no numeric id".into()),
        },
        Reply::Done(_, true) => Read::Failed("the call read is over the size limit".into()),
        Reply::Refused(_) if exchange.http_status == Some(404) => Read::Missing,
        Reply::Refused(why) | Reply::Repeat(why, _) | Reply::Failed(why) | Reply::Ambiguous(why) => Read::Failed(why),
        Reply::Stopped => Read::Failed("the job stopped".into()),
    };
    (read, exchange.attempts)
}

/// The id of the call in a show response: `{"call": {"id": …}}` as public
/// clients read it, or the call at the top; a number or a string of digits.
pub fn id_in(body: &str) -> Option<u64> {
    let doc: Value = serde_json::from_str(body).ok()?;
    let call = doc.get("call").filter(|c| c.is_object()).unwrap_or(&doc);
    match call.get("id")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_of_a_call_however_it_is_shaped() {
        for (body, id) in [
            (r#"{"call":{"id":123895022,"uuid":"c3b2"}}"#, Some(123895022)),
            (r#"{"call":{"id":"123895022"}}"#, Some(123895022)),
            (r#"{"id":7,"uuid":"x"}"#, Some(7)),
            (r#"{"call":{"id":"12a"}}"#, None),
            (r#"{"call":{"uuid":"x"}}"#, None),
            (r#"{"call":{"id":-3}}"#, None),
            ("<html>", None),
        ] {
            assert_eq!(id_in(body), id, "{body}");
        }
    }
}
