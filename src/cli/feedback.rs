//! `fugong feedback --output DIR --date D --out FOLDER`

use std::process::ExitCode;

use clap::Args;

use super::{PathArg, WarehouseArgs, parse_date};

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD (must be published).
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
    /// Folder for the workbooks (one per district with findings).
    #[arg(long)]
    pub out: PathArg,
}

pub fn run(args: FeedbackArgs) -> anyhow::Result<ExitCode> {
    let (warehouse, _, _) = args.warehouse.open()?;
    let files = crate::report::feedback::write_all(&*warehouse, args.date, &args.out)?;
    for f in &files {
        super::out::line(format!("{}", f.display()))?;
    }
    super::out::line(format!(
        "{} feedback workbook(s) for {}",
        files.len(),
        args.date
    ))?;
    Ok(ExitCode::SUCCESS)
}
