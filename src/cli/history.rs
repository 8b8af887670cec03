//! `fugong history --job FILE [--from D --to D] [--output DIR]`: the run ledger as a table.

use std::process::ExitCode;

use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

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
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "run", "date", "trigger", "started", "finished", "status", "accepted", "partial",
        "rejected", "missing", "rows", "error",
    ]);
    for r in &runs {
        table.add_row(vec![
            r.id.to_string(),
            r.report_date.to_string(),
            r.trigger.clone(),
            r.started_at.clone(),
            r.finished_at.clone().unwrap_or_default(),
            r.status.clone(),
            r.counts.accepted.to_string(),
            r.counts.partial.to_string(),
            r.counts.rejected.to_string(),
            r.counts.missing.to_string(),
            r.counts.rows_published.to_string(),
            r.error.clone().unwrap_or_default(),
        ]);
    }
    super::out::line(&table)?;
    super::out::line(format!(
        "{} run(s) of {} in {}",
        runs.len(),
        job.name,
        path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
