//! The `fugong` binary: parse arguments, set up logging, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the pipeline allocates many small strings per row; glibc malloc spent ~13% of a large run
/// in its own bookkeeping. Version 2 (the crate's `v2` feature): version 3 keeps freed pages resident
/// for a second (its purge delay), ~60 MiB above a 570-district day's live heap at its peak; version 2
/// gives them back after 10 ms (its arenas' after 100 ms).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Test builds only: the publish protocol's failpoints, configured by the FAILPOINTS variable.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = fugong::cli::Cli::parse();
    fugong::cli::init_tracing(&cli.global);
    let json = cli.global.log_format == fugong::cli::LogFormat::Json;
    match fugong::cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) if fugong::cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let code = fugong::cli::exit_code(&e);
            if json {
                tracing::error!(error = %format!("{e:#}"), exit_code = code, "fatal");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(code)
        }
    }
}
