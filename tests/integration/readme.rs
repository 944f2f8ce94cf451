//! README.md's and GUIDE.md's shell blocks marked `<!-- runnable -->` run as written, with
//! `tdrecon` on the PATH, in a fresh folder holding a copy of `samples/`.
//! A block passes when its last command succeeds, every line that states
//! its exit code (`# exit N` at its end) gives that code, and nothing it
//! ran was missing: no unknown command, no missing file, no usage error.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::Workdir;

fn runnable_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- runnable -->" {
            continue;
        }
        assert_eq!(lines.next().map(str::trim), Some("```sh"), "a runnable marker stands right above a ```sh block");
        let body: Vec<String> = lines.by_ref().take_while(|l| l.trim() != "```").map(checked).collect();
        blocks.push(body.join("\n"));
    }
    blocks
}

/// A line that states its exit code (`cmd   # exit 1`), as a line that
/// checks it.
fn checked(line: &str) -> String {
    let Some((command, code)) = line.rsplit_once("# exit ") else { return line.to_string() };
    let Ok(code) = code.trim().parse::<i32>() else { return line.to_string() };
    let command = command.trim_end();
    format!(
        "{command}; rc=$?; if [ $rc -ne {code} ]; then echo \"README says exit {code}, got $rc: {}\" >&2; exit 1; fi",
        command.replace('"', "'")
    )
}

/// Copies a folder and the folders in it.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn a_stated_exit_code_is_checked() {
    assert_eq!(checked("tdrecon validate x.csv"), "tdrecon validate x.csv");
    let line = checked("tdrecon run x.csv --rate 50   # exit 1");
    assert!(line.starts_with("tdrecon run x.csv --rate 50; rc=$?; if [ $rc -ne 1 ]"), "{line}");
    // Run as bash runs it: a wrong code fails the block.
    let run = |script: &str| Command::new("bash").arg("-c").arg(script).output().unwrap().status.code();
    assert_eq!(run(&format!("{}\ntrue", checked("false   # exit 1"))), Some(0));
    assert_eq!(run(&format!("{}\ntrue", checked("true   # exit 1"))), Some(1));
}

#[test]
fn readme_blocks_marked_runnable_run_as_written() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let guide = std::fs::read_to_string(format!("{root}/GUIDE.md")).unwrap();
    // The README's first night, followed word for word, is one of them.
    assert!(!runnable_blocks(&readme).is_empty(), "README's first night is runnable");
    let blocks = [runnable_blocks(&readme), runnable_blocks(&guide)].concat();
    assert!(blocks.len() >= 4, "found {} runnable blocks", blocks.len());
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_tdrecon")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    for block in blocks {
        let wd = Workdir::new();
        copy_tree(std::path::Path::new(&format!("{root}/samples")), &wd.path("samples"));
        let out = std::fs::File::create(wd.path("block.out")).unwrap();
        let err = std::fs::File::create(wd.path("block.err")).unwrap();
        // Whatever the block leaves running in the background (a simulator,
        // if it fails before its own `kill %1`) goes when bash exits.
        let script = format!("trap 'kill $(jobs -p) 2>/dev/null' EXIT\n{block}");
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(wd.path("."))
            .env("PATH", &path)
            .env("TDRECON_LOCK_DIR", wd.path("locks"))
            .env("TDRECON_STATE_DIR", wd.path("state"))
            .env_remove("TRACKDRIVE_PUBLIC_KEY")
            .env_remove("TRACKDRIVE_PRIVATE_KEY")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start bash");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if start.elapsed() > Duration::from_secs(120) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let (stdout, stderr) = (wd.read("block.out"), wd.read("block.err"));
        let context = format!("block:\n{block}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(status.is_some_and(|s| s.success()), "did not finish with success ({status:?})\n{context}");
        for bad in ["command not found", "No such file or directory", "error:", "Usage:"] {
            assert!(!stderr.contains(bad), "{bad:?}\n{context}");
        }
    }
}
