//! Outputs that cannot hurt the input: before anything is read or sent,
//! every path a command will write (results, errors, journal, rollback,
//! plan, summary JSON) is checked against the input and against the others.
//! One that is the input (under any name, a hard link included), another
//! output, a directory, or a symbolic link to a file is refused; a device, a
//! pipe or a socket (`/dev/null`, `/dev/stdout`) takes its output as a
//! stream, and nothing is ever created beside it (see `records::journal::beside`).

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What a path names, to tell whether two paths are one file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    /// An existing file: its device and inode (a hard link or a symlink
    /// to it is the same file).
    Inode(u64, u64),
    /// A file not created yet: where it would be.
    Path(PathBuf),
}

/// Whether an output at `path` is a stream: a character device, a pipe or
/// a socket, or a name under `/dev` or `/proc` for one of this process's
/// descriptors (`/dev/stdout` is a link to wherever stdout goes).
pub fn is_stream(path: &Path) -> bool {
    let special = |m: &Metadata| {
        let t = m.file_type();
        t.is_char_device() || t.is_fifo() || t.is_socket() || t.is_block_device()
    };
    match std::fs::metadata(path) {
        Ok(m) if special(&m) => true,
        _ => {
            let text = path.to_string_lossy();
            text.starts_with("/dev/") || text.starts_with("/proc/")
        }
    }
}

/// Where `path` is, however it was written (relative, through `..` or a
/// linked folder), for a file that may not exist yet: its folder resolved,
/// its name kept.
pub fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent().and_then(|p| std::fs::canonicalize(p).ok()), absolute.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => absolute,
    }
}

fn identity(path: &Path) -> Identity {
    if let Ok(m) = std::fs::metadata(path) {
        return Identity::Inode(m.dev(), m.ino());
    }
    Identity::Path(resolved(path))
}

/// Checks `outputs` (`(what, path)`: "--results", …) against `inputs`
/// (every file the command reads, as the user named it: the report, its
/// profile, the simulator's calls; `-` for standard input) and each other.
/// `Err` says which, and why, in words for the user.
pub fn check(inputs: &[&Path], outputs: &[(&str, &Path)]) -> Result<(), String> {
    let input_ids: Vec<(&Path, Identity)> =
        inputs.iter().filter(|p| p.as_os_str() != "-").map(|&p| (p, identity(p))).collect();
    let mut seen: Vec<(&str, Identity)> = Vec::new();
    for &(what, path) in outputs {
        let shown = path.display();
        if let Ok(link) = std::fs::symlink_metadata(path)
            && link.file_type().is_symlink()
            && !is_stream(path)
        {
            let target = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_default();
            return Err(format!(
                "{what} {shown} is a symbolic link (to {target}): tdrecon does not write through links; \
                 name the file itself"
            ));
        }
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            return Err(format!("{what} {shown} is a directory: name a file in it"));
        }
        if is_stream(path) {
            continue;
        }
        let id = identity(path);
        if let Some((input, _)) = input_ids.iter().find(|(_, i)| *i == id) {
            return Err(format!(
                "{what} {shown} is the input file {}: writing it would destroy it; name another file",
                input.display()
            ));
        }
        if let Some((other, _)) = seen.iter().find(|(_, o)| *o == id) {
            return Err(format!("{what} {shown} is also {other}: each output needs a file of its own"));
        }
        seen.push((what, id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_would_hurt_the_input_or_each_other_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("in.csv"), "id,revenue\n").unwrap();
        std::fs::create_dir(p("folder")).unwrap();
        std::os::unix::fs::symlink(p("in.csv"), p("link.csv")).unwrap();
        std::os::unix::fs::symlink(p("elsewhere.csv"), p("dangling.csv")).unwrap();
        std::fs::hard_link(p("in.csv"), p("hard.csv")).unwrap();
        std::fs::write(p("calls.csv"), "id\n").unwrap();
        let (input, calls) = (p("in.csv"), p("calls.csv"));
        let inputs = [input.as_path(), calls.as_path()];
        let ok = |outputs: &[(&str, &Path)]| check(&inputs, outputs);
        assert_eq!(ok(&[("--results", &p("in.results.csv")), ("--errors", &p("in.errors.csv"))]), Ok(()));
        let cases: Vec<(Vec<(&str, PathBuf)>, &str)> = vec![
            (vec![("--results", p("in.csv"))], "is the input file"),
            (vec![("--discrepancies", p("calls.csv"))], "is the input file"),
            (vec![("--errors", dir.path().join("folder/../in.csv"))], "is the input file"),
            (vec![("--rollback", p("hard.csv"))], "is the input file"),
            (vec![("--results", p("link.csv"))], "is a symbolic link"),
            (vec![("--results", p("dangling.csv"))], "is a symbolic link"),
            (vec![("--summary-json", p("folder"))], "is a directory"),
            (vec![("--results", p("r.csv")), ("--errors", p("r.csv"))], "--errors"),
            (vec![("--results", p("r.csv")), ("--errors", dir.path().join("folder/../r.csv"))], "is also --results"),
        ];
        for (outputs, want) in cases {
            let refs: Vec<(&str, &Path)> = outputs.iter().map(|(w, p)| (*w, p.as_path())).collect();
            let got = check(&inputs, &refs);
            assert!(got.as_ref().is_err_and(|e| e.contains(want)), "{outputs:?}: {got:?}");
        }
        // Devices are streams, never compared, never refused.
        let streams = [("--results", Path::new("/dev/null")), ("--errors", Path::new("/dev/null"))];
        assert_eq!(ok(&streams), Ok(()));
        assert_eq!(ok(&[("--summary-json", Path::new("/dev/stdout"))]), Ok(()));
        // Standard input has no file to hurt.
        assert_eq!(check(&[Path::new("-")], &[("--results", &p("in.csv"))]), Ok(()));
    }
}
