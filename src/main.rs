//! The `rolly` binary: parse the command line and hand over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rolly::run(rolly::Cli::parse()).await
}
