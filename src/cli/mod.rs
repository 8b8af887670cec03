//! Command line (contract §6): one file per command.

pub mod backfill;
pub mod compare;
pub mod feedback;
pub mod history;
pub mod report;
pub mod run;
pub mod serve;
pub mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "fugong",
    version,
    about = "复工: district work-resumption workbooks → daily Parquet snapshots and the provincial comparison"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG also works.
    #[arg(long, global = true, default_value = "warn")]
    pub log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process one date of a job, publish its snapshot, print a per-district summary and the ranking.
    Run(run::RunArgs),
    /// Check one workbook the way a run would and print every problem (exit 1 when it has errors).
    Validate(validate::ValidateArgs),
    /// Process every date of a range, a few at a time; exit 1 if any date failed.
    Backfill(backfill::BackfillArgs),
    /// Print the provincial comparison of a published date.
    Compare(compare::CompareArgs),
    /// Write one feedback workbook per district with findings, for the clerks to fix and re-submit.
    Feedback(feedback::FeedbackArgs),
    /// Print the run ledger of a job.
    History(history::HistoryArgs),
    /// Write the provincial comparison of a published date as one self-contained HTML page.
    Report(report::ReportArgs),
    /// The nightly service: every job's schedule in its time zone, catch-up, lookback, /metrics.
    Serve(serve::ServeArgs),
    /// Internal: a reader worker process (see `fugong::worker`).
    #[command(name = "__reader-worker", hide = true)]
    ReaderWorker {
        #[arg(long, default_value_t = 0)]
        memory_bytes: u64,
    },
}

pub fn init_tracing(args: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .unwrap_or_else(|| args.log.clone());
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Backfill(args) => backfill::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Feedback(args) => feedback::run(args),
        Command::History(args) => history::run(args),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::ReaderWorker { memory_bytes } => {
            fugong_worker(memory_bytes)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn fugong_worker(memory_bytes: u64) -> std::io::Result<()> {
    crate::worker::worker_main(memory_bytes)
}

/// The isolation the binary uses: reader worker processes started from this executable.
pub fn subprocess_isolation(memory_bytes: u64) -> crate::worker::Isolation {
    match std::env::current_exe() {
        Ok(exe) => crate::worker::Isolation::Subprocess { exe, memory_bytes },
        Err(_) => crate::worker::Isolation::InProcess,
    }
}

/// Parse `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date YYYY-MM-DD: {e}"))
}

/// A path argument.
pub type PathArg = PathBuf;
