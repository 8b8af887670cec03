//! The `fugong` binary: parse arguments, set up logging, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

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
