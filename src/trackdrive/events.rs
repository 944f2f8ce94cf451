//! Reading a call's events (`GET /api/v1/calls/:id/events`), every page:
//! followed by cursor or page, whichever the answers carry. Without paging
//! metadata the second page is asked for once, to see whether the first was
//! the whole log (an empty page, or the first again); an account that
//! answers with the first page again sends its events whole, which `Events`
//! remembers for the run, so later reads take one request. What the entries
//! mean is `send::evidence`'s.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::api::{Api, NoHook, Request};
use super::pages::{self, Next};
use super::reply::{Exchange, Reply};
use crate::input::values::CallRef;

/// The most pages of one call's events read: a guard against an endless
/// cursor (a call's log is a few events a day).
const MAX_EVENT_PAGES: u64 = 50;

/// The pages of one call's events as read.
#[derive(Debug, Clone, Default)]
pub struct Pages {
    pub docs: Vec<Value>,
    /// Every page was read, none cut short, none past the bound.
    pub complete: bool,
}

/// Why a call's events could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum Unread {
    /// The job stopped first.
    Stopped,
    /// The reads failed, and why.
    Failed(String),
}

/// What the run has learnt of how this account pages events.
#[derive(Debug, Default)]
pub struct Events {
    /// The account ignores `page` on events: a page without paging
    /// metadata is the whole log.
    whole: AtomicBool,
}

impl Events {
    /// Reads every page of `call`'s events under the job's gate and retries.
    pub async fn read(
        &self,
        api: &Api,
        call: CallRef,
        exchange: &mut Exchange,
        jitter: &mut u64,
    ) -> Result<Pages, Unread> {
        let base = api.endpoint.events_url(&call);
        let mut docs: Vec<Value> = Vec::new();
        let (mut next, mut page, mut largest) = (None::<Next>, 1u64, 0usize);
        while page <= MAX_EVENT_PAGES {
            let mut url = base.clone();
            match &next {
                Some(Next::Cursor(cursor)) => {
                    url.query_pairs_mut().append_pair("cursor", cursor);
                }
                Some(Next::Page(n)) => {
                    url.query_pairs_mut().append_pair("page", &n.to_string());
                }
                _ => {}
            }
            let body = match api.request(Request::Read(&url), exchange, &mut NoHook, jitter).await {
                Reply::Done(_, true) => return Ok(Pages { docs, complete: false }),
                Reply::Done(body, false) => body,
                Reply::Refused(why) | Reply::Repeat(why, _) | Reply::Failed(why) | Reply::Ambiguous(why) => {
                    return Err(Unread::Failed(why));
                }
                Reply::Stopped => return Err(Unread::Stopped),
            };
            let doc: Value =
                serde_json::from_str(&body).map_err(|e| Unread::Failed(format!("{url}: not JSON ({e})")))?;
            let events = doc.get("events").cloned().unwrap_or_default();
            let count = events.as_array().map_or(0, Vec::len);
            // A server that ignores the page asked for sends the first again:
            // its events come whole, for every call.
            if page > 1 && docs.first().and_then(|d| d.get("events")) == Some(&events) {
                self.whole.store(true, Ordering::Relaxed);
                return Ok(Pages { docs, complete: true });
            }
            largest = largest.max(count);
            let after = pages::next(&doc, page, count, largest);
            let unpaged = doc.get("metadata").is_none() && self.whole.load(Ordering::Relaxed);
            docs.push(doc);
            match after {
                _ if unpaged => return Ok(Pages { docs, complete: true }),
                Next::Done => return Ok(Pages { docs, complete: true }),
                other => next = Some(other),
            }
            page += 1;
        }
        Ok(Pages { docs, complete: false })
    }
}
