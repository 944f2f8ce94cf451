//! `tdrecon sim`: serve the simulator until Ctrl-C or SIGTERM, printing its
//! base URL as the first line of stdout so a script can read it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use crate::exit::{Exit, Fatal};
use crate::input::fields::{CallField, Kind, Value};
use crate::input::money::{Sign, parse_money};
use crate::input::reader::{CsvReader, read_error};
use crate::input::values::CallRef;
use crate::input::values::{parse_flag, parse_record_id};
use crate::sim::store::uuid_for;
use crate::sim::{Call, FaultConfig, Sim, SimConfig, Store};
use crate::upload::credentials::Credentials;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub addr: SocketAddr,
    pub calls: u64,
    pub first_id: u64,
    pub calls_file: Option<PathBuf>,
    pub rate_limit: Option<crate::sim::RateLimit>,
    pub retry_after_date: bool,
    pub faults: FaultConfig,
    pub dump_state: Option<PathBuf>,
    /// The most calls a page of the calls list holds.
    pub max_per_page: usize,
    /// Where to write the base URL once listening, for scripts to wait on.
    pub url_file: Option<PathBuf>,
    /// How the calls and lists are shaped.
    pub shape: crate::sim::Shape,
}

/// Seeds a store from a CSV: `id` and/or `uuid` (either may be empty; a
/// missing UUID is derived from the id), `created_at` (ISO 8601; else a
/// minute apart over the day before now), `caller_number`, and any field of
/// the table a call shows, under its resource name or its update parameter
/// (`revenue`, `payout`, `buyer_converted`, `traffic_source_converted`,
/// `buyer_id`, `traffic_source_id`, `disposition_id`, `disposition_notes`,
/// `contact_field_type`). An unknown column is an error naming them.
pub fn load_calls(path: &Path) -> anyhow::Result<Store> {
    let (mut rdr, headers) = CsvReader::open(path, b',')?;
    let headers: Vec<String> = headers.iter().map(|h| crate::input::columns::normalise(h)).collect();
    let columns = calls_file_columns(&headers).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut store = Store::default();
    let mut next_id = 900_000_001u64;
    let mut n = 0usize;
    while let Some(record) = rdr.next_record().map_err(|e| read_error(path, e))? {
        let line = record.line;
        let at = || format!("{} line {line}", path.display());
        let cells: Vec<&str> = record
            .raw
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow!("{}: not UTF-8 text", at()))?;
        let cell = |i: usize| cells.get(i).copied().map(str::trim).filter(|s| !s.is_empty());
        let find = |want: &CallsColumn| columns.iter().find(|(_, c)| c == want).and_then(|(i, _)| cell(*i));
        let id = match find(&CallsColumn::Id).map(CallRef::parse) {
            Some(Ok(CallRef::Id(id))) => id,
            Some(_) => return Err(anyhow!("{}: id must be a numeric Call ID", at())),
            None => {
                next_id += 1;
                next_id
            }
        };
        let uuid = match find(&CallsColumn::Uuid).map(CallRef::parse) {
            Some(Ok(CallRef::Uuid(u))) => u,
            Some(_) => return Err(anyhow!("{}: uuid must be a Call UUID", at())),
            None => uuid_for(id),
        };
        let mut call = Call::new(id, uuid);
        // Without a time, calls a minute apart over the day before now.
        call.created_at_ms = match find(&CallsColumn::CreatedAt) {
            Some(text) => text
                .parse::<jiff::Timestamp>()
                .map_err(|e| anyhow!("{}: created_at {text:?}: {e}", at()))?
                .as_millisecond(),
            None => now - 24 * 3600 * 1000 + n as i64 * 60_000,
        };
        n += 1;
        if let Some(number) = find(&CallsColumn::CallerNumber) {
            call.caller_number = number.to_string();
        }
        for (i, column) in &columns {
            if let (CallsColumn::Field(field), Some(text)) = (column, cell(*i)) {
                let value = seed_value(*field, text).map_err(|e| anyhow!("{}: {}: {e}", at(), headers[*i]))?;
                call.set(*field, Some(value));
            }
        }
        store.insert(call);
    }
    Ok(store)
}

/// What a column of a calls file fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallsColumn {
    Id,
    Uuid,
    CreatedAt,
    CallerNumber,
    Field(CallField),
}

/// Each column of a calls file (normalised headers), or why one is unknown.
fn calls_file_columns(headers: &[String]) -> Result<Vec<(usize, CallsColumn)>, String> {
    let fields = CallField::readable().filter(|f| *f != CallField::Tokens);
    let mut known: Vec<(String, CallsColumn)> = [
        ("id", CallsColumn::Id),
        ("uuid", CallsColumn::Uuid),
        ("created_at", CallsColumn::CreatedAt),
        ("caller_number", CallsColumn::CallerNumber),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c))
    .collect();
    for field in fields {
        let spec = field.spec();
        for name in spec.read.iter().chain(std::iter::once(&spec.param)) {
            known.push((name.to_string(), CallsColumn::Field(field)));
        }
    }
    let mut columns = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        match known.iter().find(|(n, _)| n == header) {
            Some((_, column)) => columns.push((i, *column)),
            None => {
                let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
                return Err(format!("unknown column {header:?}; a calls file may have: {}", names.join(", ")));
            }
        }
    }
    if !columns.iter().any(|(_, c)| matches!(c, CallsColumn::Id | CallsColumn::Uuid)) {
        return Err("expected an id or uuid column".into());
    }
    Ok(columns)
}

/// A calls file's cell, read as the validator reads the same field.
fn seed_value(field: CallField, text: &str) -> Result<Value, String> {
    Ok(match field.spec().kind {
        Kind::Money => Value::Money(parse_money(text, Sign::NonNegative)?),
        Kind::Flag => Value::Flag(parse_flag(text)?),
        Kind::Id => Value::Text(parse_record_id(text)?),
        _ => Value::Text(text.to_string()),
    })
}

pub fn run(opts: SimOptions) -> Result<Exit, Fatal> {
    let store = match &opts.calls_file {
        Some(path) => load_calls(path).map_err(Fatal::usage)?,
        None => Store::seeded(opts.first_id, opts.calls),
    };
    let keys = match Credentials::from_env() {
        Some(Ok(c)) => Some((c.public.clone(), c.private().to_string())),
        Some(Err(e)) => return Err(Fatal::usage(e)),
        None => {
            crate::console::err(
                "tdrecon sim: no TRACKDRIVE_PUBLIC_KEY/TRACKDRIVE_PRIVATE_KEY set: accepting any key\n",
            );
            None
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime").map_err(Fatal::usage)?;
    runtime.block_on(async {
        let calls = store.len();
        let config = SimConfig {
            addr: opts.addr,
            keys,
            rate_limit: opts.rate_limit,
            retry_after_date: opts.retry_after_date,
            max_per_page: opts.max_per_page,
            faults: opts.faults.clone(),
            shape: opts.shape.clone(),
            ..SimConfig::new(store)
        };
        let sim = Sim::start(config)
            .await
            .with_context(|| format!("cannot listen on {}", opts.addr))
            .map_err(Fatal::usage)?;
        if let Some(path) = &opts.url_file {
            crate::outputs::write_atomically(path, format!("{}\n", sim.base_url()).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Fatal::usage)?;
        }
        crate::console::out(&format!("{}\n", sim.base_url()));
        crate::console::err(&format!(
            "tdrecon sim: serving {}; state at {}/__sim/state; Ctrl-C to stop\n",
            crate::outputs::tally::count(calls as u64, "call", "calls"),
            sim.base_url()
        ));
        crate::signals::wait_for_signal().await;
        sim.stop();
        if let Some(path) = &opts.dump_state {
            let json = serde_json::to_vec_pretty(&sim.state.state_json()).expect("state is plain JSON");
            crate::outputs::write_whole(path, &json)
                .with_context(|| format!("cannot write {}", path.display()))
                .map_err(Fatal::aborted)?;
        }
        Ok(Exit::Ok)
    })
}
