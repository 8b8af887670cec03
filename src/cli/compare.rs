//! `fugong compare --output DIR --date D`

use std::process::ExitCode;

use clap::Args;

use super::{WarehouseArgs, parse_date};
use crate::compare::table::{read_cities, render_ranking};

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let (warehouse, _, _) = args.warehouse.open()?;
    let cities = read_cities(&*warehouse, args.date)?;
    super::out::line(render_ranking(&cities, args.date))?;
    Ok(ExitCode::SUCCESS)
}
