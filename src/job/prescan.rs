//! The one pass over the rows a run may need before it sends anything: the
//! file's call-time range (the window `--reconcile` reads in pages), the
//! UUIDs that rows which act (add, fire, transcribe) name their calls by
//! (each call's id is read before anything is sent: a call is its id) and,
//! for `--sandbox`, the calls to seed the simulator with. Made only when one
//! of them is needed, and once for all.

use super::{Mode, Settings, Target};
use crate::exit::Fatal;
use crate::input::columns::Field;
use crate::input::reader::read_error;
use crate::input::validate::validate_record;
use crate::job::sandbox::Seeder;
use crate::sim::Store;

/// What the pass found.
#[derive(Default)]
pub(super) struct Prescan {
    /// The earliest and latest call time of the file's valid rows.
    pub times: Option<(i64, i64)>,
    /// `--sandbox`: the calls the simulator starts with.
    pub seeds: Option<Store>,
    /// The UUIDs rows that act name their calls by, each once.
    pub acting_uuids: Vec<u128>,
}

/// Reads the rows once if the run needs their times or its sandbox's calls.
pub(super) fn prescan(opts: &Settings) -> Result<Prescan, Fatal> {
    let (mut reader, mut validator) = opts.input().open()?;
    let has_times = validator.schema().columns.iter().any(|(_, f)| *f == Field::CallTime);
    let wants_times = has_times
        && (opts.reading().reconcile || validator.schema().matches_callers())
        && !(opts.reading().since.is_some() && opts.reading().until.is_some());
    // A calls file seeds the sandbox as it is: the night it describes.
    let seeded = match &opts.destination().sandbox_calls {
        Some(path) => Some(crate::sim::calls_file::load_calls(path).map_err(Fatal::usage)?),
        None => None,
    };
    let mut seeder = (matches!(opts.destination().target, Target::Sandbox) && seeded.is_none()).then(Seeder::default);
    let schema = validator.schema();
    let wants_uuids =
        opts.mode() != Mode::DryRun && schema.acts() && schema.columns.iter().any(|(_, f)| *f == Field::Id);
    if !wants_times && seeder.is_none() && !wants_uuids {
        return Ok(Prescan { times: None, seeds: seeded, acting_uuids: Vec::new() });
    }
    let mut times: Option<(i64, i64)> = None;
    let mut uuids = std::collections::HashSet::new();
    while let Some(record) = reader.next_record().map_err(|e| Fatal::usage(read_error(&opts.input().name, e)))? {
        if wants_uuids
            && let Ok(update) = validate_record(validator.schema(), record.raw)
            && let crate::input::values::CallRef::Uuid(uuid) = update.call
            && !update.is_idempotent()
        {
            uuids.insert(uuid);
        }
        // Names are not resolved yet: a row that fails only on them still
        // tells its time.
        if wants_times
            && let Ok((Some(t), later)) =
                validate_record(validator.schema(), record.raw).map(|u| (u.call_time, u.call_time_later))
        {
            // A time that happened twice spans both instants.
            let last = later.unwrap_or(t);
            times = Some(times.map_or((t, last), |(a, b)| (a.min(t), b.max(last))));
        }
        if let Some(seeder) = &mut seeder
            && let Ok(update) = validator.check(&record)
        {
            seeder.add(&update);
        }
    }
    let mut acting_uuids: Vec<u128> = uuids.into_iter().collect();
    acting_uuids.sort_unstable();
    Ok(Prescan { times, seeds: seeded.or_else(|| seeder.map(Seeder::into_store)), acting_uuids })
}
