//! Command line (contract §6): one file per command.

pub mod audit;
pub mod backfill;
pub mod check;
pub mod compare;
pub mod feedback;
pub mod history;
pub mod out;
pub mod report;
pub mod rollback;
pub mod run;
pub mod serve;
pub mod tabular;
pub mod template;
pub mod token;
pub mod validate;
pub mod versions;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "fugong",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("FUGONG_GIT_COMMIT"),
        ", built ",
        env!("FUGONG_BUILD_DATE"),
        ")"
    ),
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
    #[arg(long, global = true, default_value = DEFAULT_LOG)]
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
    /// Load job files fully, as `serve` would, and report every problem (exit 0 or 2).
    Check(check::CheckArgs),
    /// List the published versions of a date.
    Versions(versions::VersionsArgs),
    /// Restore an earlier version of a date (recorded as a new version).
    Rollback(rollback::RollbackArgs),
    /// The portal's tokens: issue (printed once), list, revoke.
    Token(token::TokenArgs),
    /// The portal's audit log: sign-ins, uploads, token changes, notices.
    Audit(audit::AuditArgs),
    /// The day's template of a district (or of every district), pre-filled from its last published
    /// enterprises.
    Template(template::TemplateArgs),
    /// Print a shell completion script: `fugong completions bash > /etc/bash_completion.d/fugong`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Internal: a reader worker process (see `fugong::worker`).
    #[command(name = "__reader-worker", hide = true)]
    ReaderWorker {
        #[arg(long, default_value_t = 0)]
        memory_bytes: u64,
    },
}

pub fn init_tracing(args: &GlobalArgs) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(log_filter(
        std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .as_deref(),
        &args.log,
    ))
    .unwrap_or_else(|_| EnvFilter::new(log_filter(None, DEFAULT_LOG)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The default of `--log`.
pub const DEFAULT_LOG: &str = "warn";

/// The tracing filter for `RUST_LOG` (when set) or `--log`. A bare level (`info`, `debug`) applies to
/// fugong only: other crates (delta-rs, hyper, the scheduler) stay at `warn`, so `--log info` shows
/// fugong's own lines, not theirs. The service's start and stop lines (`fugong::service`) are shown at
/// every level down to `warn`. A filter with directives (`fugong=debug,deltalake=info`) is taken as it
/// is written. The Delta kernel's log of a missing table (every first publish looks for one) is off.
pub fn log_filter(rust_log: Option<&str>, log: &str) -> String {
    let given = rust_log.unwrap_or(log).trim();
    let levels = ["off", "error", "warn", "info", "debug", "trace"];
    let lower = given.to_ascii_lowercase();
    if levels.contains(&lower.as_str()) {
        let quiet = if lower == "off" || lower == "error" {
            lower.clone()
        } else {
            "warn".to_string()
        };
        let service = if lower == "off" || lower == "error" {
            String::new()
        } else {
            format!(",{}=info", crate::schedule::SERVICE_LOG)
        };
        // delta-rs's kernel logs an ERROR each time it looks for a table that does not exist yet, which
        // every first publish does (the error is returned to fugong, which creates the table).
        format!("{quiet},fugong={lower}{service},buoyant_kernel::snapshot::builder=off")
    } else {
        given.to_string()
    }
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
        Command::Check(args) => check::run(args),
        Command::Versions(args) => versions::run(args),
        Command::Rollback(args) => rollback::run(args),
        Command::Token(args) => token::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Template(args) => template::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "fugong", &mut script);
            out::line(String::from_utf8_lossy(&script).trim_end())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ReaderWorker { memory_bytes } => {
            fugong_worker(memory_bytes)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn fugong_worker(memory_bytes: u64) -> std::io::Result<()> {
    crate::intake::boundary::worker_main(memory_bytes)
}

/// The isolation the binary uses: reader worker processes started from this executable.
pub fn subprocess_isolation(memory_bytes: u64) -> crate::intake::Isolation {
    match std::env::current_exe() {
        Ok(exe) => crate::intake::Isolation::Subprocess { exe, memory_bytes },
        Err(_) => crate::intake::Isolation::InProcess,
    }
}

/// Exit codes of every command (contract §9).
pub mod exit {
    /// Done.
    pub const DONE: u8 = 0;
    /// Failed at run time, nothing published; `validate`: errors found; `backfill`: a date failed.
    pub const FAILED: u8 = 1;
    /// Usage or configuration error; nothing touched.
    pub const USAGE: u8 = 2;
    /// Refused: another writer holds the warehouse.
    pub const BUSY: u8 = 3;
    /// Refused: the publish would be a regression.
    pub const REFUSED: u8 = 4;
    /// Interrupted (SIGINT or SIGTERM).
    pub const INTERRUPTED: u8 = 130;
}

/// A usage error found after the arguments were parsed (`--from` after `--to`, a district not in the
/// job): exit 2, nothing touched.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A report date typed by a person: a date in the future (in the job's time zone) or before 2000 is
/// almost always a typo (2062 for 2026), so it needs `--force-date`.
pub fn check_report_date(
    job: &crate::config::Job,
    date: chrono::NaiveDate,
    force: bool,
) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    let today = job.today(chrono::Utc::now())?;
    let earliest = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    if date > today {
        return Err(UsageError(format!(
            "{date} is in the future (today is {today} in the job's time zone): check the date, or give --force-date if you mean it"
        ))
        .into());
    }
    if date < earliest {
        return Err(UsageError(format!(
            "{date} is before 2000: check the date, or give --force-date if you mean it"
        ))
        .into());
    }
    Ok(())
}

/// The exit code an error ends a command with: the first cause in its chain that says.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    use crate::pipeline::RunError;
    use crate::publish::lock::LockError;
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<RunError>() {
            return match e {
                RunError::Lock(LockError::Busy { .. })
                | RunError::Publish(crate::publish::PublishError::Superseded { .. }) => exit::BUSY,
                RunError::Regression { .. } => exit::REFUSED,
                RunError::Abandoned { .. } => exit::INTERRUPTED,
                RunError::SchemaChange(_) => exit::USAGE,
                _ => exit::FAILED,
            };
        }
        if let Some(LockError::Busy { .. }) = cause.downcast_ref::<LockError>() {
            return exit::BUSY;
        }
        if cause.is::<crate::config::ConfigError>() || cause.is::<UsageError>() {
            return exit::USAGE;
        }
        if let Some(e) = cause.downcast_ref::<crate::schedule::ServeError>() {
            return match e {
                crate::schedule::ServeError::Scheduler(_) => exit::FAILED,
                _ => exit::USAGE,
            };
        }
    }
    exit::FAILED
}

/// Whether an error is a closed stdout (`fugong history | head`): the command ends quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A flag that SIGINT or SIGTERM sets, for `run` and `backfill`: runs stop at their next checkpoint
/// before publishing. A second signal ends the process at once (exit 130).
pub fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Order matters: the conditional shutdown sees the flag as it was before this signal.
        let _ = signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(exit::INTERRUPTED),
            std::sync::Arc::clone(&flag),
        );
        let _ = signal_hook::flag::register(signal, std::sync::Arc::clone(&flag));
    }
    flag
}

/// Parse `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date YYYY-MM-DD: {e}"))
}

/// A path argument.
pub type PathArg = PathBuf;

/// `--output DIR|URL` or `--job FILE`: the warehouse a reading command works on (a job also gives its
/// storage settings and ledger).
#[derive(Debug, Clone, Args)]
pub struct WarehouseArgs {
    /// The warehouse: a folder, or the URL of Delta Lake tables (s3://bucket/prefix, file:///path).
    #[arg(long, required_unless_present = "job")]
    pub output: Option<String>,
    /// The job file: its warehouse, storage settings and ledger.
    #[arg(long)]
    pub job: Option<PathArg>,
}

impl WarehouseArgs {
    /// The output and the job, if one was given.
    pub fn resolve(
        &self,
    ) -> anyhow::Result<(crate::config::job::Output, Option<crate::config::Job>)> {
        let job = self
            .job
            .as_deref()
            .map(crate::config::Job::load)
            .transpose()?;
        let output = match (&self.output, &job) {
            (Some(text), Some(job)) => job.output_or(Some(text))?,
            (Some(text), None) => crate::config::job::Output::parse(text).map_err(UsageError)?,
            (None, Some(job)) => job.output.clone(),
            (None, None) => {
                return Err(UsageError("give --output DIR|URL or --job FILE".into()).into());
            }
        };
        Ok((output, job))
    }

    /// The open warehouse, the output it is, and the job.
    pub fn open(
        &self,
    ) -> anyhow::Result<(
        std::sync::Arc<dyn crate::publish::Warehouse>,
        crate::config::job::Output,
        Option<crate::config::Job>,
    )> {
        let (output, job) = self.resolve()?;
        Ok((crate::publish::open(&output)?, output, job))
    }
}

/// `--parallel N`: at least 1.
pub fn parse_parallel(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
