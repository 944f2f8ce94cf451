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
use std::sync::{Mutex, MutexGuard};

use crate::reader::{CsvReader, OwnedRecord, Record};
use crate::validate::{Rejection, Rules, Validator};
use crate::values::CallRef;

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
    mut each: impl FnMut(&Record<'_>, Result<CallRef, Rejection>) -> Result<(), E>,
) -> Result<(), Stopped<E>> {
    let workers = workers.max(1);
    let (rules, mut repeats) = validator.split();
    let source = Mutex::new(Source { reader, next_seq: 0, finished: false });
    let (give_back, pool) = channel::<Batch>();
    for _ in 0..workers * 3 {
        let _ = give_back.send(Batch::default());
    }
    let pool = Mutex::new(pool);
    std::thread::scope(|scope| {
        let (done, checked) = channel::<Batch>();
        for _ in 0..workers {
            let (source, pool, done) = (&source, &pool, done.clone());
            scope.spawn(move || work(rules, source, pool, &done));
        }
        drop(done);

        // When this returns (done, or stopped early), the pool and the
        // hand-over close and the workers end: a closed channel is their
        // signal to stop.
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for batch in checked {
            waiting.insert(batch.seq, batch);
            while let Some(mut batch) = waiting.remove(&next) {
                for (record, outcome) in batch.records[..batch.len].iter().zip(batch.outcomes.drain(..)) {
                    let record = record.as_record();
                    let outcome = outcome.and_then(|call| repeats.check_call(&record, call).map(|()| call));
                    each(&record, outcome).map_err(Stopped::Each)?;
                }
                if let Some(e) = batch.error.take() {
                    return Err(Stopped::Read(e));
                }
                next += 1;
                // The workers may all be gone (the file ended): nothing to refill.
                let _ = give_back.send(batch);
            }
        }
        Ok(())
    })
}

/// A worker thread: takes a batch from the pool, fills it from the reader,
/// checks it, hands it over; until the file ends or the caller stops.
fn work(rules: &Rules, source: &Mutex<Source>, pool: &Mutex<Receiver<Batch>>, done: &Sender<Batch>) {
    loop {
        let Ok(mut batch) = lock(pool).recv() else { return };
        {
            let mut source = lock(source);
            if source.finished {
                return;
            }
            fill(&mut source.reader, &mut batch);
            source.finished = batch.error.is_some() || batch.len < BATCH;
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

fn fill(reader: &mut CsvReader, batch: &mut Batch) {
    batch.len = 0;
    batch.error = None;
    while batch.len < BATCH {
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
    use crate::columns::{HeaderOptions, Schema};

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
        let rows: String = (1..=5000).map(|i| format!("{i},1.00\n")).collect();
        std::fs::write(&path, format!("call_id,revenue\n{rows}")).expect("write");
        let (reader, headers) = CsvReader::open(&path, b',').expect("open");
        let mut validator = Validator::new(Schema::from_headers(headers, &HeaderOptions::default()).expect("schema"));
        let mut seen = 0;
        let result = check_all(reader, &mut validator, 2, |record, _| {
            seen += 1;
            if record.line == 1000 { Err(record.line) } else { Ok(()) }
        });
        assert!(matches!(result, Err(Stopped::Each(1000))));
        assert_eq!(seen, 999, "lines 2..=1000, and nothing after the error");
    }
}
