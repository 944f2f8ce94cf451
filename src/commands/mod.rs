//! One module per subcommand; each takes a validated configuration and
//! returns the exit code, or a `Fatal` error.

pub mod doctor;
pub mod history;
pub mod ledger;
pub mod names;
pub mod sim;
pub mod template;
pub mod validate;
