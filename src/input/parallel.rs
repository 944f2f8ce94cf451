//! Validation on every core, for `validate`: each worker thread takes the
//! next batch of records from the shared reader, checks it against the
//! `Rules`, and hands it to the caller's thread, which puts batches back in
//! file order and runs the repeat check (the one rule that needs the rows
//! before it).
//!
//! A worker parses the batch it then checks, so a record's bytes stay in
//! that core's cache; only the reading itself is one thread at a time. A
//! worker keeps only the call a valid record names and drops the rest of its
//! update where it was built: memory freed on another thread than the one
//! that allocated it is slow with the system allocator. Batches come from a
//! fixed pool and go back to it once handled: memory stays at a few batches
//! however long the file.

use std::collections::BTreeMap;
use std::io;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::input::reader::{CsvReader, OwnedRecord, Record};
use crate::input::rejection::Rejection;
use crate::input::validate::{Rules, Validator};
use crate::input::values::CallRef;

/// Records per batch: enough that a hand-over costs little per record.
const BATCH: usize = 512;

#[derive(Default)]
struct Batch {
    /// Its place in the file: batch 0 holds the first records.
    seq: u64,
    /// The first `len` hold this batch's records; the rest are spare buffers.
    records: Vec<OwnedRecord>,
    len: usize,
    /// The call each valid record names, or why it was rejected.
    outcomes: Vec<Result<CallRef, Rejection>>,
    /// Reading failed after the `len` records.
    error: Option<io::Error>,
}

/// The reader, shared by the workers.
struct Source {
    reader: CsvReader,
    /// Records per batch.
    batch: usize,
    next_seq: u64,
    /// The file ended (or could not be read further).
    finished: bool,
}

/// Why `check_all` stopped before the end of the file.
#[derive(Debug)]
pub enum Stopped<E> {
    /// The file could not be read.
    Read(io::Error),
    /// The caller's function failed.
    Each(E),
}

/// How many workers to check records on: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads and checks every record, calling `each` with each record and its
/// outcome (the call a valid record names) in file order, on the calling
/// thread. Stops at the first error from reading or from `each`.
pub fn check_all<E>(
    reader: CsvReader,
    validator: &mut Validator,
    workers: usize,
    each: impl FnMut(&Record<'_>, Result<CallRef, Rejection>) -> Result<(), E>,
) -> Result<(), Stopped<E>> {
    check_all_in_batches(reader, validator, workers, BATCH, each)
}

/// `check_all` with batches of `batch` records (tests use tiny batches to
/// cross many batch boundaries in a small file).
pub fn check_all_in_batches<E>(
    reader: CsvReader,
    validator: &mut Validator,
    workers: usize,
    batch: usize,
    mut each: impl FnMut(&Record<'_>, Result<CallRef, Rejection>) -> Result<(), E>,
) -> Result<(), Stopped<E>> {
    let workers = workers.max(1);
    let (rules, mut repeats) = validator.split();
    let source = Mutex::new(Source { reader, batch: batch.max(1), next_seq: 0, finished: false });
    std::thread::scope(|scope| {
        // Both channels' caller ends live in this closure: when it returns
        // (the file is done, or the caller stopped early), they close, and a
        // worker waiting for a batch or handing one over sees it and ends.
        // Were they outside, a worker waiting on an empty pool would wait
        // forever, and the scope with it.
        let (give_back, pool) = channel::<Batch>();
        let pool_size = workers * 3;
        for _ in 0..pool_size {
            let _ = give_back.send(Batch::default());
        }
        let pool = Arc::new(Mutex::new(pool));
        let (done, checked) = channel::<Batch>();
        for _ in 0..workers {
            let (source, pool, done) = (&source, Arc::clone(&pool), done.clone());
            scope.spawn(move || work(rules, source, &pool, &done));
        }
        drop(done);

        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for batch in checked {
            waiting.insert(batch.seq, batch);
            while let Some(mut batch) = waiting.remove(&next) {
                for (record, outcome) in batch.records[..batch.len].iter().zip(batch.outcomes.drain(..)) {
                    let record = record.as_record();
                    let outcome = outcome.and_then(|call| repeats.check_call(&record, call, None).map(|()| call));
                    each(&record, outcome).map_err(Stopped::Each)?;
                }
                if let Some(e) = batch.error.take() {
                    return Err(Stopped::Read(e));
                }
                next += 1;
                // The workers may all be gone (the file ended): nothing to refill.
                let _ = give_back.send(batch);
            }
            if waiting.len() == pool_size {
                // Every batch is here but the next: a worker lost it (it
                // panicked). Stop waiting; the scope passes its panic on.
                break;
            }
        }
        assert!(waiting.is_empty(), "a validation worker stopped without handing back its records");
        Ok(())
    })
}

/// A worker thread: takes a batch from the pool, fills it from the reader,
/// checks it, hands it over; until the file ends or the caller stops.
fn work(rules: &Rules, source: &Mutex<Source>, pool: &Mutex<Receiver<Batch>>, done: &Sender<Batch>) {
    // A panic here (a bug) loses this worker's batch: stop the others
    // reading, so the caller's loop ends instead of waiting for that batch,
    // and the scope passes the panic on.
    let _stop_on_panic = StopOnPanic(source);
    loop {
        let Ok(mut batch) = lock(pool).recv() else { return };
        {
            let mut source = lock(source);
            if source.finished {
                return;
            }
            let size = source.batch;
            fill(&mut source.reader, &mut batch, size);
            source.finished = batch.error.is_some() || batch.len < size;
            batch.seq = source.next_seq;
            source.next_seq += 1;
        }
        batch.outcomes.clear();
        batch.outcomes.extend(batch.records[..batch.len].iter().map(|r| rules.check(&r.as_record()).map(|u| u.call)));
        if done.send(batch).is_err() {
            return;
        }
    }
}

struct StopOnPanic<'a>(&'a Mutex<Source>);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(self.0).finished = true;
        }
    }
}

fn fill(reader: &mut CsvReader, batch: &mut Batch, size: usize) {
    batch.len = 0;
    batch.error = None;
    while batch.len < size {
        if batch.records.len() == batch.len {
            batch.records.push(OwnedRecord::default());
        }
        match reader.next_owned(&mut batch.records[batch.len]) {
            Ok(true) => batch.len += 1,
            Ok(false) => break,
            Err(e) => {
                batch.error = Some(e);
                break;
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked is reported when the scope ends; the others
    // may still finish (the reader and the pool stay whole).
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::columns::{HeaderOptions, Schema};

    /// Every record of a file, checked on one thread with `Validator::check`
    /// and with `check_all` on several: the same outcomes in the same order,
    /// whatever the number of workers and however the batches fall.
    #[test]
    fn same_outcomes_in_file_order_as_one_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("in.csv");
        let mut text = String::from("call_id,revenue,call_disposition_id\n");
        for i in 0..(BATCH * 3 + 7) {
            // Repeats across batches, bad amounts, blank lines, a multi-line record.
            let id = if i % 97 == 0 { 5 } else { 1000 + i };
            let revenue = if i % 41 == 0 { "1.234".to_string() } else { format!("{}.50", i % 300) };
            text.push_str(&format!("{id},{revenue},{}\n", i % 20 + 1));
            if i % 250 == 0 {
                text.push_str("\n\"7\n7\",1,2\n");
            }
        }
        std::fs::write(&path, &text).expect("write");

        let open = || {
            let (reader, headers) = CsvReader::open(&path, b',').expect("open");
            let schema = Schema::from_headers(headers, &HeaderOptions::default()).expect("schema");
            (reader, Validator::new(schema))
        };
        let (mut reader, mut validator) = open();
        let mut want = Vec::new();
        while let Some(record) = reader.next_record().expect("read") {
            want.push((record.line, validator.check(&record).map(|u| u.call).map_err(|r| r.reason)));
        }
        assert!(want.len() > BATCH * 3, "the file spans several batches");
        assert!(want.iter().any(|(_, o)| o.as_ref().is_err_and(|r| r.contains("already appears"))));

        for workers in [1, 2, 3] {
            let (reader, mut validator) = open();
            let mut got = Vec::new();
            let result = check_all(reader, &mut validator, workers, |record, outcome| {
                got.push((record.line, outcome.map_err(|r| r.reason)));
                Ok::<(), ()>(())
            });
            assert!(result.is_ok());
            assert_eq!(got, want, "{workers} workers");
        }
    }

    /// An error from the caller's function stops the job there.
    #[test]
    fn stops_at_the_first_error_from_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("in.csv");
        // Many more batches than the pool holds: the workers are waiting for
        // batches to come back when the caller stops.
        let rows: String = (1..=50_000).map(|i| format!("{i},1.00\n")).collect();
        std::fs::write(&path, format!("call_id,revenue\n{rows}")).expect("write");
        let (reader, headers) = CsvReader::open(&path, b',').expect("open");
        let mut validator = Validator::new(Schema::from_headers(headers, &HeaderOptions::default()).expect("schema"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = 0;
            let result = check_all(reader, &mut validator, 2, |record, _| {
                seen += 1;
                if record.line == 2 {
                    // Let the workers use up the pool before the caller stops.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
                if record.line == 1000 { Err(record.line) } else { Ok(()) }
            });
            let _ = tx.send((result, seen));
        });
        let (result, seen) = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("check_all returns");
        assert!(matches!(result, Err(Stopped::Each(1000))));
        assert_eq!(seen, 999, "lines 2..=1000, and nothing after the error");
    }
}
