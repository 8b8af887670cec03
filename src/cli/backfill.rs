//! `fugong backfill --job FILE --from D1 --to D2 [--parallel N] [--only-missing|--only-failed] [--dry-run]
//! [--allow-regression]`
//!
//! A failed date does not stop the others. SIGINT or SIGTERM stops launching dates; dates in flight
//! stop at their next checkpoint before publishing (the ledger records them `abandoned`) or finish
//! publishing if they had begun; the summary is printed and the exit code is 130.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::{PathArg, UsageError, exit, interrupt_flag, out, parse_date, subprocess_isolation};
use crate::config::Job;
use crate::intake::Isolation;
use crate::ledger::{Ledger, Trigger};
use crate::pipeline::{RunError, RunOptions, Session};

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The job file (jobs/*.toml).
    #[arg(long)]
    pub job: PathArg,
    /// First report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub from: chrono::NaiveDate,
    /// Last report date (inclusive).
    #[arg(long, value_parser = parse_date)]
    pub to: chrono::NaiveDate,
    /// Accept dates in the future or before 2000 (otherwise refused as a likely typo).
    #[arg(long)]
    pub force_date: bool,
    /// Dates processed at once (at least 1, at most the number of cores).
    #[arg(long, default_value_t = 1, value_parser = super::parse_parallel)]
    pub parallel: usize,
    /// Write the warehouse here instead of the job's `output`.
    #[arg(long)]
    pub output: Option<PathArg>,
    /// Only dates the ledger has never published.
    #[arg(long, conflicts_with = "only_failed")]
    pub only_missing: bool,
    /// Only dates whose last run failed or was abandoned.
    #[arg(long)]
    pub only_failed: bool,
    /// List the dates and sources without pulling anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish dates even where a district would be worse than in the published version.
    #[arg(long)]
    pub allow_regression: bool,
    /// Publish a date on which no district submitted anything (every district `missing`); without it
    /// such a date fails (exit 1) and nothing is published.
    #[arg(long)]
    pub allow_empty: bool,
    /// Send no `published`/`failed` notices for these dates.
    #[arg(long)]
    pub no_notify: bool,
    /// Read workbooks in this process instead of reader worker processes.
    #[arg(long)]
    pub in_process: bool,
    /// Seconds to wait for another fugong writing the same warehouse.
    #[arg(long, default_value_t = 0)]
    pub lock_wait_secs: u64,
}

/// The dates a backfill covers, after the reprocess filters.
pub fn select_dates(
    ledger: Option<&Ledger>,
    job: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    only_missing: bool,
    only_failed: bool,
) -> anyhow::Result<Vec<chrono::NaiveDate>> {
    let all: Vec<chrono::NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let Some(ledger) = ledger else {
        return Ok(if only_failed { Vec::new() } else { all });
    };
    if only_missing {
        let published = ledger.published_dates(job, from, to)?;
        Ok(all.into_iter().filter(|d| !published.contains(d)).collect())
    } else if only_failed {
        ledger.failed_dates(job, from, to).map_err(Into::into)
    } else {
        Ok(all)
    }
}

pub fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    if args.from > args.to {
        return Err(UsageError(format!("--from {} is after --to {}", args.from, args.to)).into());
    }
    let job = Job::load(&args.job)?;
    super::check_report_date(&job, args.from, args.force_date)?;
    super::check_report_date(&job, args.to, args.force_date)?;
    let output = job.output_or(
        args.output
            .as_deref()
            .map(|p| p.to_string_lossy())
            .as_deref(),
    )?;
    if args.dry_run {
        return dry_run(&job, &args, &output);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let parallel = args.parallel.clamp(1, cores);
    let options = RunOptions {
        isolation: if args.in_process {
            Isolation::InProcess
        } else {
            subprocess_isolation(job.limits.max_reader_memory_bytes)
        },
        output: args.output.clone(),
        lock_wait: Duration::from_secs(args.lock_wait_secs),
        trigger: Trigger::Backfill,
        allow_regression: args.allow_regression,
        allow_empty: args.allow_empty,
        notify: !args.no_notify,
        cancel: Some(interrupt_flag()),
    };
    let interrupted = || {
        options
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    };
    let session = Session::open(&job, &options)?;
    let dates = select_dates(
        Some(&session.ledger),
        &job.name,
        args.from,
        args.to,
        args.only_missing,
        args.only_failed,
    )?;
    if dates.is_empty() {
        super::out::line(format!(
            "nothing to do: no date in {}..{} matches",
            args.from, args.to
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(dates.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} dates {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(parallel)
        .build()
        .context("thread pool")?;
    let results: Vec<_> = pool.install(|| {
        dates
            .par_iter()
            .map(|date| {
                let t = Instant::now();
                if interrupted() {
                    return (*date, None, t.elapsed());
                }
                let result = session.run_date(*date, &options);
                let line = match &result {
                    Ok(r) => format!(
                        "{date} published: {} enterprise rows in {:.2}s",
                        r.rows_published,
                        t.elapsed().as_secs_f64()
                    ),
                    Err(e) => format!("{date} FAILED: {e}"),
                };
                match &progress {
                    Some(bar) => {
                        bar.set_message(line);
                        bar.inc(1);
                    }
                    None => out::note(line),
                }
                (*date, Some(result), t.elapsed())
            })
            .collect()
    });
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "date", "status", "accepted", "partial", "rejected", "missing", "rows", "seconds", "error",
    ]);
    let (mut failed, mut refused, mut abandoned, mut skipped) = (0, 0, 0, 0);
    let mut sorted = results;
    sorted.sort_by_key(|(d, _, _)| *d);
    let blank = || String::new();
    for (date, result, took) in &sorted {
        let seconds = format!("{:.2}", took.as_secs_f64());
        match result {
            Some(Ok(r)) => {
                let c = r.counts();
                table.add_row(vec![
                    date.to_string(),
                    format!("published v{}", r.version),
                    c.accepted.to_string(),
                    c.partial.to_string(),
                    c.rejected.to_string(),
                    c.missing.to_string(),
                    c.rows_published.to_string(),
                    seconds,
                    blank(),
                ]);
            }
            Some(Err(e)) => {
                let status = match e {
                    RunError::Regression { .. } => {
                        refused += 1;
                        "refused"
                    }
                    RunError::Abandoned { .. } => {
                        abandoned += 1;
                        "abandoned"
                    }
                    _ => {
                        failed += 1;
                        "failed"
                    }
                };
                table.add_row(vec![
                    date.to_string(),
                    status.into(),
                    blank(),
                    blank(),
                    blank(),
                    blank(),
                    blank(),
                    seconds,
                    e.to_string(),
                ]);
            }
            None => {
                skipped += 1;
                table.add_row(vec![
                    date.to_string(),
                    "not started".into(),
                    blank(),
                    blank(),
                    blank(),
                    blank(),
                    blank(),
                    blank(),
                    "interrupted before this date began".into(),
                ]);
            }
        }
    }
    out::line(table)?;
    let elapsed = started.elapsed().as_secs_f64();
    let published = sorted.len() - failed - refused - abandoned - skipped;
    out::line(format!(
        "{} dates in {elapsed:.2}s ({:.2} dates/s, {parallel} at a time): {published} published, {failed} failed, {refused} refused as regressions, {abandoned} abandoned, {skipped} not started",
        sorted.len(),
        sorted.len() as f64 / elapsed.max(1e-9),
    ))?;
    let code = if interrupted() {
        exit::INTERRUPTED
    } else if failed > 0 {
        exit::FAILED
    } else if refused > 0 {
        exit::REFUSED
    } else {
        exit::DONE
    };
    session.notifier.wait();
    Ok(ExitCode::from(code))
}

fn dry_run(
    job: &Job,
    args: &BackfillArgs,
    output: &crate::config::job::Output,
) -> anyhow::Result<ExitCode> {
    let ledger_path = job.ledger_path(output);
    let ledger = if ledger_path.exists() {
        Some(Ledger::open(&ledger_path)?)
    } else {
        None
    };
    let dates = select_dates(
        ledger.as_ref(),
        &job.name,
        args.from,
        args.to,
        args.only_missing,
        args.only_failed,
    )?;
    super::out::line(format!(
        "dry run: {} date(s) would be processed into {}; nothing is pulled or published",
        dates.len(),
        output.describe()
    ))?;
    let dir = match &job.source {
        crate::config::job::Source::Dir { base, template } => {
            let source = crate::pull::dir::DirSource::new(base.clone(), template.clone());
            source.check()?;
            Some(source)
        }
        crate::config::job::Source::Http(_) | crate::config::job::Source::Upload => None,
    };
    let mut empty_dates = Vec::new();
    for date in &dates {
        let mut lines = Vec::new();
        let mut found = 0usize;
        for d in &job.districts {
            let what = match &dir {
                Some(source) => {
                    let files = source.files(&d.code, *date)?;
                    found += usize::from(!files.is_empty());
                    match files.as_slice() {
                        [] => format!(
                            "nothing (looked for {})",
                            crate::pull::describe(job, &d.code, *date)
                        ),
                        [one] => one.display().to_string(),
                        many => format!(
                            "{} files, an ambiguous submission: {}",
                            many.len(),
                            many.iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    }
                }
                None if matches!(job.source, crate::config::job::Source::Upload) => {
                    "uploads only: whatever the district has uploaded".to_string()
                }
                None => format!(
                    "GET {} (not requested in a dry run)",
                    crate::pull::describe(job, &d.code, *date)
                ),
            };
            lines.push(format!("  {} {:<6} {what}", d.code, d.name));
        }
        let flag = if dir.is_some() && found == 0 && args.allow_empty {
            "  ← nothing would be read: published with every district missing (--allow-empty)"
                .to_string()
        } else if dir.is_some() && found == 0 {
            empty_dates.push(*date);
            "  ← nothing would be read: the date would fail (no district submitted) unless --allow-empty"
                .to_string()
        } else if dir.is_some() {
            format!(
                "  ({found} of {} districts have a file)",
                job.districts.len()
            )
        } else {
            String::new()
        };
        super::out::line(format!("{date}{flag}"))?;
        for line in lines {
            super::out::line(line)?;
        }
    }
    if !empty_dates.is_empty() {
        super::out::line(format!(
            "{} date(s) where nothing would be read: {}",
            empty_dates.len(),
            empty_dates
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
