//! `fugong validate FILE [--schema FILE] [--district CODE] [--date D] [--format table|csv|json] [--job FILE]`

use std::process::ExitCode;

use clap::Args;

use super::tabular::{OutputFormat, Tabular};
use super::{PathArg, UsageError, out, parse_date};
use crate::config::{Job, Schema};

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
    /// The report date; without it, the workbook's 填报日期 is taken (and said so), or, when it has
    /// none, dates are not checked (and said so).
    #[arg(long, value_parser = parse_date)]
    pub date: Option<chrono::NaiveDate>,
    /// `table` (alias `text`): a summary line and one line per finding; `csv` and `json`: the findings.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Read the workbook in this process instead of a reader worker process.
    #[arg(long)]
    pub in_process: bool,
}

/// The summary line, in Chinese: what was read and what became of it. A file-level error refuses the
/// whole file, which is said as such (never "0 rows rejected").
fn summary_line(
    file: &std::path::Path,
    outcome: &crate::validate::SubmissionOutcome,
    errors: usize,
) -> String {
    let sheet = outcome
        .sheet
        .as_deref()
        .map(|s| format!("工作表“{s}”"))
        .unwrap_or_else(|| "未找到日报表工作表".into());
    let file_errors = outcome
        .findings
        .iter()
        .filter(|f| f.is_error() && f.row.is_none())
        .count();
    let verdict = if file_errors > 0 {
        format!("整份文件不能接收（{file_errors} 个文件级错误，见下）")
    } else if outcome.rows.is_empty() && outcome.rows_rejected > 0 {
        format!(
            "整份文件不能接收：全部 {} 行都有错误",
            outcome.rows_rejected
        )
    } else if errors > 0 {
        format!(
            "可接收 {} 行，{} 行有错误将被拒收",
            outcome.rows.len(),
            outcome.rows_rejected
        )
    } else {
        format!("全部 {} 行可以接收", outcome.rows.len())
    };
    format!(
        "{}：{sheet}；{verdict}；错误 {errors} 个，警告 {} 个",
        file.display(),
        outcome.warnings()
    )
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let job = args.job.as_deref().map(Job::load).transpose()?;
    let schema = match (&args.schema, &job) {
        (Some(path), _) => Schema::load(path)?,
        (None, Some(job)) => (*job.schema).clone(),
        (None, None) => Schema::builtin()?,
    };
    if let (Some(job), Some(code)) = (&job, &args.district)
        && !job.districts.iter().any(|d| &d.code == code)
    {
        return Err(UsageError(format!(
            "--district {code} is not a district of {} ({}): give one of its [[districts]] codes",
            job.path.display(),
            job.name
        ))
        .into());
    }
    // Read in a worker process, as a run does: a hostile file costs the worker, not this command.
    let memory = job
        .as_ref()
        .map(|j| j.limits.max_reader_memory_bytes)
        .unwrap_or(crate::config::Limits::default().max_reader_memory_bytes);
    let isolation = if args.in_process {
        crate::intake::Isolation::InProcess
    } else {
        super::subprocess_isolation(memory)
    };
    // The same intake a run and an upload use: the job's districts and limits when a job is given.
    let intake = match &job {
        Some(j) if args.schema.is_none() => crate::intake::Intake::for_job(j, &isolation, None),
        _ => crate::intake::Intake::for_schema(
            &schema,
            job.as_ref().map(|j| j.limits.read).unwrap_or_default(),
            job.as_ref()
                .map(crate::intake::known_districts)
                .unwrap_or_default(),
            &isolation,
        ),
    };
    let district = job
        .as_ref()
        .and_then(|j| {
            args.district
                .as_ref()
                .and_then(|code| j.districts.iter().find(|d| &d.code == code))
        })
        .cloned()
        .unwrap_or_else(|| crate::config::District {
            code: args.district.clone().unwrap_or_default(),
            name: String::new(),
            city_code: String::new(),
            city_name: String::new(),
            province_code: String::new(),
        });
    let unreadable = |e: std::io::Error| -> anyhow::Error {
        let path = args.file.display();
        UsageError(match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("找不到文件 {path}：请检查文件名和所在文件夹是否写对")
            }
            std::io::ErrorKind::PermissionDenied => {
                format!("没有权限读取文件 {path}：请检查文件的访问权限")
            }
            _ => format!("无法读取文件 {path}：{e}"),
        })
        .into()
    };
    let metadata = std::fs::metadata(&args.file).map_err(unreadable)?;
    if metadata.is_dir() {
        return Err(UsageError(format!(
            "{} 是一个文件夹，不是工作簿：请给出要检查的文件",
            args.file.display()
        ))
        .into());
    }
    let take = |bytes: Vec<u8>, date: chrono::NaiveDate| {
        let name = args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let info = crate::intake::source_info(args.file.display().to_string(), name, &bytes);
        let pulled = match intake.over_limit(bytes.len() as u64) {
            Some(finding) => crate::pull::Pulled::Problem {
                info: Some(info),
                finding,
            },
            None => crate::pull::Pulled::Found { info, bytes },
        };
        intake.take(&district, date, pulled).map(|r| r.outcome)
    };
    let size = metadata.len();
    let (outcome, date_note) = if let Some(finding) = intake.over_limit(size) {
        // Not even read: over the byte limit is a finding like any other.
        let outcome = crate::validate::SubmissionOutcome {
            findings: vec![finding],
            ..Default::default()
        };
        (outcome, None)
    } else {
        let bytes = std::fs::read(&args.file).map_err(unreadable)?;
        match args.date {
            Some(date) => (take(bytes, date)?, None),
            None => {
                // No --date: the date the workbook states (填报日期), else no date at all.
                let today = chrono::Local::now().date_naive();
                let first = intake.check(&bytes, &intake.context(&district.code, today, false));
                match first.stated_date {
                    Some(stated) => (
                        take(bytes, stated)?,
                        Some(format!(
                            "报表日期取自工作簿的填报日期 {stated}（可用 --date 指定）"
                        )),
                    ),
                    None => (
                        first,
                        Some(
                            "工作簿没有填报日期，也未给出 --date：未核对日期（开工日期是否晚于报表日期等）"
                                .to_string(),
                        ),
                    ),
                }
            }
        }
    };
    intake.finish();
    let errors = outcome.findings.iter().filter(|f| f.is_error()).count();
    match args.format {
        OutputFormat::Json => {
            let findings: Vec<serde_json::Value> = outcome
                .findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "code": f.code.as_str(), "severity": f.severity.as_str(), "row": f.row,
                        "column": f.column, "field": f.field, "value": f.value, "message": f.message,
                        "cell": f.cell, "expected": f.expected, "detail": f.detail,
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "file": args.file.display().to_string(),
                "sheet": outcome.sheet,
                "report_date": args.date.or(outcome.stated_date),
                "date_note": date_note,
                "rows_accepted": outcome.rows.len(),
                "rows_rejected": outcome.rows_rejected,
                "errors": errors,
                "warnings": outcome.warnings(),
                "findings": findings,
            });
            out::line(serde_json::to_string_pretty(&doc)?)?;
        }
        OutputFormat::Csv => {
            let mut rows = Tabular::new(&[
                "severity", "code", "cell", "row", "column", "field", "value", "expected",
                "message", "detail",
            ]);
            for f in &outcome.findings {
                rows.push(vec![
                    f.severity.as_str().into(),
                    f.code.as_str().into(),
                    f.cell.clone().into(),
                    f.row.into(),
                    f.column.clone().into(),
                    f.field.clone().into(),
                    f.value.clone().into(),
                    f.expected.clone().into(),
                    f.message.clone().into(),
                    f.detail.clone().into(),
                ]);
            }
            rows.print(OutputFormat::Csv, None)?;
        }
        OutputFormat::Table => {
            if let Some(note) = &date_note {
                out::line(note)?;
            }
            out::line(summary_line(&args.file, &outcome, errors))?;
            for f in &outcome.findings {
                let place = match (&f.cell, f.row) {
                    (Some(cell), _) => cell.clone(),
                    (None, Some(r)) => format!("第{r}行"),
                    (None, None) => "整份文件".into(),
                };
                let severity = if f.is_error() { "错误" } else { "警告" };
                out::line(format!(
                    "{severity} {:<26} {:<8} {}",
                    f.code.as_str(),
                    place,
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
