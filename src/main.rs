//! The `tdrecon` binary: everything lives in the library, so tests can call it.

/// mimalloc rather than the system allocator: a row sent costs ~66
/// allocations (most inside reqwest and hyper), and with it the job uses
/// 7-10% less CPU a row (BENCHMARKS.md). `no_thp` keeps it from backing its
/// arenas with 2 MiB pages, which cost validation 14 MiB of resident memory.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tdrecon::cli::main()
}
