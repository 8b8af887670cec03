//! `fugong backfill --job FILE --from D1 --to D2 [--parallel N] [--only-missing|--only-failed] [--dry-run]`

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::{PathArg, parse_date, subprocess_isolation};
use crate::config::Job;
use crate::ledger::{Ledger, Trigger};
use crate::pipeline::{RunOptions, Session};
use crate::worker::Isolation;

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
    /// Dates processed at once (at most the number of cores).
    #[arg(long, default_value_t = 1)]
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
    anyhow::ensure!(
        args.from <= args.to,
        "--from {} is after --to {}",
        args.from,
        args.to
    );
    let job = Job::load(&args.job)?;
    let output = args.output.clone().unwrap_or_else(|| job.output.clone());
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
        output: Some(output.clone()),
        lock_wait: Duration::from_secs(args.lock_wait_secs),
        trigger: Trigger::Backfill,
        ..RunOptions::default()
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
        println!(
            "nothing to do: no date in {}..{} matches",
            args.from, args.to
        );
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
                    None => eprintln!("{line}"),
                }
                (*date, result, t.elapsed())
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
    let mut failed = 0;
    let mut sorted = results;
    sorted.sort_by_key(|(d, _, _)| *d);
    for (date, result, took) in &sorted {
        match result {
            Ok(r) => {
                let c = r.counts();
                table.add_row(vec![
                    date.to_string(),
                    "published".into(),
                    c.accepted.to_string(),
                    c.partial.to_string(),
                    c.rejected.to_string(),
                    c.missing.to_string(),
                    c.rows_published.to_string(),
                    format!("{:.2}", took.as_secs_f64()),
                    String::new(),
                ]);
            }
            Err(e) => {
                failed += 1;
                table.add_row(vec![
                    date.to_string(),
                    "failed".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{:.2}", took.as_secs_f64()),
                    e.to_string(),
                ]);
            }
        }
    }
    println!("{table}");
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} dates in {elapsed:.2}s ({:.2} dates/s, {parallel} at a time): {} published, {failed} failed",
        sorted.len(),
        sorted.len() as f64 / elapsed.max(1e-9),
        sorted.len() - failed
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn dry_run(job: &Job, args: &BackfillArgs, output: &std::path::Path) -> anyhow::Result<ExitCode> {
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
    let describe = |code: &str, date: chrono::NaiveDate| match &job.source {
        crate::config::job::Source::Dir { pattern } => {
            crate::pull::expand_template(pattern, code, date)
        }
        crate::config::job::Source::Http(s) => crate::pull::expand_template(&s.url, code, date),
    };
    println!(
        "dry run: {} date(s) would be processed into {}",
        dates.len(),
        output.display()
    );
    for date in &dates {
        println!("{date}");
        for d in &job.districts {
            println!("  {} {:<6} {}", d.code, d.name, describe(&d.code, *date));
        }
    }
    Ok(ExitCode::SUCCESS)
}
