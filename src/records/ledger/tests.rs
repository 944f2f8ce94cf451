use std::time::Duration;

use super::*;

fn file(path: &std::path::Path) -> LedgerAt {
    LedgerAt::File(path.to_path_buf())
}

fn info(run: &str) -> RunInfo {
    RunInfo {
        run: run.into(),
        account: "https://acme.trackdrive.com:443".into(),
        file: "/reports/night.csv".into(),
        input_sha256: "abc".into(),
        who: "ana@night".into(),
    }
}

fn update(line: u64, call: &str, changes: &str) -> Update {
    Update { line, call: call.into(), uuid: None, referenced: true, changes: changes.into(), at: now_ms() }
}

fn check(run: &str) -> Option<Check> {
    Some(Check { run: run.into(), window: Duration::from_secs(30 * 24 * 3600) })
}

/// An intent of `update`, judged as the uploader would (its actions from
/// its changes), unless `check` is `None`.
async fn intent(ledger: &Ledger, update: Update, check: Option<Check>) -> Result<(), Refused> {
    let body = serde_json::from_str(&update.changes).unwrap();
    let check = check.map(|c| (c, crate::input::update::actions_of(&body)));
    ledger.intent(update, check).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

const CHARGEBACK: &str = r#"{"add_revenue":"-25.00","buyer_converted":false}"#;

#[test]
fn an_earlier_runs_add_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let rt = runtime();
    let a = Ledger::open(&file(&path), info("a")).unwrap();
    rt.block_on(intent(&a, update(2, "7", CHARGEBACK), check("a"))).unwrap();
    a.outcome(2, Some(Recorded::Ok), None);
    a.finish().unwrap();
    // The same run (a resume) may record it again.
    let a = Ledger::open(&file(&path), info("a")).unwrap();
    rt.block_on(intent(&a, update(2, "7", CHARGEBACK), check("a"))).unwrap();
    a.outcome(2, Some(Recorded::Ok), None);
    a.finish().unwrap();
    let b = Ledger::open(&file(&path), RunInfo { file: "/reports/again.csv".into(), ..info("b") }).unwrap();
    let refused = rt.block_on(intent(&b, update(9, "7", r#"{"add_revenue":"-25.00"}"#), check("b")));
    let Err(Refused::Repeat(repeat)) = refused else { panic!("{refused:?}") };
    assert_eq!((repeat.earlier.run.as_str(), repeat.earlier.line), ("a", 2));
    assert_eq!(repeat.same, vec!["add_revenue -25.00"]);
    let why = repeat.reason(&jiff::tz::TimeZone::UTC);
    assert!(why.contains("/reports/night.csv line 2") && why.contains("applied") && why.contains("--allow-repeat"));
    // Another amount, another call, or no check: not a repeat.
    rt.block_on(intent(&b, update(10, "7", r#"{"add_revenue":"-20.00"}"#), check("b"))).unwrap();
    rt.block_on(intent(&b, update(11, "8", CHARGEBACK), check("b"))).unwrap();
    rt.block_on(intent(&b, update(12, "7", CHARGEBACK), None)).unwrap();
    // A set is not an action: the same revenue twice is no repeat, and a row
    // safe to resend is recorded by its outcome alone.
    b.outcome(13, Some(Recorded::Ok), Some(update(13, "7", r#"{"revenue":"5.00"}"#)));
    b.finish().unwrap();
    let c = Ledger::open(&file(&path), info("c")).unwrap();
    rt.block_on(intent(&c, update(13, "7", r#"{"revenue":"5.00"}"#), check("c"))).unwrap();
    c.finish().unwrap();
    let reader =
        Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com")).unwrap();
    let of_7: Vec<_> = reader.of_call("7").unwrap().into_iter().map(|e| (e.run, e.line, e.status)).collect();
    assert_eq!(of_7[0], ("a".into(), 2, Recorded::Ok));
    assert_eq!(of_7.len(), 5, "{of_7:?}");
    let all = reader.since(0).unwrap();
    assert_eq!(all.len(), 6);
    let b9 = all.iter().find(|e| e.run == "b" && e.line == 10).unwrap();
    assert_eq!((b9.file.as_str(), b9.reference.as_deref()), ("/reports/again.csv", Some("b-10")));
}

#[test]
fn an_update_not_applied_is_forgotten_and_one_in_doubt_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let rt = runtime();
    let ledger = Ledger::open(&file(&path), info("a")).unwrap();
    rt.block_on(intent(&ledger, update(2, "7", CHARGEBACK), check("a"))).unwrap();
    ledger.outcome(2, None, None);
    rt.block_on(intent(&ledger, update(3, "8", CHARGEBACK), check("a"))).unwrap();
    ledger.outcome(3, Some(Recorded::Unknown), None);
    // Intent only: the run died before its outcome.
    rt.block_on(intent(&ledger, update(4, "9", CHARGEBACK), check("a"))).unwrap();
    ledger.finish().unwrap();
    let reader =
        Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com")).unwrap();
    let actions = vec![("add_revenue".to_string(), "-25.00".to_string())];
    assert_eq!(reader.repeat("7", &actions, &check("b").unwrap()).unwrap(), None);
    for call in ["8", "9"] {
        let repeat = reader.repeat(call, &actions, &check("b").unwrap()).unwrap().expect("in doubt counts");
        assert!(
            repeat.reason(&jiff::tz::TimeZone::UTC).contains("may have applied"),
            "{}",
            repeat.reason(&jiff::tz::TimeZone::UTC)
        );
    }
    // Outside the window: no longer a repeat.
    let short = Check { run: "b".into(), window: Duration::ZERO };
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(reader.repeat("8", &actions, &short).unwrap(), None);
}

#[test]
fn a_ledger_not_yet_created_holds_nothing_and_is_not_created_by_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.sqlite");
    let reader =
        Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com")).unwrap();
    assert!(reader.since(0).unwrap().is_empty());
    assert!(!path.exists());
}

#[test]
fn two_writers_at_once_let_one_change_through() {
    // Two runs (two connections, as two processes have) record the same
    // chargebacks at the same time: each call takes exactly one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let calls: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let taken: Vec<usize> = std::thread::scope(|s| {
        let runs: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|run| {
                let (path, calls) = (&path, &calls);
                s.spawn(move || {
                    let rt = runtime();
                    let ledger = Ledger::open(&LedgerAt::File(path.clone()), info(run)).unwrap();
                    let mut taken = 0;
                    rt.block_on(async {
                        let intents = calls
                            .iter()
                            .enumerate()
                            .map(|(i, call)| intent(&ledger, update(i as u64 + 2, call, CHARGEBACK), check(run)));
                        for answer in futures::future::join_all(intents).await {
                            match answer {
                                Ok(()) => taken += 1,
                                Err(Refused::Repeat(_)) => {}
                                Err(Refused::Broken(e)) => panic!("{e}"),
                            }
                        }
                    });
                    ledger.finish().unwrap();
                    taken
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(taken.iter().sum::<usize>(), calls.len(), "{taken:?}");
}

#[test]
fn a_ledger_that_cannot_be_created_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let Err(e) = Ledger::open(&LedgerAt::File(file.join("ledger.sqlite")), info("a")) else {
        panic!("opened under a file")
    };
    assert!(e.contains("cannot open the ledger") && e.contains("a-file"), "{e}");
}

#[test]
fn many_runs_opening_a_new_ledger_at_once_all_open_it() {
    // CI met "database is locked" when two runs created one ledger together.
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        std::thread::scope(|s| {
            let opened: Vec<_> = (0..6)
                .map(|i| {
                    let path = &path;
                    s.spawn(move || {
                        Ledger::open(&LedgerAt::File(path.clone()), info(&format!("r{i}"))).map(Ledger::finish)
                    })
                })
                .collect();
            for handle in opened {
                let result = handle.join().unwrap();
                assert!(matches!(result, Ok(Ok(()))), "round {round}: {result:?}");
            }
        });
    }
}

#[test]
fn a_webhook_fired_again_in_another_list_is_a_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let rt = runtime();
    let a = Ledger::open(&file(&path), info("a")).unwrap();
    rt.block_on(intent(&a, update(2, "7", r#"{"fire_outgoing_webhook_ids":[3,4]}"#), check("a"))).unwrap();
    a.finish().unwrap();
    let b = Ledger::open(&file(&path), info("b")).unwrap();
    let refused = rt.block_on(intent(&b, update(2, "7", r#"{"fire_outgoing_webhook_ids":[4,5]}"#), check("b")));
    let Err(Refused::Repeat(repeat)) = refused else { panic!("{refused:?}") };
    assert_eq!(repeat.same, vec!["fire_outgoing_webhook_ids 4"]);
    rt.block_on(intent(&b, update(3, "7", r#"{"fire_outgoing_webhook_ids":"5, 6"}"#), check("b"))).unwrap();
    b.finish().unwrap();
}

#[test]
fn a_run_keeps_its_first_start_and_its_last_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let a = Ledger::open(&file(&path), info("a")).unwrap();
    a.finish().unwrap();
    let first = Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com"))
        .unwrap()
        .runs(None)
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].who.as_deref(), first[0].finished, &first[0].outcome), (Some("ana@night"), None, &None));
    let started = first[0].started.unwrap();
    std::thread::sleep(Duration::from_millis(5));
    // A resume, by someone else: the first start stays, the end is the last.
    let again = Ledger::open(&file(&path), RunInfo { who: "bo@laptop".into(), ..info("a") }).unwrap();
    again.finish().unwrap();
    let outcome = Outcome { exit: 1, invalid: 2, ..Outcome::default() };
    finish_run(&file(&path), "acme", "a", &outcome).unwrap();
    let b = Ledger::open(&file(&path), info("b")).unwrap();
    b.finish().unwrap();
    let runs = Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com"))
        .unwrap()
        .runs(None)
        .unwrap();
    assert_eq!(runs.iter().map(|r| r.run.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(runs[0].started, Some(started));
    assert_eq!(runs[0].who.as_deref(), Some("bo@laptop"));
    assert!(runs[0].finished.is_some_and(|f| f >= started));
    assert_eq!(runs[0].outcome, Some(outcome));
    let later = Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com"))
        .unwrap()
        .runs(Some(started + 1))
        .unwrap();
    assert_eq!(later.iter().map(|r| r.run.as_str()).collect::<Vec<_>>(), ["b"]);
}

#[test]
fn a_ledger_of_schema_two_lists_its_runs_by_their_first_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("{}; {}; PRAGMA user_version = 2;", schema::MIGRATIONS[0], schema::MIGRATIONS[1]))
        .unwrap();
    conn.execute_batch(
        "INSERT INTO runs VALUES ('old', '/r/old.csv', 'ab');
         INSERT INTO updates (run, line, call, referenced, changes, at, status) VALUES ('old', 2, '7', 1, '{}', 1000, 'ok');",
    )
    .unwrap();
    drop(conn);
    let runs = Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com"))
        .unwrap()
        .runs(None)
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].started, runs[0].finished, runs[0].who.as_deref()), (Some(1000), None, None));
    // Opened to write, it is upgraded and the old run keeps its history.
    Ledger::open(&file(&path), info("new")).unwrap().finish().unwrap();
    let runs = Reader::open(&file(&path), &crate::records::state::Account::of("https://acme.trackdrive.com"))
        .unwrap()
        .runs(None)
        .unwrap();
    assert_eq!(
        runs.iter().map(|r| (r.run.as_str(), r.started.is_some())).collect::<Vec<_>>(),
        [("old", true), ("new", true)]
    );
}
