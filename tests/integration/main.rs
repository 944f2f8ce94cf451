//! Integration tests: one test binary, a module per command. They run the
//! real `tdrecon` binary in a throw-away directory.

mod property;
mod sim;
mod util;
mod validate;
