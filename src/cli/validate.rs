//! `fugong validate FILE [--schema FILE] [--district CODE] [--date D] [--format text|json] [--job FILE]`

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::{PathArg, parse_date};
use crate::config::{Job, Schema};
use crate::read::ReadLimits;
use crate::validate::{KnownDistrict, SubmissionContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The workbook to check.
    pub file: PathArg,
    /// Schema file (default: the built-in enterprise_daily schema, or the job's).
    #[arg(long)]
    pub schema: Option<PathArg>,
    /// Job file: its districts enable the 填报单位 check, its schema and limits apply.
    #[arg(long)]
    pub job: Option<PathArg>,
    /// The district the file is for.
    #[arg(long)]
    pub district: Option<String>,
    /// The report date (default: today); 填报日期 is checked against it only when given.
    #[arg(long, value_parser = parse_date)]
    pub date: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Read the workbook in this process instead of a reader worker process.
    #[arg(long)]
    pub in_process: bool,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let job = args.job.as_deref().map(Job::load).transpose()?;
    let schema = match (&args.schema, &job) {
        (Some(path), _) => Schema::load(path)?,
        (None, Some(job)) => (*job.schema).clone(),
        (None, None) => Schema::builtin()?,
    };
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let limits = job.as_ref().map(|j| j.limits.read).unwrap_or_default();
    if bytes.len() as u64 > limits.max_file_bytes {
        anyhow::bail!(
            "{} is larger than max_file_bytes ({})",
            args.file.display(),
            limits.max_file_bytes
        );
    }
    let districts: Vec<KnownDistrict> = job
        .as_ref()
        .map(|j| {
            j.districts
                .iter()
                .map(|d| KnownDistrict {
                    code: d.code.clone(),
                    name: d.name.clone(),
                    city_name: d.city_name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let report_date = args
        .date
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let ctx = SubmissionContext {
        district_code: args.district.clone().unwrap_or_default(),
        report_date,
        limits: if job.is_some() {
            limits
        } else {
            ReadLimits::default()
        },
        districts: std::sync::Arc::new(districts),
    };
    // Read in a worker process, as a run does: a hostile file costs the worker, not this command.
    let memory = job
        .as_ref()
        .map(|j| j.limits.max_reader_memory_bytes)
        .unwrap_or(crate::config::Limits::default().max_reader_memory_bytes);
    let isolation = if args.in_process {
        crate::read::boundary::Isolation::InProcess
    } else {
        super::subprocess_isolation(memory)
    };
    let reader = crate::read::boundary::Reader::new(&isolation, &schema);
    let mut outcome = reader.validate(&bytes, &ctx);
    reader.finish();
    if args.date.is_none() {
        outcome
            .findings
            .retain(|f| f.code != crate::validate::Code::DateMismatch);
    }
    let errors = outcome.findings.iter().filter(|f| f.is_error()).count();
    match args.format {
        Format::Json => {
            let findings: Vec<serde_json::Value> = outcome
                .findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "code": f.code.as_str(), "severity": f.severity.as_str(), "row": f.row,
                        "column": f.column, "field": f.field, "value": f.value, "message": f.message,
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "file": args.file.display().to_string(),
                "sheet": outcome.sheet,
                "rows_accepted": outcome.rows.len(),
                "rows_rejected": outcome.rows_rejected,
                "errors": errors,
                "warnings": outcome.warnings(),
                "findings": findings,
            });
            super::out::line(serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            super::out::line(format!(
                "{}: sheet {}, {} rows accepted, {} rows rejected, {} errors, {} warnings",
                args.file.display(),
                outcome
                    .sheet
                    .as_deref()
                    .map(|s| format!("“{s}”"))
                    .unwrap_or_else(|| "—".into()),
                outcome.rows.len(),
                outcome.rows_rejected,
                errors,
                outcome.warnings()
            ))?;
            for f in &outcome.findings {
                let row = f
                    .row
                    .map(|r| format!("row {r}"))
                    .unwrap_or_else(|| "file".into());
                super::out::line(format!(
                    "{:<7} {:<26} {:<8} {}",
                    f.severity.as_str(),
                    f.code.as_str(),
                    row,
                    f.message
                ))?;
            }
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
