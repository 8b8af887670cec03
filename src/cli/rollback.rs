//! `fugong rollback --output DIR|URL | --job FILE --date D --to N`: restore version N of a date, byte for
//! byte, with the same protocol as any publish (a journal for a local folder, commits re-adding the
//! version's files for Delta Lake). The restore is itself a new version (trigger
//! `rollback`) and a run in the ledger; the next date's day-over-day change is refreshed in the same
//! transaction.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{UsageError, WarehouseArgs, out, parse_date};
use crate::ledger::{Ledger, RunCounts, RunStatus, Trigger};
use crate::pipeline::{RunError, stage_refresh};
use crate::publish::Warehouse;
use crate::publish::versions::VersionInfo;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
    /// The version to restore (see `fugong versions`).
    #[arg(long)]
    pub to: u32,
    /// Seconds to wait for another fugong writing the same warehouse.
    #[arg(long, default_value_t = 0)]
    pub lock_wait_secs: u64,
}

pub fn run(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let (warehouse, output, job) = args.warehouse.open()?;
    let date = args.date;
    let _lock = warehouse
        .lock(Duration::from_secs(args.lock_wait_secs))
        .map_err(RunError::from)?;
    warehouse.recover().map_err(RunError::from)?;
    let list = warehouse.versions(date)?;
    let Some(target) = list.iter().find(|v| v.version == args.to) else {
        let known: Vec<String> = list.iter().map(|v| v.version.to_string()).collect();
        return Err(UsageError(format!(
            "{date} has no version {} in {} (versions kept: {})",
            args.to,
            warehouse.location(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
        .into());
    };
    if target.live {
        out::line(format!(
            "version {} of {date} is already the live one; nothing to do",
            args.to
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let keep = job
        .as_ref()
        .map(|j| j.keep_versions)
        .unwrap_or(crate::config::job::DEFAULT_KEEP_VERSIONS);
    let ledger_path = match (&job, &output) {
        (Some(j), _) => j.ledger_path(&output),
        (None, crate::config::job::Output::Local(dir)) => dir.join("_state").join("ledger.sqlite"),
        (None, crate::config::job::Output::Delta { .. }) => std::path::PathBuf::from(".fugong")
            .join(format!("{}.ledger.sqlite", target.manifest.job)),
    };
    let ledger = Ledger::open(&ledger_path)?;
    let job_name = target.manifest.job.clone();
    let run_id = ledger.start_run(&job_name, date, Trigger::Rollback)?;
    let result = restore(&*warehouse, job.as_ref(), date, target, keep);
    let (status, error) = match &result {
        Ok(_) => (RunStatus::Published, None),
        Err(e) => (RunStatus::Failed, Some(format!("{e:#}"))),
    };
    let [accepted, partial, rejected, missing, _] = target.manifest.status_counts();
    let counts = RunCounts {
        accepted,
        partial,
        rejected,
        missing,
        rows_published: target.rows.get("enterprise_daily").copied().unwrap_or(0),
        version: result.as_ref().ok().copied(),
    };
    if let Err(e) = ledger.finish_run(run_id, status, counts, error.as_deref()) {
        tracing::warn!(error = %e, "cannot record the rollback in the ledger");
    }
    let version = result?;
    out::line(format!(
        "{date}: version {} restored as version {version} in {}",
        args.to,
        warehouse.location()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Stage version `target`'s files as they are, refresh what later dates derive from it, commit.
fn restore(
    warehouse: &dyn Warehouse,
    job: Option<&crate::config::Job>,
    date: chrono::NaiveDate,
    target: &VersionInfo,
    keep: u32,
) -> anyhow::Result<u32> {
    let mut tx = warehouse.begin(keep)?;
    let tables = warehouse.version_tables(date, target)?;
    let mut manifest = target.manifest.clone();
    manifest.trigger = Some(Trigger::Rollback.as_str().to_string());
    manifest.restored_version = Some(target.version);
    manifest.note = None;
    let version = tx.stage(date, tables, manifest)?;
    let cities = crate::compare::table::cities_of_batches(&warehouse.read_version_table(
        date,
        target,
        "city_daily",
    )?)?;
    // The restored ledger, when the version has one, carries into the later dates' ledgers (which need
    // the job's rules: given with --job).
    let ledger = match target.manifest.tables.contains_key("problem_ledger") {
        true => Some(crate::problems::tables::problems_of_batches(
            &warehouse.read_version_table(date, target, "problem_ledger")?,
        )?),
        false => None,
    };
    stage_refresh(
        tx.as_mut(),
        warehouse,
        job,
        date,
        &cities,
        ledger.as_deref(),
        // The next date's anomaly warnings are not recomputed on a rollback (they stay as published).
        None,
    )?;
    tx.commit()?;
    Ok(version)
}
