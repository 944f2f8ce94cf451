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
use crate::outputs::create_error_report;
use crate::outputs::tally::Tally;

#[derive(Debug, Clone)]
pub struct ValidateOptions {
    pub input: InputOptions,
    pub errors: Option<PathBuf>,
}

pub fn run(opts: &ValidateOptions) -> Result<Exit, Fatal> {
    let (reader, mut validator) = opts.input.open()?;
    let errors_path = opts.errors.clone().unwrap_or_else(|| opts.input.sibling("errors"));
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
        Stopped::Read(e) => Fatal::usage(read_error(&opts.input.path, e)),
        Stopped::Each(e) => write_err(e),
    })?;
    errors
        .into_inner()
        .and_then(|mut w| w.flush())
        .with_context(|| format!("cannot write {}", errors_path.display()))
        .map_err(Fatal::aborted)?;
    let mut summary = tally.render();
    if validator.schema().uses_names() {
        summary.push_str(
            "names in call_disposition, reassign_buyer and reassign_traffic_source are checked against the API's \
             lists by `run`\n",
        );
    }
    if tally.rejected > 0 {
        summary.push_str(&format!("rejected rows are in {}\n", errors_path.display()));
    }
    print!("{summary}");
    Ok(if tally.rejected == 0 { Exit::Ok } else { Exit::SomeRowsFailed })
}
