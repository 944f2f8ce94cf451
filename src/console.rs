//! Text for people, on standard output and standard error. `print!` panics
//! when the other end of a pipe has gone (`tdrecon run … | head -1`); here a
//! closed pipe only means nobody reads any more, as ripgrep and xsv treat
//! it: what is left to say is dropped and the command's own exit code
//! stands. Every line the library prints goes through these two.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output's reader has gone: later writes are skipped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output and flushes it.
pub fn out(text: &str) {
    write_to(&mut io::stdout().lock(), &STDOUT_CLOSED, text.as_bytes());
}

/// Writes `text` to standard error.
pub fn err(text: &str) {
    write_to(&mut io::stderr().lock(), &STDERR_CLOSED, text.as_bytes());
}

/// Writes raw bytes to standard output (a JSON document) and flushes them;
/// `Err` only for a failure other than a closed pipe.
pub fn out_bytes(bytes: &[u8]) -> io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

fn write_to(w: &mut impl Write, closed: &AtomicBool, bytes: &[u8]) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    // Nothing else can be done about a terminal that will not take text:
    // the error is the reader's absence, and the run's outcome stands.
    if w.write_all(bytes).and_then(|()| w.flush()).is_err() {
        closed.store(true, Ordering::Relaxed);
    }
}

/// `console::err` with a line ending, prefixed `tdrecon: `.
pub fn warn(text: &str) {
    err(&format!("tdrecon: {text}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone, as a closed pipe is.
    struct Closed(usize);

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_written_to_once_then_left_alone() {
        let closed = AtomicBool::new(false);
        let mut w = Closed(0);
        write_to(&mut w, &closed, b"first");
        write_to(&mut w, &closed, b"second");
        assert!(closed.load(Ordering::Relaxed));
        assert_eq!(w.0, 1, "no write after the pipe closed");
    }
}
