//! Each command's help offers what the command does, and no more: `plan`
//! lists no flag that only writing uses, `sim` a few flags (its faults come
//! from a file).

use crate::util::{Workdir, stdout};

/// The long flags a command's help lists.
fn flags(wd: &Workdir, command: &str) -> Vec<String> {
    let out = wd.run(&mut wd.command(&[command, "--help"]), 0);
    let text = stdout(&out);
    text.lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")).map(|w| w.trim_end_matches(',').to_string()))
        .collect()
}

#[test]
fn plan_offers_no_flag_that_only_writing_uses() {
    let wd = Workdir::new();
    let plan = flags(&wd, "plan");
    for write_only in [
        "--method",
        "--serializer",
        "--dry-run",
        "--resume",
        "--restart",
        "--reconcile",
        "--rollback",
        "--max-failures",
        "--no-reference",
        "--audit-lag",
        "--allow-repeat",
    ] {
        assert!(!plan.iter().any(|f| f == write_only), "plan --help lists {write_only}: {plan:?}");
    }
    for planning in ["--subdomain", "--rate", "--since", "--buyer", "--report", "--discrepancies-only"] {
        assert!(plan.iter().any(|f| f == planning), "plan --help lacks {planning}: {plan:?}");
    }
    let run = flags(&wd, "run");
    assert!(run.iter().any(|f| f == "--allow-repeat") && !run.iter().any(|f| f == "--discrepancies-only"));
}

#[test]
fn sim_offers_a_few_flags_and_takes_its_faults_from_a_file() {
    let wd = Workdir::new();
    let sim = flags(&wd, "sim");
    assert!(sim.len() <= 15, "{} flags: {sim:?}", sim.len());
    assert!(sim.iter().any(|f| f == "--faults"), "{sim:?}");
}
