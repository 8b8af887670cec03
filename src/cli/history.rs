//! `fugong history --job FILE [--from D --to D] [--output DIR] [--format table|csv|json]`: the run
//! ledger.

use std::process::ExitCode;

use clap::Args;

use super::tabular::{OutputFormat, Tabular};
use super::{PathArg, parse_date};
use crate::config::Job;
use crate::ledger::Ledger;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[arg(long)]
    pub job: PathArg,
    #[arg(long, value_parser = parse_date)]
    pub from: Option<chrono::NaiveDate>,
    #[arg(long, value_parser = parse_date)]
    pub to: Option<chrono::NaiveDate>,
    /// The warehouse, if not the job's `output`.
    #[arg(long)]
    pub output: Option<PathArg>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

pub fn run(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        return Err(super::UsageError(format!("--from {from} is after --to {to}")).into());
    }
    let job = Job::load(&args.job)?;
    let output = job.output_or(
        args.output
            .as_deref()
            .map(|p| p.to_string_lossy())
            .as_deref(),
    )?;
    let path = job.ledger_path(&output);
    anyhow::ensure!(
        path.exists(),
        "no run ledger at {} yet: nothing has run for this job",
        path.display()
    );
    let ledger = Ledger::open(&path)?;
    let runs = ledger.history(&job.name, args.from, args.to)?;
    let mut rows = Tabular::new(&[
        "run", "date", "trigger", "started", "finished", "status", "version", "accepted",
        "partial", "rejected", "missing", "rows", "error",
    ]);
    for r in &runs {
        rows.push(vec![
            r.id.into(),
            r.report_date.to_string().into(),
            r.trigger.clone().into(),
            r.started_at.clone().into(),
            r.finished_at.clone().into(),
            r.status.clone().into(),
            r.counts.version.into(),
            r.counts.accepted.into(),
            r.counts.partial.into(),
            r.counts.rejected.into(),
            r.counts.missing.into(),
            r.counts.rows_published.into(),
            r.error.clone().into(),
        ]);
    }
    rows.print(
        args.format,
        Some(format!(
            "{} run(s) of {} in {}",
            runs.len(),
            job.name,
            path.display()
        )),
    )?;
    Ok(ExitCode::SUCCESS)
}
