//! Every output file is created here (`create`, `write_whole`,
//! `write_atomically`), so each I/O error names its path; `paths` refuses an
//! output that would overwrite the input or another output, and names where
//! a file is. A leaf: depends on nothing of ours but the exit codes.

pub mod paths;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;

use crate::exit::Fatal;

/// Creates (truncating) an output file behind a buffer.
pub fn create(path: &Path) -> Result<BufWriter<File>, Fatal> {
    File::create(path)
        .map(BufWriter::new)
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(Fatal::usage)
}

/// Writes `bytes` as the whole of an output file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Writes `bytes` to a temporary file beside `path` and renames it into
/// place: a script waiting for `path` to exist never reads half of it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
