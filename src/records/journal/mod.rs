//! The write-ahead journal: what makes a run safe to stop at any moment.
//!
//! Before a row's first request is sent, its intent (`I,line`) is on disk;
//! after its response, its outcome (`O,line,status,http status,<the typed
//! outcome as JSON>`: `RowOutcome::to_record`, a layout this journal's
//! version pins, not results.csv's). A run that ends writes `E`. On `--resume`, a row with an outcome is done (unless it
//! was `failed` or `not_sent`, which are safe to send again); a row with an
//! intent and no outcome may have been applied, so it is resent only if its
//! fields are safe to send twice.
//!
//! Every record is one line, `<checksum> <fields>`: the fields are
//! tab-separated with tabs, line breaks and backslashes escaped, so no
//! record ever spans lines, and the checksum (FNV-1a, 64 bits, over the
//! fields) proves the line whole. A record cut short by a crash or a full
//! disk has no line ending or the wrong checksum: it is never read as a
//! complete record, it cannot swallow the records after it, and before a
//! resume appends anything the torn tail (everything after the last whole
//! record) is cut off.
//!
//! A syncer thread writes the intents made since its last sync in one
//! write, then syncs the file once for them all (group commit), so a sync
//! per row is never needed and a row is never sent before its intent is
//! durable. Outcomes are written at once by the thread that makes them (a
//! write to the page cache, so the results file never shows an outcome the
//! journal could not take) and made durable by the next sync: losing one to
//! a crash only leaves its row in doubt. An intent records when it was made,
//! so an audit log can later show whether the row was applied after it.

mod replay;
mod writer;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use replay::{JournalError, LineSet, Replay, done_outcomes, replay};
pub use writer::Journal;

const MAGIC: &str = "#tdrecon-journal";
/// Version 1 was CSV records ending in a `.` field; a torn quoted field
/// could swallow the records after it. Version 2 kept results.csv's columns
/// as an outcome, a layout it did not own.
const VERSION: &str = "3";

/// What a journal is bound to: the input file's bytes and the options that
/// change what is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub input_sha256: String,
    pub options: String,
}

impl Binding {
    /// Binds to the input whose bytes hash to `input_sha256` (the source's
    /// survey), sent with `options`.
    pub fn new(input_sha256: &str, options: &str) -> Binding {
        let options = hex(&Sha256::digest(options.as_bytes()))[..16].to_string();
        Binding { input_sha256: input_sha256.to_string(), options }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new run's name: unique enough to tell runs apart in an audit log
/// (time, process and input), short enough to ride in every update.
pub fn new_run_name(input_sha256: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seed = format!("{}|{}|{input_sha256}", now.as_nanos(), std::process::id());
    format!("tdr-{}", &hex(&Sha256::digest(seed.as_bytes()))[..10])
}

/// `x.results.csv` → `x.results.journal`.
pub fn path_for(results: &Path) -> PathBuf {
    results.with_extension("journal")
}

/// The journal of results written to `results`: beside it, unless the
/// results are a stream (`/dev/null`, a pipe): then beside where they would
/// have gone by default (`fallback`), never `/dev/null.journal`.
pub fn beside(results: &Path, fallback: &Path) -> PathBuf {
    let beside = if crate::files::paths::is_stream(results) { fallback } else { results };
    path_for(beside)
}

fn record<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    // The checksum goes first but covers what follows: leave room for it.
    let start = out.len();
    out.extend_from_slice(&[b'0'; 16]);
    out.push(b' ');
    let body = out.len();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        for &b in field.as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.push(b),
            }
        }
    }
    let sum = format!("{:016x}", fnv1a(&out[body..]));
    out[start..start + 16].copy_from_slice(sum.as_bytes());
    out.push(b'\n');
}

/// The fields of one whole record line (its line ending removed), or
/// `None` when the line is not a record this journal wrote whole.
fn parse_record(line: &[u8]) -> Option<Vec<String>> {
    let (sum, body) = (line.get(..16)?, line.get(17..)?);
    if line[16] != b' ' || std::str::from_utf8(sum).ok()? != format!("{:016x}", fnv1a(body)) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    text.split('\t')
        .map(|field| {
            let mut out = String::with_capacity(field.len());
            let mut chars = field.chars();
            while let Some(c) = chars.next() {
                out.push(match c {
                    '\\' => match chars.next()? {
                        't' => '\t',
                        'n' => '\n',
                        'r' => '\r',
                        '\\' => '\\',
                        _ => return None,
                    },
                    c => c,
                });
            }
            Some(out)
        })
        .collect()
}

/// FNV-1a, 64 bits: cheap, and enough to tell a whole record from a torn
/// or overwritten one (it guards against accidents, not an adversary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Syncs once for every batch of intents written since the last sync
/// (group commit), then acknowledges them all. Syncs are at least
/// `SYNC_INTERVAL` apart unless `SYNC_ROWS` intents are waiting: each sync
/// costs CPU for the block device, and on a busy machine fewer, fuller
/// syncs keep more throughput.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::values::CallRef;
    use crate::outcome::{RowOutcome, Status};
    use proptest::prelude::*;
    use std::fs::File;
    use std::io;

    proptest! {
        /// Any fields come back as they went in: tabs, line breaks,
        /// backslashes, non-ASCII; and a record is always one line.
        #[test]
        fn records_round_trip(cells in proptest::collection::vec(".*|[a\\\\\t\r\n ]*", 1..6)) {
            let mut line = Vec::new();
            record(&mut line, cells.iter().map(String::as_str));
            prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert_eq!(parse_record(line.strip_suffix(b"\n").unwrap()), Some(cells));
        }

        /// A record damaged anywhere is never read as whole.
        #[test]
        fn a_damaged_record_is_never_whole(cells in proptest::collection::vec("[a-z,\"]{0,8}", 1..4), at in 0usize..64, byte in 0u8..=255) {
            let mut line = Vec::new();
            record(&mut line, cells.iter().map(String::as_str));
            line.pop();
            let at = at % line.len();
            prop_assume!(line[at] != byte);
            line[at] = byte;
            prop_assert_eq!(parse_record(&line), None);
        }
    }

    fn binding() -> Binding {
        Binding { input_sha256: "ab".repeat(32), options: "0123456789abcdef".into() }
    }

    #[tokio::test]
    async fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let j = Journal::create(&path, &binding(), "tdr-test", true, None).unwrap();
        for line in [2, 3, 4, 6] {
            j.intent(line, 1_000 + line, None).await.unwrap();
        }
        j.intent(5, 1_005, Some(r#"{"revenue":"1.00","note":"a, \"b\""}"#)).await.unwrap();
        let mut ok = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
        ok.error = "multi\nline, \"quoted\"".into();
        j.outcome(&ok).unwrap();
        j.outcome(&RowOutcome::new(3, CallRef::Id(2), Status::Failed)).unwrap();
        j.outcome(&RowOutcome::new(4, CallRef::Id(3), Status::Unknown)).unwrap();
        j.outcome(&RowOutcome::new(6, CallRef::Id(4), Status::NotSent)).unwrap();
        j.finish(false).unwrap();

        let r = replay(&path).unwrap();
        assert_eq!(r.binding, Some(binding()));
        assert!(r.done.contains(2) && r.done.contains(4) && !r.done.contains(3) && !r.done.contains(6));
        assert!(r.in_doubt.contains(5) && !r.in_doubt.contains(2) && !r.in_doubt.contains(3));
        assert_eq!(r.before.get(&5).map(String::as_str), Some(r#"{"revenue":"1.00","note":"a, \"b\""}"#));
        assert_eq!(r.before.len(), 1);
        assert_eq!((r.done.len(), r.in_doubt.len()), (2, 1));
        assert!(!r.ended);

        assert_eq!(r.intent_at.get(&5), Some(&1_005));
        assert_eq!(r.intent_at.get(&4), Some(&1_004), "an unknown row keeps its intent's time");
        assert_eq!(r.intent_at.get(&2), None);
        assert!(r.unknown.contains(4) && r.unknown.len() == 1);

        let mut copied = Vec::new();
        done_outcomes(&path, &r, |o| {
            copied.push(o);
            Ok(())
        })
        .unwrap();
        assert_eq!(copied.len(), 2);
        assert_eq!(copied[0], ok, "an outcome comes back whole");

        let j = Journal::append(&path, r.whole_len, false, None).unwrap();
        j.echoed().unwrap();
        j.finish(true).unwrap();
        let r = replay(&path).unwrap();
        assert!(r.ended && r.echoed && r.run == "tdr-test");
    }

    #[tokio::test]
    async fn a_row_settled_again_is_copied_once_with_its_last_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let j = Journal::create(&path, &binding(), "tdr-test", false, None).unwrap();
        j.intent(7, 50, None).await.unwrap();
        j.outcome(&RowOutcome::new(7, CallRef::Id(1), Status::Unknown)).unwrap();
        j.finish(false).unwrap();
        let mut r = replay(&path).unwrap();
        r.reopen_unknown();
        assert!(r.in_doubt.contains(7) && !r.done.contains(7));
        assert_eq!(r.intent_at.get(&7), Some(&50));
        let j = Journal::append(&path, r.whole_len, false, None).unwrap();
        j.intent(7, 90, None).await.unwrap();
        j.outcome(&RowOutcome::new(7, CallRef::Id(1), Status::Ok)).unwrap();
        j.finish(true).unwrap();
        let r = replay(&path).unwrap();
        assert!(r.done.contains(7) && r.unknown.is_empty() && r.intent_at.is_empty());
        let mut copied = Vec::new();
        done_outcomes(&path, &r, |o| {
            copied.push(o.status);
            Ok(())
        })
        .unwrap();
        assert_eq!(copied, [Status::Ok]);
    }

    /// Four attempts of one row (`unknown`, then `failed` after settling,
    /// then `unknown`, then `ok`): results.csv gets its last outcome once.
    #[tokio::test]
    async fn a_row_with_final_outcomes_around_a_failure_is_copied_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let j = Journal::create(&path, &binding(), "tdr-test", false, None).unwrap();
        for (n, status) in [Status::Unknown, Status::Failed, Status::Unknown, Status::Ok].into_iter().enumerate() {
            j.intent(4, 10 + n as u64, None).await.unwrap();
            j.outcome(&RowOutcome::new(4, CallRef::Id(1), status)).unwrap();
        }
        j.finish(false).unwrap();
        let r = replay(&path).unwrap();
        let mut copied = Vec::new();
        done_outcomes(&path, &r, |o| {
            copied.push(o.status);
            Ok(())
        })
        .unwrap();
        assert_eq!(copied, [Status::Ok]);
    }

    /// A journal as the run left it, cut at every byte offset of its last
    /// records (a crash or a full disk mid-write), then resumed: a torn
    /// record is never read as whole, never swallows another, and is cut off
    /// before the resume appends, so the records appended after it read back.
    #[tokio::test]
    async fn a_journal_cut_at_any_byte_reads_back_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full.journal");
        let j = Journal::create(&full, &binding(), "tdr-test", false, None).unwrap();
        let mut ok = RowOutcome::new(2, CallRef::Id(1), Status::Ok);
        ok.error = "a \"quoted, multi\nline\" error\twith a tab\\".into();
        j.intent(2, 10, Some("{\"notes\":\"x\ny\"}")).await.unwrap();
        j.outcome(&ok).unwrap();
        j.intent(3, 11, Some("{\"notes\":\"open \\\" quote\"}")).await.unwrap();
        j.outcome(&RowOutcome::new(3, CallRef::Id(2), Status::Unknown)).unwrap();
        j.finish(false).unwrap();
        let bytes = std::fs::read(&full).unwrap();
        let header_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        let ends: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1).collect();
        let path = dir.path().join("cut.journal");
        for cut in header_len..=bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let r = replay(&path).unwrap();
            let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
            assert_eq!(r.whole_len as usize, ends[whole], "cut at {cut}");
            // What the whole records say, and nothing of the torn one.
            assert_eq!(r.done.contains(2), whole >= 2, "cut at {cut}");
            assert_eq!(r.in_doubt.contains(2), whole == 1, "cut at {cut}");
            assert_eq!(r.in_doubt.contains(3), whole == 3, "cut at {cut}");
            assert_eq!(r.done.contains(3), whole >= 4, "cut at {cut}");
            // A resume appends after the last whole record: what it writes
            // reads back, whatever was torn before it.
            let j = Journal::append(&path, r.whole_len, false, None).unwrap();
            j.intent(9, 12, Some("{}")).await.unwrap();
            j.outcome(&RowOutcome::new(9, CallRef::Id(3), Status::Ok)).unwrap();
            j.finish(true).unwrap();
            let after = replay(&path).unwrap();
            assert!(after.done.contains(9) && after.ended, "cut at {cut}: records appended after a torn one are lost");
            assert_eq!(after.done.contains(2), whole >= 2, "cut at {cut}");
        }
    }

    #[test]
    fn a_version_1_journal_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        let b = binding();
        std::fs::write(&path, format!("{MAGIC},1,{},{},.\nI,12,,.\n", b.input_sha256, b.options)).unwrap();
        assert!(matches!(replay(&path), Err(JournalError::OldFormat(_, v)) if v == "1"));
    }

    #[test]
    fn not_a_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        std::fs::write(&path, "line,id\n").unwrap();
        assert!(matches!(replay(&path), Err(JournalError::NotAJournal(_))));
    }

    #[tokio::test]
    async fn a_full_disk_fails_every_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let j = Journal::start(file, false, Some(30));
        j.intent(2, 0, None).await.unwrap();
        assert_eq!(j.intent(3, 0, None).await.unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert!(j.intent(4, 0, None).await.is_err(), "nothing is written after a failure");
        assert!(j.finish(true).is_err());
    }

    #[test]
    fn a_journal_never_goes_beside_a_device() {
        use std::path::{Path, PathBuf};
        let fallback = Path::new("night.results.csv");
        assert_eq!(beside(Path::new("/dev/null"), fallback), PathBuf::from("night.results.journal"));
        assert_eq!(beside(Path::new("out/r.csv"), fallback), PathBuf::from("out/r.journal"));
    }

    #[test]
    fn line_sets() {
        let mut s = LineSet::default();
        s.insert(1_000_000);
        s.insert(3);
        assert!(s.contains(3) && s.contains(1_000_000) && !s.contains(4));
        s.remove(3);
        assert_eq!(s.len(), 1);
    }
}
