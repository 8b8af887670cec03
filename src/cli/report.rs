//! `fugong report --output DIR --date D [--days N] --out FILE.html`

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{PathArg, WarehouseArgs, parse_date};

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD (must be published).
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
    /// Days of 开工率 trend, ending with the date.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathArg,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let (warehouse, _, _) = args.warehouse.open()?;
    let data = crate::report::data::load(&*warehouse, args.date, args.days)?;
    let html =
        crate::report::render(&data).map_err(|e| anyhow::anyhow!("cannot draw the report: {e}"))?;
    std::fs::write(&args.out, html)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    super::out::line(format!(
        "wrote {} ({})",
        args.out.display(),
        crate::report::headline(&data)
    ))?;
    Ok(ExitCode::SUCCESS)
}
