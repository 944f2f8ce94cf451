//! Exit codes, and the error that carries one up to `main`.

use std::process::ExitCode;

/// What the process tells its caller (a scheduler reads these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every row ok.
    Ok = 0,
    /// The run finished, but some rows were rejected, failed or unknown.
    SomeRowsFailed = 1,
    /// Usage, configuration or input-file error: nothing was sent.
    Usage = 2,
    /// The job aborted: auth, retry budget, failure threshold, a write error.
    Aborted = 3,
    /// Ctrl-C or SIGTERM.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug)]
pub struct Fatal {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl Fatal {
    /// Bad usage, configuration or input: nothing was sent.
    pub fn usage(error: impl Into<anyhow::Error>) -> Fatal {
        Fatal { exit: Exit::Usage, error: error.into() }
    }

    /// The job stopped part-way.
    pub fn aborted(error: impl Into<anyhow::Error>) -> Fatal {
        Fatal { exit: Exit::Aborted, error: error.into() }
    }
}
