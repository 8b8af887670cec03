//! The `fugong` binary: parse arguments, set up logging, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the pipeline allocates many small strings per row; glibc malloc spent ~13% of a large run
/// in its own bookkeeping.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = fugong::cli::Cli::parse();
    fugong::cli::init_tracing(&cli.global);
    match fugong::cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
