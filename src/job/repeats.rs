//! Which ledger a run keeps (`records::ledger`): the account's, opened to
//! write for a run that sends, to read for `plan`; none for a dry run or the
//! sandbox (nothing real is sent). A run that carries adds, webhook fires or
//! transcriptions never goes without it: a ledger that cannot be opened
//! stops it before anything is sent.

use anyhow::anyhow;

use super::{Mode, Settings, Target};
use crate::exit::Fatal;
use crate::input::validate::Validator;
use crate::records::ledger::{self, Check, Ledger, Reader, RunInfo};
use crate::send::row::Ledgered;
use crate::trackdrive::credentials::Credentials;

/// What a run checks repeats against: the reader thread marks rows an
/// earlier run applied (`early`), which end `already_applied` in
/// results.csv without a request (`unknown` when that run's outcome is
/// unknown), never in errors.csv: nothing there to fix; the senders record
/// every update and refuse, atomically with recording it, what another run
/// recorded meanwhile (`ledgered`).
pub(super) struct Repeats {
    pub early: Option<(Reader, Check)>,
    pub ledgered: Option<Ledgered>,
    /// The ledger's file and whether it holds this machine's history of
    /// the account (a lost one is said in the summary).
    pub located: Option<ledger::Located>,
}

pub(super) fn open(
    opts: &Settings,
    validator: &Validator,
    credentials: &Credentials,
    run: &str,
    input_sha256: Option<&str>,
) -> Result<Repeats, Fatal> {
    let none = Repeats { early: None, ledgered: None, located: None };
    let Target::Url(url) = &opts.destination().target else { return Ok(none) };
    if opts.mode() == Mode::DryRun {
        return Ok(none);
    }
    let acts = validator.schema().acts();
    let check = Check { run: run.to_string(), window: opts.safety().repeat_window };
    let opened = ledger::locate(url, &credentials.public, opts.safety().ledger.as_ref()).and_then(|located| {
        let info = RunInfo {
            run: run.to_string(),
            account: located.account.to_string(),
            file: shown_name(&opts.input().name),
            input_sha256: input_sha256.or(opts.input().survey.as_ref().map(|s| s.sha256.as_str())).unwrap_or("").into(),
            who: ledger::who(),
        };
        // The writer first: it creates the ledger the reader then opens.
        let writer = if opts.mode().plans() { None } else { Some(Ledger::open(&located.at, info)?) };
        let early = Reader::open(&located.at, &located.account)?;
        Ok((early, writer, located))
    });
    let (early, writer, located) = match opened {
        Ok(opened) => opened,
        Err(e) if acts => {
            return Err(Fatal::usage(anyhow!(
                "cannot keep the ledger of what earlier runs applied: {e}. The file adds, fires webhooks or asks \
                 for transcriptions, which the ledger keeps from being applied twice across runs; nothing was sent"
            )));
        }
        Err(e) => {
            crate::console::warn(&format!("warning: no ledger for this run (it changes nothing that acts twice): {e}"));
            return Ok(none);
        }
    };
    let check = (!opts.safety().allow_repeat).then_some(check);
    let ledgered = writer.map(|ledger| Ledgered { ledger, check: check.clone() });
    Ok(Repeats { early: check.map(|c| (early, c)), ledgered, located: Some(located) })
}

impl Repeats {
    /// Where the run's end is recorded (`history --runs`): the ledger its
    /// rows went to, the account, and the run's name (a run that sends).
    pub fn run_record(&self, run: &str) -> Option<(ledger::LedgerAt, String, String)> {
        let (ledgered, located) = (self.ledgered.as_ref()?, self.located.as_ref()?);
        Some((ledgered.ledger.at().clone(), located.account.to_string(), run.to_string()))
    }
}

/// The input as the ledger names it: an absolute path, so the same file run
/// from another folder is recognisably the same.
fn shown_name(name: &std::path::Path) -> String {
    if name.as_os_str() == "-" || name.to_str().is_some_and(crate::trackdrive::fetch::is_url) {
        return name.display().to_string();
    }
    std::path::absolute(name).unwrap_or_else(|_| name.to_path_buf()).display().to_string()
}
