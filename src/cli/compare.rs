//! `fugong compare --output DIR | --job FILE --date D [--format table|csv|json] [--xlsx FILE]`

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::tabular::{OutputFormat, Tabular};
use super::{PathArg, WarehouseArgs, parse_date};
use crate::compare::table::{read_cities, render_ranking};

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
    /// `table`: the ranking with its headline; `csv`/`json`: the city rows with city_daily's column
    /// names and unrounded rates.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Also write the ranking as a formatted workbook.
    #[arg(long)]
    pub xlsx: Option<PathArg>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let (warehouse, _, _) = args.warehouse.open()?;
    let cities = read_cities(&*warehouse, args.date)?;
    if let Some(path) = &args.xlsx {
        crate::report::ranking::write(path, &cities, args.date)
            .with_context(|| format!("cannot write {}", path.display()))?;
        super::out::note(format!("ranking workbook: {}", path.display()));
    }
    match args.format {
        OutputFormat::Table => super::out::line(render_ranking(&cities, args.date))?,
        format => {
            let mut rows = Tabular::new(&[
                "city_code",
                "city_name",
                "resumption_rate_rank",
                "resumption_rate",
                "resumption_rate_change",
                "on_duty_rate",
                "on_duty_rate_rank",
                "capacity_utilization_avg",
                "capacity_utilization_rank",
                "enterprises_total",
                "enterprises_resumed",
                "employees_total",
                "employees_on_duty",
                "districts_expected",
                "districts_reported",
                "mask_daily_capacity_total",
                "enterprises_with_financing_need",
                "financing_need_cny_total",
            ]);
            let mut sorted: Vec<_> = cities.iter().collect();
            sorted.sort_by_key(|c| {
                (
                    c.resumption_rate_rank.unwrap_or(i32::MAX),
                    c.city_code.clone(),
                )
            });
            for c in sorted {
                rows.push(vec![
                    c.city_code.clone().into(),
                    c.city_name.clone().into(),
                    c.resumption_rate_rank.into(),
                    c.resumption_rate.into(),
                    c.resumption_rate_change.into(),
                    c.on_duty_rate.into(),
                    c.on_duty_rate_rank.into(),
                    c.capacity_utilization_avg.into(),
                    c.capacity_utilization_rank.into(),
                    c.enterprises_total.into(),
                    c.enterprises_resumed.into(),
                    c.employees_total.into(),
                    c.employees_on_duty.into(),
                    c.districts_expected.into(),
                    c.districts_reported.into(),
                    c.mask_daily_capacity_total.into(),
                    c.enterprises_with_financing_need.into(),
                    // Yuan, as city_daily's decimal(18,2) reads.
                    c.financing_need_fen_total
                        .map(|fen| fen as f64 / 100.0)
                        .into(),
                ]);
            }
            rows.print(format, None)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
