//! Which journal a run writes: a fresh one, the one it resumes, or none
//! (dry run, sandbox), and the refusals that keep a file from being sent
//! twice by accident.

use std::path::PathBuf;

use anyhow::{Context, anyhow};

use super::{Mode, Settings, Target};
use crate::exit::Fatal;
use crate::records::journal::{self, Binding, Journal, Replay};
use crate::records::run_lock::RunLocks;

/// The journal this run writes, and what an earlier run recorded in it.
pub(super) struct JournalPlan {
    pub journal: Option<Journal>,
    pub replay: Option<Replay>,
    pub path: PathBuf,
    /// Held until the run ends: no second run of this journal or input.
    pub locks: RunLocks,
    /// The input's SHA-256, when the journal was bound to it.
    pub input_sha256: Option<String>,
    /// The run's name (a resume keeps the one it resumes): its updates'
    /// references are `<run>-<line>`.
    pub run: String,
}

/// Decides between a fresh journal, a resumed one, or refusing to start.
pub(super) fn prepare_journal(opts: &Settings) -> Result<JournalPlan, Fatal> {
    let path = opts.outputs().journal.clone();
    // Before anything is read or written: a second run must not touch the
    // outputs of one that is live.
    let mut locks = RunLocks::default();
    locks.journal(&path).map_err(Fatal::usage)?;
    // Nothing is sent by a dry run, and a sandbox starts from nothing each
    // time: neither has anything to resume.
    if opts.mode() == Mode::DryRun || opts.mode().plans() || matches!(opts.destination().target, Target::Sandbox) {
        let run = journal::new_run_name("");
        return Ok(JournalPlan { journal: None, replay: None, path, locks, input_sha256: None, run });
    }
    let sha256 = match &opts.input().survey {
        Some(survey) => survey.sha256.clone(),
        None => crate::input::source::sha256_of(&opts.input().path)
            .ok_or_else(|| Fatal::usage(anyhow!("cannot read {}", opts.input().name.display())))?,
    };
    let binding = Binding::new(&sha256, &opts.fingerprint());
    if let Target::Url(url) = &opts.destination().target {
        locks.input(&binding.input_sha256, url, &opts.input().name).map_err(Fatal::usage)?;
    }
    let existing = match path.exists() {
        true => Some(journal::replay(&path).map_err(Fatal::usage)?),
        false => None,
    };
    let replay = continued(opts, existing, &binding, &path)?;
    let run = replay.as_ref().map_or_else(|| journal::new_run_name(&binding.input_sha256), |r| r.run.clone());
    let journal = match &replay {
        Some(replay) => {
            Journal::append(&path, replay.whole_len, opts.safety().journal_sync, opts.safety().journal_fail_after)
        }
        None => Journal::create(&path, &binding, &run, opts.safety().journal_sync, opts.safety().journal_fail_after),
    }
    .with_context(|| format!("cannot write the journal {}", path.display()))
    .map_err(Fatal::usage)?;
    let input_sha256 = Some(binding.input_sha256);
    Ok(JournalPlan { journal: Some(journal), replay, path, locks, input_sha256, run })
}

/// What an existing journal of this file (`existing`) is to this run: the
/// run it continues (`--resume`), nothing (a fresh start: `--restart`, a
/// journal of another file or options, or one that applied nothing), or a
/// refusal that says which flag to add.
fn continued(
    opts: &Settings,
    existing: Option<Replay>,
    binding: &Binding,
    path: &std::path::Path,
) -> Result<Option<Replay>, Fatal> {
    let shown = path.display();
    Ok(match existing {
        None if opts.mode() == Mode::Resume => {
            return Err(Fatal::usage(anyhow!("nothing to resume: there is no journal at {shown}")));
        }
        None => None,
        Some(replay) if replay.binding.as_ref() != Some(binding) => {
            if opts.mode() == Mode::Resume {
                return Err(Fatal::usage(anyhow!(
                    "cannot resume: the journal {shown} was written for a different input file or different \
                     sending options (--base-url/--subdomain, --method, --serializer, --map, --ignore-column, \
                     --value-map, --negative-as-add, --delimiter, --sheet); resume with the same file and options, or start again without --resume (the account's ledger \
                     refuses every add, webhook and transcription an earlier run applied or may have applied, \
                     so only what was never sent goes out)"
                )));
            }
            // Another version of the file (or other options) over a run that
            // stopped part-way: its unsent rows would be forgotten without a
            // word, and a corrected amount is a new change. Said, and left to
            // --restart.
            if opts.mode() != Mode::Restart && !replay.ended && !replay.nothing_applied() {
                return Err(Fatal::usage(anyhow!(
                    "an earlier run of another version of this file (or with other sending options) stopped                      part-way (journal {shown}): its rows not yet sent would be forgotten. Resume it with that                      version and its options, or add --restart to send this one instead (the ledger refuses                      every add, webhook and transcription the earlier run applied or may have applied; a                      corrected amount is a new change and is sent)"
                )));
            }
            None
        }
        Some(_) if opts.mode() == Mode::Restart => None,
        // An earlier run that stopped before any row could have been applied
        // (its keys were refused, the name lists could not be read): nothing
        // to resume, so start again rather than ask for --resume.
        Some(replay) if opts.mode() != Mode::Resume && replay.nothing_applied() => None,
        Some(mut replay) if opts.mode() == Mode::Resume => {
            if opts.reading().reconcile && !opts.reading().failed_only {
                replay.reopen_unknown();
            }
            Some(replay)
        }
        Some(replay) if replay.ended => {
            return Err(Fatal::usage(anyhow!(
                "this file was already sent (journal {shown}). Use --resume to retry only the rows that failed \
                 or were not sent, or --restart to send every row again (the account's ledger still refuses \
                 every add, webhook and transcription the earlier run applied; --allow-repeat sends those too)"
            )));
        }
        Some(_) => {
            return Err(Fatal::usage(anyhow!(
                "an earlier run of this file stopped part-way (journal {shown}): add --resume to continue it \
                 (nothing is sent twice), or --restart to discard it and send every row again (the ledger \
                 refuses every add, webhook and transcription the earlier run applied or may have applied)"
            )));
        }
    })
}
