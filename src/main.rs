//! The `rolly` binary: parse the command line and hand over to the library.

use clap::Parser;

// A roll-up is many small strings; mimalloc builds one about a fifth faster than the
// system allocator (BENCHMARKS.md). The benchmarks use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    no_transparent_huge_pages();
    let cli = rolly::cli::Cli::parse();
    // On a runtime worker, the thread that reads an answer goes on with the task that
    // waits for it; on the main thread, every answer would be handed across threads,
    // and a long roll-up posts one message after another (BENCHMARKS.md).
    match tokio::spawn(rolly::cli::main(cli)).await {
        Ok(code) => code,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Keeps the kernel from backing the allocator's 2 MiB-aligned regions with huge pages,
/// each of which would count whole against the process's memory as soon as one byte of
/// it is used: an idle daemon stays near 15 MiB instead of 25 (BENCHMARKS.md).
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process; no pointers involved.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
