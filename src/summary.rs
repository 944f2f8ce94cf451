//! The end-of-run summary: a table for people, JSON for schedulers
//! (`--summary-json`), and the exit code both imply.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::commands::validate::Tally;
use crate::exit::Exit;
use crate::upload::gate::StopReason;
use crate::upload::outcome::{RowOutcome, Status};

/// The most `unknown` rows listed by name in the summary.
const UNKNOWN_LISTED: usize = 50;

#[derive(Debug, Default)]
pub struct RunSummary {
    pub input: PathBuf,
    pub results: PathBuf,
    pub errors: PathBuf,
    pub dry_run: bool,
    pub validation: Tally,
    pub statuses: BTreeMap<Status, u64>,
    pub requests: u64,
    pub retries: u64,
    pub elapsed: Duration,
    pub stop: Option<StopReason>,
    /// `(line, call)` of rows left `unknown`: the ones to check by hand.
    pub unknown: Vec<(u64, String)>,
}

impl RunSummary {
    pub fn record(&mut self, outcome: &RowOutcome) {
        *self.statuses.entry(outcome.status).or_default() += 1;
        self.requests += u64::from(outcome.attempts);
        if outcome.status == Status::Unknown {
            self.unknown.push((outcome.line, outcome.call.to_string()));
        }
    }

    /// Counts a row an earlier run finished (copied from the journal).
    pub fn record_fields(&mut self, fields: &[String]) {
        let Some(status) = fields.get(2).and_then(|s| Status::parse(s)) else { return };
        *self.statuses.entry(status).or_default() += 1;
        if status == Status::Unknown {
            let line = fields.first().and_then(|l| l.parse().ok()).unwrap_or(0);
            self.unknown.push((line, fields.get(1).cloned().unwrap_or_default()));
        }
    }

    /// Adds the rows an earlier run finished, so the summary covers the file.
    pub fn merge_earlier(&mut self, earlier: RunSummary) {
        for (status, n) in earlier.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        let mut unknown = earlier.unknown;
        unknown.append(&mut self.unknown);
        unknown.sort();
        self.unknown = unknown;
    }

    pub fn count(&self, status: Status) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Rows the API refused, that failed, or whose fate is unknown.
    pub fn failures(&self) -> u64 {
        self.count(Status::Rejected) + self.count(Status::Failed) + self.count(Status::Unknown)
    }

    pub fn sent_or_settled(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// The short status counts the progress bar shows.
    pub fn counts_line(&self) -> String {
        format!(
            "ok {} rejected {} failed {} unknown {}",
            self.count(Status::Ok),
            self.count(Status::Rejected),
            self.count(Status::Failed),
            self.count(Status::Unknown)
        )
    }

    pub fn exit(&self) -> Exit {
        match self.stop {
            Some(StopReason::Aborted(_)) => Exit::Aborted,
            Some(StopReason::Interrupted) => Exit::Interrupted,
            None if self.validation.rejected > 0 || self.failures() > 0 => Exit::SomeRowsFailed,
            None => Exit::Ok,
        }
    }

    pub fn render(&self) -> String {
        let mut out = self.validation.render();
        out.push_str(&format!("sent to the uploader {:>8}\n", self.sent_or_settled()));
        for status in Status::ALL {
            out.push_str(&format!("  {:<18} {:>8}\n", status.as_str(), self.count(status)));
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { self.sent_or_settled() as f64 / secs } else { 0.0 };
        out.push_str(&format!("requests   {:>8} ({} retries)\n", self.requests, self.retries));
        out.push_str(&format!("elapsed    {secs:>8.1}s ({rate:.1} rows/s)\n"));
        out.push_str(&format!("results    {}\n", self.results.display()));
        if self.validation.rejected > 0 {
            out.push_str(&format!("errors     {}\n", self.errors.display()));
        }
        if self.dry_run {
            out.push_str("dry run: nothing was sent; each row's request body is in results\n");
        }
        if !self.unknown.is_empty() {
            out.push_str(&format!(
                "UNKNOWN: {} row(s) may or may not have been applied and were not resent; check these calls before sending them again:\n",
                self.unknown.len()
            ));
            for (line, call) in self.unknown.iter().take(UNKNOWN_LISTED) {
                out.push_str(&format!("  line {line}: call {call}\n"));
            }
            if self.unknown.len() > UNKNOWN_LISTED {
                out.push_str(&format!(
                    "  … and {} more (status unknown in results)\n",
                    self.unknown.len() - UNKNOWN_LISTED
                ));
            }
        }
        match &self.stop {
            Some(StopReason::Aborted(reason)) => out.push_str(&format!("ABORTED: {reason}\n")),
            Some(StopReason::Interrupted) => out.push_str("INTERRUPTED\n"),
            None => {}
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        let statuses: serde_json::Map<String, serde_json::Value> =
            Status::ALL.iter().map(|s| (s.as_str().to_string(), json!(self.count(*s)))).collect();
        let rejected_by_reason: Vec<serde_json::Value> = self
            .validation
            .by_reason
            .iter()
            .map(|((kind, column), n)| json!({"reason": kind.to_string(), "column": column, "rows": n}))
            .collect();
        json!({
            "input": self.input.display().to_string(),
            "results": self.results.display().to_string(),
            "errors": self.errors.display().to_string(),
            "dry_run": self.dry_run,
            "rows_read": self.validation.rows,
            "valid": self.validation.valid,
            "invalid": self.validation.rejected,
            "invalid_by_reason": rejected_by_reason,
            "statuses": statuses,
            "requests": self.requests,
            "retries": self.retries,
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "unknown_rows": self.unknown.iter().map(|(line, call)| json!({"line": line, "id": call})).collect::<Vec<_>>(),
            "stopped": match &self.stop {
                Some(StopReason::Aborted(r)) => json!({"aborted": r}),
                Some(StopReason::Interrupted) => json!("interrupted"),
                None => serde_json::Value::Null,
            },
            "exit_code": self.exit() as i32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::CallRef;

    #[test]
    fn exit_codes() {
        let mut s = RunSummary::default();
        assert_eq!(s.exit(), Exit::Ok);
        s.record(&RowOutcome::new(2, CallRef::Id(1), Status::Ok));
        assert_eq!(s.exit(), Exit::Ok);
        s.record(&RowOutcome::new(3, CallRef::Id(2), Status::Unknown));
        assert_eq!(s.exit(), Exit::SomeRowsFailed);
        assert_eq!(s.unknown, [(3, "2".to_string())]);
        s.stop = Some(StopReason::Aborted("x".into()));
        assert_eq!(s.exit(), Exit::Aborted);
        s.stop = Some(StopReason::Interrupted);
        assert_eq!(s.exit(), Exit::Interrupted);
        let json = s.to_json();
        assert_eq!(json["statuses"]["unknown"], 1);
        assert_eq!(json["exit_code"], 130);
    }
}
