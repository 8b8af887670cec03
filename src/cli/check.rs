//! `fugong check --job FILE | --jobs DIR`: load every job fully, as `serve` would, and report every
//! problem with its file and key. Exit 0 when all are usable, 2 when not.

use std::process::ExitCode;

use clap::Args;

use super::{PathArg, exit, out};
use crate::schedule::check::{check_files, job_files};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["job", "jobs"])))]
pub struct CheckArgs {
    /// One job file.
    #[arg(long)]
    pub job: Option<PathArg>,
    /// A folder of job files (*.toml), as `serve --jobs` takes.
    #[arg(long)]
    pub jobs: Option<PathArg>,
    /// The address `serve` would give /metrics, to check it too.
    #[arg(long)]
    pub metrics_addr: Option<String>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let paths = match (&args.job, &args.jobs) {
        (Some(job), _) => vec![job.clone()],
        (None, Some(dir)) => job_files(dir)?,
        (None, None) => Vec::new(),
    };
    let (jobs, mut problems) = check_files(&paths);
    if let Some(addr) = &args.metrics_addr
        && addr != "off"
    {
        let message = match addr.parse::<std::net::SocketAddr>() {
            Err(e) => Some(format!(
                "`{addr}` is not an address such as 127.0.0.1:9187: {e}"
            )),
            Ok(a) if !a.ip().is_loopback() => Some(format!(
                "`{addr}` is not a loopback address; /metrics is served on 127.0.0.1 or ::1 only"
            )),
            Ok(_) => None,
        };
        if let Some(message) = message {
            problems.push(crate::schedule::check::Problem {
                file: "--metrics-addr".into(),
                message,
            });
        }
    }
    for p in &problems {
        out::line(p)?;
    }
    for sj in &jobs {
        if let Some(warning) = crate::schedule::check::deadline_warning(sj, chrono::Utc::now()) {
            out::line(format!("warning: {}: {warning}", sj.job.path.display()))?;
        }
        out::line(format!(
            "ok: {} ({}: {} districts, schedule `{}` in {}, output {})",
            sj.job.path.display(),
            sj.job.name,
            sj.job.districts.len(),
            sj.schedule,
            sj.timezone,
            sj.job.output.describe()
        ))?;
    }
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        out::line(format!("{} problem(s)", problems.len()))?;
        Ok(ExitCode::from(exit::USAGE))
    }
}
