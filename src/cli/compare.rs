//! `fugong compare --output DIR --date D`

use std::process::ExitCode;

use clap::Args;

use super::{PathArg, parse_date};
use crate::compare::table::{read_cities, render_ranking};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The warehouse folder.
    #[arg(long)]
    pub output: PathArg,
    /// The report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let cities = read_cities(&args.output, args.date)?;
    super::out::line(render_ranking(&cities, args.date))?;
    Ok(ExitCode::SUCCESS)
}
