//! Integration tests: one test binary, a module per command. They run the
//! real `tdrecon` binary in a throw-away directory.

mod across_runs;
mod as_the_buyer_sees;
mod buyer_report;
mod chaos;
mod discrepancies;
mod documented;
mod formats;
mod harness;
mod help;
mod hostile;
mod identity;
mod morning;
mod never_twice;
mod one_call;
mod operator;
mod own_files;
mod pacing;
mod page;
mod pg;
mod pipes;
mod property;
mod readme;
mod real_world;
mod reconcile;
mod resume;
mod run;
mod sim;
mod team_ledger;
mod unattended;
mod util;
mod validate;
mod window;
