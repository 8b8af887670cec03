//! `fugong run --job FILE [--date YYYY-MM-DD] [--force-date] [--output DIR] [--allow-regression]`

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::{PathArg, interrupt_flag, out, parse_date, subprocess_isolation};
use crate::config::Job;
use crate::intake::Isolation;
use crate::pipeline::{RunOptions, RunReport, run_job};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file (jobs/*.toml).
    #[arg(long)]
    pub job: PathArg,
    /// The report date, YYYY-MM-DD; without it, the job's `target` date (default yesterday) in its
    /// time zone, as `serve` would process.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<chrono::NaiveDate>,
    /// Accept a date in the future or before 2000 (otherwise refused as a likely typo).
    #[arg(long)]
    pub force_date: bool,
    /// Write the warehouse here instead of the job's `output`.
    #[arg(long)]
    pub output: Option<PathArg>,
    /// Publish even when a district would be worse than in the published version (fewer accepted
    /// rows, or a worse status); without it such a run is refused with exit code 4.
    #[arg(long)]
    pub allow_regression: bool,
    /// Publish a date on which no district submitted anything (every district `missing`); without it
    /// such a date fails (exit 1) and nothing is published.
    #[arg(long)]
    pub allow_empty: bool,
    /// Send no `published`/`failed` notice for this run.
    #[arg(long)]
    pub no_notify: bool,
    /// Read workbooks in this process instead of reader worker processes.
    #[arg(long)]
    pub in_process: bool,
    /// Read every workbook in a reader worker, even those proven safe to read here (to measure the
    /// cost of that design in the benchmark).
    #[arg(long, hide = true, conflicts_with = "in_process")]
    pub all_in_workers: bool,
    /// Seconds to wait for another fugong writing the same warehouse.
    #[arg(long, default_value_t = 0)]
    pub lock_wait_secs: u64,
    /// Do not print the ranking after the district summary.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let job = Job::load(&args.job)?;
    let date = match args.date {
        Some(date) => {
            super::check_report_date(&job, date, args.force_date)?;
            date
        }
        None => {
            let date = job.target_date(chrono::Utc::now())?;
            out::note(format!(
                "no --date: processing {date}, the job's target date in {}",
                job.timezone()?
            ));
            date
        }
    };
    let isolation = if args.in_process {
        Isolation::InProcess
    } else if args.all_in_workers {
        match subprocess_isolation(job.limits.max_reader_memory_bytes) {
            Isolation::Subprocess { exe, memory_bytes } => {
                Isolation::AllInWorkers { exe, memory_bytes }
            }
            other => other,
        }
    } else {
        subprocess_isolation(job.limits.max_reader_memory_bytes)
    };
    let options = RunOptions {
        isolation,
        output: args.output.clone(),
        lock_wait: Duration::from_secs(args.lock_wait_secs),
        allow_regression: args.allow_regression,
        allow_empty: args.allow_empty,
        notify: !args.no_notify,
        cancel: Some(interrupt_flag()),
        ..RunOptions::default()
    };
    let report =
        run_job(&job, date, &options).with_context(|| format!("{date} was not published"))?;
    print_summary(&report)?;
    if !args.quiet {
        out::line("")?;
        out::line(crate::compare::table::render_ranking(
            &report.comparison.cities,
            report.report_date,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(report: &RunReport) -> std::io::Result<()> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "区县代码",
        "城市",
        "区县",
        "状态",
        "接收行",
        "拒收行",
        "警告",
        "首个错误",
    ]);
    for d in &report.districts {
        let mut first = d.first_error.clone().unwrap_or_default();
        if first.chars().count() > 60 {
            first = first.chars().take(60).collect::<String>() + "…";
        }
        let status = if d.kept_previous {
            format!("{} (kept-previous)", d.status.as_str())
        } else {
            d.status.as_str().to_string()
        };
        table.add_row(vec![
            d.district.code.clone(),
            d.district.city_name.clone(),
            d.district.name.clone(),
            status,
            d.rows_accepted.to_string(),
            d.rows_rejected.to_string(),
            d.warnings.to_string(),
            first,
        ]);
    }
    if report.unchanged {
        out::line(format!(
            "unchanged: {} version {} stays live in {} — the submissions and every table are byte for byte the same, so nothing was published ({} enterprise rows, {:.2}s)",
            report.report_date,
            report.version,
            report.output,
            report.rows_published,
            report.elapsed.as_secs_f64()
        ))?;
    } else {
        out::line(format!(
            "published {} version {} to {} ({} enterprise rows, {:.2}s)",
            report.report_date,
            report.version,
            report.output,
            report.rows_published,
            report.elapsed.as_secs_f64()
        ))?;
    }
    out::line(table)?;
    for r in &report.regressions {
        out::line(format!("regression published: {r}"))?;
    }
    out::line(format!(
        "peak memory: {:.1} MiB (fugong), {:.1} MiB (largest reader worker)",
        report.peak_rss_bytes as f64 / 1048576.0,
        report.peak_rss_reader_bytes as f64 / 1048576.0
    ))
}
