//! Command-line parsing. clap stays inside this module: it turns raw flags
//! into the validated option structs the commands take.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::columns::HeaderOptions;
use crate::commands::{self, template::UseCase};
use crate::exit::{Exit, Fatal};
use crate::input::InputOptions;

#[derive(Debug, Parser)]
#[command(name = "tdrecon", version, about = "Push buyer-report figures onto TrackDrive calls, safely and in bulk.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a file without sending anything: write errors.csv, print a summary.
    Validate {
        #[command(flatten)]
        input: InputArgs,
        /// Where to write rejected rows [default: <input stem>.errors.csv].
        #[arg(long, value_name = "PATH")]
        errors: Option<PathBuf>,
    },
    /// Print a header row and an example row to start a file from.
    Template {
        #[arg(value_enum, default_value_t = UseCase::All)]
        use_case: UseCase,
    },
}

/// How to read the input file (shared by `validate` and `run`).
#[derive(Debug, Args)]
struct InputArgs {
    /// The CSV file: call id or UUID plus the fields to update.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Field delimiter, one ASCII character (use '\t' for tabs).
    #[arg(long, default_value = ",", value_name = "CHAR")]
    delimiter: String,
    /// Treat a header as a known column: --map 'Buyer Revenue=revenue'. Repeatable.
    #[arg(long = "map", value_name = "HEADER=COLUMN")]
    maps: Vec<String>,
    /// Skip a column of the file. Repeatable.
    #[arg(long = "ignore-column", value_name = "HEADER")]
    ignore: Vec<String>,
}

impl InputArgs {
    fn into_options(self) -> Result<InputOptions, Fatal> {
        let delimiter = match self.delimiter.as_str() {
            "\\t" | "\t" | "tab" => b'\t',
            d if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            d => return Err(Fatal::usage(anyhow::anyhow!("--delimiter {d:?}: expected one ASCII character"))),
        };
        let maps = self
            .maps
            .iter()
            .map(|m| HeaderOptions::parse_map(m))
            .collect::<Result<_, _>>()
            .map_err(|e| Fatal::usage(anyhow::anyhow!(e)))?;
        Ok(InputOptions { path: self.file, delimiter, headers: HeaderOptions { maps, ignore: self.ignore } })
    }
}

/// Parses the process's arguments, runs the command, and maps the outcome to
/// an exit code. Errors are printed with their causes, never with a backtrace.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    match dispatch(cli.command) {
        Ok(exit) => exit.into(),
        Err(Fatal { exit, error }) => {
            eprintln!("tdrecon: {error:#}");
            exit.into()
        }
    }
}

fn dispatch(command: Command) -> Result<Exit, Fatal> {
    match command {
        Command::Validate { input, errors } => {
            commands::validate::run(&commands::validate::ValidateOptions { input: input.into_options()?, errors })
        }
        Command::Template { use_case } => {
            print!("{}", commands::template::render(use_case));
            Ok(Exit::Ok)
        }
    }
}
