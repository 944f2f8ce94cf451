//! A third party's panic on a damaged file, kept to a sentence. calamine
//! panics on some malformed `.xls` records (an index past its record's
//! end); such a panic is the file's doing, not a bug of ours, so it is
//! caught where calamine is called and said as the file being damaged,
//! without the "internal error" the process-wide hook prints for our own.
//! A leaf: depends on nothing of ours.

use std::cell::Cell;

thread_local! {
    /// A `contained` call is running on this thread: its panics are expected.
    static EXPECTED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a panic on this thread is one `contained` expects (the panic
/// hook stays silent for it).
pub fn expected() -> bool {
    EXPECTED.with(Cell::get)
}

/// Runs `f`, turning a panic into `Err` with its message.
pub fn contained<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let was = EXPECTED.with(|e| e.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    EXPECTED.with(|e| e.set(was));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "an unreadable record".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_sentence_and_the_flag_is_restored() {
        assert_eq!(contained(|| 7), Ok(7));
        let v: Vec<u8> = Vec::new();
        let err = contained(|| v[3]).unwrap_err();
        assert!(err.contains("index out of bounds"), "{err}");
        assert!(!expected(), "the flag is cleared after");
    }
}
