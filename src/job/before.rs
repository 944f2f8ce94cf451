//! What a run reads before its first row: the name lists, the window's
//! calls (the rows compare with them, rows without an id find their call
//! among them, their totals start the control totals) and the ids of the
//! calls that rows which act name by UUID. What was read resolves the rows
//! (`resolve::Resolver`).

use std::collections::{BTreeMap, HashMap};

use anyhow::anyhow;

use super::Settings;
use crate::exit::Fatal;
use crate::input::validate::Validator;
use crate::reports::summary::Amounts;
use crate::resolve::Resolver;
use crate::trackdrive::api::Api;
use crate::trackdrive::{identity, lookup, window};

/// The window read (from, to, and whether `columns=` was taken) and
/// TrackDrive's totals for it then, in all and per buyer.
pub(super) type ControlStart = ((i64, i64, bool), (Amounts, BTreeMap<String, Amounts>));

/// What a run reads before its first row: the window's calls.
pub(super) struct Before {
    /// The window read, and TrackDrive's totals for it then (for the
    /// control totals, read again after the run).
    pub control: Option<ControlStart>,
    pub window_pages: u64,
    /// With `--reconcile`, the window's calls, for the rows to compare with.
    pub calls: Option<window::Window>,
    /// What a read had to do otherwise, for the summary.
    pub notes: Vec<String>,
    /// The ids of the calls rows that act name by UUID, read where no
    /// window told them (`Ids::ids` moved to the resolver).
    pub ids: identity::Ids,
    /// What the reads told, for each row to be resolved by.
    pub resolver: Resolver,
}

/// Reads what the rows need before the first is sent: the name lists (the
/// validator resolves names with them) and the window's calls (the rows
/// compare with them, the validator finds rows by caller among them, and
/// their totals are the control totals' start). The window is only needed
/// to find rows by caller: otherwise a failed read is said and each row's
/// call is read on its own.
pub(super) async fn read_before(
    opts: &Settings,
    api: &Api,
    validator: &Validator,
    range: Option<(i64, i64)>,
    resuming: bool,
    acting_uuids: &[u128],
) -> Result<Before, Fatal> {
    let read_err = |what: &str, e: String| {
        let error = anyhow!("cannot read {what}: {e}");
        if api.stop.is_stopped() { Fatal::aborted(error) } else { Fatal::usage(error) }
    };
    let mut before = Before {
        control: None,
        window_pages: 0,
        calls: None,
        notes: Vec::new(),
        ids: identity::Ids::default(),
        resolver: Resolver::default(),
    };
    if validator.schema().uses_names() {
        let directory =
            lookup::fetch_directory(api).await.map_err(|e| read_err("the lists that turn names into ids", e))?;
        before.resolver.directory = Some(directory);
    }
    let mut ids_of_uuids = HashMap::new();
    if let Some((from, to)) = range {
        match window::fetch_window(api, from, to, opts.reading().page_size, true).await {
            Ok(window) => {
                before.window_pages = window.pages;
                before.notes.extend(window.notes.iter().cloned());
                ids_of_uuids = window.ids_of_uuids();
                if validator.schema().matches_callers() {
                    before.resolver.matcher = Some(window.matcher(opts.reading().match_window.as_millis() as i64));
                }
                // A reconciled window is checked against TrackDrive's own
                // totals (not a plan's). On a resume the window's totals
                // already hold the earlier run's work.
                if opts.reading().reconcile && !opts.mode().plans() && !resuming {
                    before.control =
                        Some(((from, to, window.columns), crate::compare::control::window_totals(&window)));
                }
                before.calls = opts.reading().reconcile.then_some(window);
            }
            Err(e) if validator.schema().matches_callers() || api.stop.is_stopped() => {
                return Err(read_err("the calls of the window", e));
            }
            Err(e) => before
                .notes
                .push(format!("cannot read the calls of the window ({e}): each row's call was read on its own")),
        }
    }
    // A call is its id: rows that act and name their call by a UUID the
    // window did not show have it read, once a call.
    let unknown: Vec<u128> = acting_uuids.iter().filter(|u| !ids_of_uuids.contains_key(u)).copied().collect();
    if !unknown.is_empty() {
        before.ids = identity::read_ids(api, &unknown, opts.pacing().concurrency.get()).await;
        if api.stop.is_stopped() {
            return Err(read_err("the calls named by UUID", "the job stopped".into()));
        }
        ids_of_uuids.extend(before.ids.ids.drain());
    }
    before.resolver.ids_of_uuids = ids_of_uuids;
    Ok(before)
}

/// How far a report's call time may be from TrackDrive's `created_at`.
const CALL_TIME_SLACK_MS: i64 = 10 * 60 * 1000;

/// The window a run reads in pages (for `--reconcile`, or to find rows by
/// caller): `--since`/`--until`, else the file's call times (`file`, from
/// the prescan), widened by a few minutes for clocks that disagree. `None`
/// when neither says, or the run reads no window.
pub(super) fn window_range(opts: &Settings, file: Option<(i64, i64)>) -> Result<Option<(i64, i64)>, Fatal> {
    let (file_from, file_to) = match file {
        Some((a, b)) => (Some(a - CALL_TIME_SLACK_MS), Some(b + CALL_TIME_SLACK_MS)),
        None => (None, None),
    };
    match (opts.reading().since.or(file_from), opts.reading().until.or(file_to)) {
        (Some(from), Some(to)) if from <= to => Ok(Some((from, to))),
        (Some(from), None) => Ok(Some((from, jiff::Timestamp::now().as_millisecond()))),
        (Some(_), Some(_)) if opts.reading().until.is_some() => Err(Fatal::usage(anyhow!("--since is after --until"))),
        (Some(_), Some(_)) => Err(Fatal::usage(anyhow!("--since is after the file's latest call_time"))),
        (None, _) => Ok(None),
    }
}
