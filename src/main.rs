//! The `rolly` binary: parse the command line and hand over to the library.

use clap::Parser;

// A roll-up is many small strings; mimalloc builds one about a fifth faster than the
// system allocator (BENCHMARKS.md). The benchmarks use it too. Its `no_thp` feature
// keeps it from asking for transparent huge pages (madvise), which it would otherwise
// do from its first allocation, before `main`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before the runtime and its threads allocate: a huge page faulted in before this
    // stays one.
    no_transparent_huge_pages();
    let cli = rolly::cli::Cli::parse();
    if cli.calls_apis_at_once() {
        rolly::tls::read_ahead();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // On a runtime worker, the thread that reads an answer goes on with the task that
    // waits for it; on the main thread, every answer would be handed across threads,
    // and a long roll-up posts one message after another (BENCHMARKS.md).
    let cli = runtime.spawn(rolly::cli::main(cli));
    match runtime.block_on(cli) {
        Ok(code) => code,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Keeps the kernel from backing the allocator's 2 MiB-aligned regions with huge pages
/// where it does so unasked (THP `always`): each would count whole against the
/// process's memory as soon as one byte of it is used (BENCHMARKS.md).
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process; no pointers involved.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
