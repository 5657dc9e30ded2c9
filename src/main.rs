//! The `rolly` binary: parse the command line and hand over to the library.

use clap::Parser;

// A roll-up is many small strings; mimalloc builds one about a fifth faster than the
// system allocator (BENCHMARKS.md). The benchmarks use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rolly::cli::main(rolly::cli::Cli::parse()).await
}
