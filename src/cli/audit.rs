//! `fugong audit --job FILE [--from D --to D] [--format table|csv|json]`: the portal's audit log —
//! every sign-in (success or failure, the client address, never the token), upload and token change,
//! and every notice delivered.

use std::process::ExitCode;

use clap::Args;

use super::tabular::{OutputFormat, Tabular};
use super::{PathArg, parse_date};
use crate::config::Job;
use crate::ledger::Ledger;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[arg(long)]
    pub job: PathArg,
    /// First day (UTC) of the entries shown.
    #[arg(long, value_parser = parse_date)]
    pub from: Option<chrono::NaiveDate>,
    /// Last day (UTC) of the entries shown.
    #[arg(long, value_parser = parse_date)]
    pub to: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let job = Job::load(&args.job)?;
    let path = job.ledger_path(&job.output);
    anyhow::ensure!(
        path.exists(),
        "no run ledger at {} yet: nothing has happened for this job",
        path.display()
    );
    let ledger = Ledger::open(&path)?;
    let mut rows = Tabular::new(&[
        "id",
        "at",
        "event",
        "token_id",
        "client",
        "district_code",
        "report_date",
        "detail",
    ]);
    for e in ledger.audit_log(&job.name, args.from, args.to)? {
        rows.push(vec![
            e.id.into(),
            e.at.into(),
            e.event.into(),
            e.token_id.into(),
            e.client.into(),
            e.district_code.into(),
            e.report_date.into(),
            e.detail,
        ]);
    }
    rows.print(args.format, None)?;
    Ok(ExitCode::SUCCESS)
}
