//! A plan that can be signed off and then applied exactly (`run --plan`).
//! `plan` writes, beside its plan CSV, a seal (`<plan>.json`): the plan's
//! SHA-256, the input's, the account, and when it was made. The sign-off
//! page names the seal. `run --plan PLAN.csv` refuses a plan whose seal does
//! not match (another file, another account, a plan edited after it was
//! sealed, or older than `--plan-max-age`), then holds every row to the
//! values the plan read: a call that no longer holds them is not sent
//! (`changed_since_plan`, with both values).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::input::update::CallUpdate;
use crate::outcome::Status;
use crate::trackdrive::Snapshot;

/// What binds a plan to its input, its account and its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seal {
    pub plan_sha256: String,
    pub input: String,
    pub input_sha256: String,
    pub account: String,
    /// When the plan was made: RFC 3339, and in ms since the epoch.
    pub made_at: String,
    pub made_at_ms: i64,
    pub version: String,
}

/// Where a plan's seal is: beside it, `.json` for its extension.
pub fn seal_path(plan: &Path) -> PathBuf {
    plan.with_extension("json")
}

/// Seals the plan at `plan` (written whole, its rows in order).
pub fn seal(plan: &Path, input: &str, input_sha256: &str, account: &str) -> Result<Seal, String> {
    let plan_sha256 = crate::input::source::sha256_of(plan).ok_or_else(|| format!("cannot read {}", plan.display()))?;
    let now = jiff::Timestamp::now();
    let seal = Seal {
        plan_sha256,
        input: input.to_string(),
        input_sha256: input_sha256.to_string(),
        account: account.to_string(),
        made_at: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
        made_at_ms: now.as_millisecond(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let mut bytes = serde_json::to_vec_pretty(&seal).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    let path = seal_path(plan);
    crate::files::write_atomically(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(seal)
}

/// A signed plan, read back and checked, for a run to hold its rows to.
#[derive(Debug, Clone)]
pub struct SignedPlan {
    pub path: PathBuf,
    pub seal: Seal,
    /// Each line the plan judged.
    rows: HashMap<u64, PlanRow>,
}

/// One row of a plan: its status there, the call it found, and the cells it
/// wrote (`revenue_before`, `revenue_after` …).
#[derive(Debug, Clone)]
struct PlanRow {
    status: Status,
    call: String,
    cells: HashMap<String, String>,
}

/// What a run checks a plan against.
pub struct Expected<'a> {
    pub input_sha256: &'a str,
    pub account: &'a str,
    pub max_age_ms: i64,
    pub now_ms: i64,
}

impl SignedPlan {
    /// Reads the plan at `path` and its seal, and refuses one that is not
    /// the plan of this input, for this account, unedited and recent.
    pub fn load(path: &Path, expected: &Expected<'_>) -> Result<SignedPlan, String> {
        let shown = path.display();
        let seal_file = seal_path(path);
        let text = std::fs::read_to_string(&seal_file).map_err(|e| {
            format!("--plan {shown}: cannot read its seal {} ({e}): make the plan again", seal_file.display())
        })?;
        let seal: Seal =
            serde_json::from_str(&text).map_err(|e| format!("--plan {shown}: its seal is damaged ({e})"))?;
        let digest = crate::input::source::sha256_of(path).ok_or_else(|| format!("--plan {shown}: cannot read it"))?;
        if digest != seal.plan_sha256 {
            return Err(format!(
                "--plan {shown} was changed after it was made (its seal says otherwise): make it again"
            ));
        }
        if seal.input_sha256 != expected.input_sha256 {
            return Err(format!(
                "--plan {shown} is the plan of another file ({}, SHA-256 {}…), not of this one",
                seal.input,
                &seal.input_sha256[..seal.input_sha256.len().min(12)]
            ));
        }
        if seal.account != expected.account {
            return Err(format!("--plan {shown} is a plan for {}, not for {}", seal.account, expected.account));
        }
        let age = expected.now_ms - seal.made_at_ms;
        if age < -5 * 60_000 {
            return Err(format!("--plan {shown} says it was made at {}, in the future: make it again", seal.made_at));
        }
        if age > expected.max_age_ms {
            return Err(format!(
                "--plan {shown} was made at {} ({} min ago), more than --plan-max-age ago: make it again",
                seal.made_at,
                age / 60_000
            ));
        }
        let rows = read_rows(path).map_err(|e| format!("--plan {shown}: {e}"))?;
        Ok(SignedPlan { path: path.to_path_buf(), seal, rows })
    }

    /// `Ok` when row `line` would send what the plan showed: the same call,
    /// which still holds what the plan read for the fields the row changes
    /// (`current`), and the same call after (`after`: `current` with this
    /// run's change) in every reported field. Else why the row is not sent,
    /// and how it ends.
    pub fn holds(
        &self,
        line: u64,
        call: &str,
        update: &CallUpdate,
        current: &Snapshot,
        after: &Snapshot,
    ) -> Result<(), (Status, String)> {
        let Some(row) = self.rows.get(&line) else {
            return Err((Status::Rejected, "not in the signed plan: make the plan again to include it".into()));
        };
        if !matches!(row.status, Status::WouldChange | Status::Unchanged) {
            return Err((Status::Rejected, format!("the signed plan has it {}, not a change: plan again", row.status)));
        }
        if row.call != call {
            return Err((
                Status::Rejected,
                format!("the signed plan has this row on call {}, this run on call {call}: plan again", row.call),
            ));
        }
        let then = |column: &str| row.cells.get(column).map(String::as_str).unwrap_or_default();
        let differ = |cells: Vec<(String, String)>, suffix: &str| -> Vec<String> {
            cells
                .into_iter()
                .filter(|(column, value)| then(column) != value)
                .map(|(column, value)| {
                    format!("{} was {:?} in the plan, {value:?} now", column.trim_end_matches(suffix), then(&column))
                })
                .collect()
        };
        let read = differ(crate::reports::results::touched_cells(current, update), "_before");
        if !read.is_empty() {
            return Err((Status::ChangedSincePlan, format!("changed since the plan: {}; not sent", read.join(", "))));
        }
        let sent = differ(crate::reports::results::after_cells(after, update), "_after");
        if !sent.is_empty() {
            return Err((
                Status::ChangedSincePlan,
                format!("would not end as the plan showed: {} after; not sent", sent.join(", ")),
            ));
        }
        Ok(())
    }
}

/// The plan CSV's rows: line, status, call, and the before and after cells.
fn read_rows(path: &Path) -> Result<HashMap<u64, PlanRow>, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let at = |name: &str| headers.iter().position(|h| h == name);
    let (Some(line_at), Some(status_at), Some(call_at)) = (at("line"), at("status"), at("id")) else {
        return Err("not a plan (no line, id and status columns)".into());
    };
    let mut rows = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let line: u64 = record.get(line_at).and_then(|l| l.parse().ok()).ok_or("a row without its line")?;
        let status = record.get(status_at).and_then(Status::parse).ok_or("a row without a status it knows")?;
        let call = record.get(call_at).unwrap_or_default().to_string();
        let cells = headers
            .iter()
            .zip(record.iter())
            .filter(|(h, _)| h.ends_with("_before") || h.ends_with("_after"))
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        rows.insert(line, PlanRow { status, call, cells });
    }
    Ok(rows)
}
