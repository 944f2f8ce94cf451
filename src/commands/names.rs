//! `tdrecon names dispositions|buyers|traffic-sources`: the account's
//! names a file may use, with their ids, read-only (the same lists and the
//! same reading `run` turns names into ids with). A table for people, or
//! CSV (`--csv`).

use std::time::Duration;

use anyhow::anyhow;

use crate::exit::{Exit, Fatal};
use crate::resolve::names::{List, ListKind};
use crate::trackdrive::api::{Api, ApiSettings};
use crate::trackdrive::backoff::Backoff;
use crate::trackdrive::client::{ApiClient, Endpoint, Method};
use crate::trackdrive::credentials::Credentials;
use crate::trackdrive::gate::{Gate, Pacing};
use crate::trackdrive::lookup;

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Dispositions,
    Buyers,
    TrafficSources,
}

impl Which {
    fn list(self) -> (&'static str, ListKind, &'static str) {
        match self {
            Which::Dispositions => ("call_dispositions", ListKind::Dispositions, "call_disposition"),
            Which::Buyers => ("buyers", ListKind::Buyers, "reassign_buyer"),
            Which::TrafficSources => ("traffic_sources", ListKind::TrafficSources, "reassign_traffic_source"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NamesOptions {
    pub base_url: String,
    pub credentials: Credentials,
    pub which: Which,
    pub csv: bool,
    pub timeout: Duration,
    /// The requests a second (`--rate`: the account's limit is shared).
    pub rate: std::num::NonZeroU32,
}

pub fn run(opts: NamesOptions) -> Result<Exit, Fatal> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fatal::usage(anyhow!("cannot start the async runtime: {e}")))?;
    let (path, kind, column) = opts.which.list();
    let list = runtime.block_on(async {
        let api = reader(&opts)?;
        lookup::fetch_list(&api, path, kind).await.map_err(|e| Fatal::aborted(anyhow!("cannot read {path}: {e}")))
    })?;
    crate::console::out(&if opts.csv {
        csv(&list).map_err(|e| Fatal::aborted(anyhow!(e)))?
    } else {
        table(&list, column)
    });
    Ok(Exit::Ok)
}

/// A client for reads, paced like a run's default.
fn reader(opts: &NamesOptions) -> Result<Api, Fatal> {
    let endpoint =
        Endpoint::new(opts.base_url.clone(), Method::Put, None, opts.timeout).map_err(|e| Fatal::usage(anyhow!(e)))?;
    let client = ApiClient::new(&endpoint, &opts.credentials, 1)
        .map_err(|e| Fatal::usage(anyhow!("cannot build the HTTP client: {e}")))?;
    let burst = std::num::NonZeroU32::MIN;
    let gate = Gate::new(Pacing::Fixed { rate: opts.rate, burst }, Duration::from_secs(120));
    let backoff = Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(30) };
    Ok(Api::new(client, endpoint, gate, &ApiSettings { concurrency: 1, backoff, max_retries: 5 }))
}

/// `id, name, also (the other names a row may use), notes_required`.
fn csv(list: &List) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "name", "also", "notes_required"])?;
    for e in list.entries() {
        let also = e.keys.iter().skip(1).cloned().collect::<Vec<_>>().join("; ");
        let notes = if e.notes_required { "yes" } else { "" };
        w.write_record([e.id.as_str(), &crate::text::neutralise(&e.name), &crate::text::neutralise(&also), notes])?;
    }
    Ok(String::from_utf8_lossy(&w.into_inner().map_err(|e| e.into_error())?).into_owned())
}

/// The list as a table, with the column a file names them in.
fn table(list: &List, column: &str) -> String {
    let width = list.entries().iter().map(|e| e.id.chars().count()).max().unwrap_or(2).max(2);
    let mut out = format!("{:>width$}  name (a file's `{column}` column takes any of these)\n", "id");
    for e in list.entries() {
        let also: Vec<&str> = e.keys.iter().skip(1).map(String::as_str).collect();
        let also = if also.is_empty() { String::new() } else { format!("  (also: {})", also.join(", ")) };
        let notes = if e.notes_required { "  [needs agent_call_disposition_notes]" } else { "" };
        out.push_str(&format!("{:>width$}  {}{also}{notes}\n", e.id, e.name));
    }
    out.push_str(&format!("{} in all\n", list.entries().len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::names::Entry;
    use serde_json::json;

    #[test]
    fn a_list_as_a_table_and_as_csv() {
        let entry = |v| Entry::from_json(&v, ListKind::Buyers).unwrap();
        let list = List::new(vec![
            entry(json!({"id": 7, "name": "Acme Insurance", "user_buyer_id": "B-7"})),
            entry(json!({"id": 12, "name": "=Bolt"})),
        ]);
        assert_eq!(
            table(&list, "reassign_buyer"),
            "id  name (a file's `reassign_buyer` column takes any of these)\n 7  Acme Insurance  (also: B-7)\n12  =Bolt\n2 in all\n"
        );
        assert_eq!(csv(&list).unwrap(), "id,name,also,notes_required\n7,Acme Insurance,B-7,\n12,'=Bolt,,\n");
    }
}
