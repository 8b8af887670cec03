//! The `fugong` binary: parse arguments, set up logging, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the pipeline allocates many small strings per row; glibc malloc spent ~13% of a large run
/// in its own bookkeeping.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: the option just before `use_numa_nodes` in its `mi_option_e`
/// (libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// How long freed memory stays resident before mimalloc gives it back to the OS. Its default, 1 s,
/// kept up to ~60 MiB of pages already freed (a part encoded, a workbook read) resident beside the
/// day's live data: 193–222 MiB at the peak of a 570-district day whose live heap is ~125 MiB. At
/// 100 ms the peak is ~170–176 MiB for ~0.2 s more system time (the pages given back are faulted in
/// again); 0 gave ~146 MiB but 1.5 s more.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

fn main() -> ExitCode {
    // SAFETY: sets one of mimalloc's option values (an atomic); callable at any time.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS)
    };
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
