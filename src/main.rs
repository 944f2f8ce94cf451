//! The `tdrecon` binary: everything lives in the library, so tests can call it.

fn main() -> std::process::ExitCode {
    tdrecon::cli::main()
}
