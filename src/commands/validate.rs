//! `tdrecon validate FILE`: read and validate every row, write `errors.csv`,
//! print a summary. Sends nothing.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::exit::{Exit, Fatal};
use crate::input::InputOptions;
use crate::input::parallel::{Stopped, check_all, default_workers};
use crate::input::reader::{Record, read_error};
use crate::input::rejection::Rejection;
use crate::reports::errors::create_error_report;
use crate::reports::summary_json::{self, SummaryOut};
use crate::reports::tally::Tally;

#[derive(Debug, Clone)]
pub struct ValidateOptions {
    pub input: InputOptions,
    pub errors: PathBuf,
    /// `--summary-json PATH` (or `-`).
    pub summary_json: Option<PathBuf>,
}

pub fn run(opts: &ValidateOptions) -> Result<Exit, Fatal> {
    let started_at = summary_json::now();
    let (reader, mut validator) = opts.input.open()?;
    let errors_path = opts.errors.clone();
    let mut errors = create_error_report(&errors_path, &validator.schema().headers)?;
    let write_err = |e: csv::Error| {
        Fatal::aborted(anyhow::Error::new(e).context(format!("cannot write {}", errors_path.display())))
    };
    let mut tally = Tally::default();
    let mut check = |record: &Record<'_>, outcome: Result<_, Rejection>| {
        tally.rows += 1;
        match outcome {
            Ok(_) => tally.valid += 1,
            Err(rejection) => {
                tally.reject(rejection.kind, &rejection.column);
                errors.write(record.line, &rejection, record.raw)?;
            }
        }
        Ok(())
    };
    check_all(reader, &mut validator, default_workers(), &mut check).map_err(|stopped| match stopped {
        Stopped::Read(e) => Fatal::usage(read_error(&opts.input.name, e)),
        Stopped::Each(e) => write_err(e),
    })?;
    errors
        .into_inner()
        .and_then(|mut w| w.flush())
        .with_context(|| format!("cannot write {}", errors_path.display()))
        .map_err(Fatal::aborted)?;
    let mut summary = validator.schema().describe();
    summary.push_str(&tally.render());
    for warning in validator.schema().warnings() {
        crate::console::warn(&format!("warning: {warning}"));
    }
    if validator.schema().matches_callers() {
        summary.push_str("rows without a call id are matched to their call by caller_number and call_time by `run`\n");
    }
    if validator.schema().uses_names() {
        summary.push_str(
            "names in call_disposition, reassign_buyer and reassign_traffic_source are checked against the API's \
             lists by `run`\n",
        );
    }
    if tally.rejected > 0 {
        summary.push_str(&format!("invalid rows are in {}\n", errors_path.display()));
    }
    let exit = if tally.rejected == 0 { Exit::Ok } else { Exit::SomeRowsFailed };
    let out = SummaryOut { json: opts.summary_json.clone(), ..SummaryOut::default() };
    if out.json.is_some() {
        let mut json = tally.to_json();
        let extra = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "command": "validate",
            "started_at": started_at,
            "finished_at": summary_json::now(),
            "input": opts.input.name.display().to_string(),
            "input_sha256": summary_json::input_sha256(&opts.input.path),
            "errors": errors_path.display().to_string(),
            "exit_code": exit as i32,
        });
        if let (Some(json), serde_json::Value::Object(extra)) = (json.as_object_mut(), extra) {
            json.extend(extra);
        }
        out.write(&json).with_context(|| "cannot write the summary JSON").map_err(Fatal::aborted)?;
    }
    out.text(&summary);
    Ok(exit)
}
