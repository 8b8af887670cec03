//! `fugong compare --output DIR | --job FILE --date D [--format table|csv|json] [--xlsx FILE]`

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::tabular::{OutputFormat, Tabular};
use super::{PathArg, WarehouseArgs, parse_date};
use crate::compare::CityAggregate;
use crate::compare::table::{province_aggregate, read_cities, render_ranking, yuan_exact};

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The report date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub date: chrono::NaiveDate,
    /// `table`: the ranking with its headline; `csv`/`json`: the city rows and a 全省 row, with
    /// `report_date` and city_daily's column names in its order, unrounded rates, money as exact
    /// decimal text.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Also write the ranking as a formatted workbook.
    #[arg(long)]
    pub xlsx: Option<PathArg>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let (warehouse, _, _) = args.warehouse.open()?;
    let cities = read_cities(&*warehouse, args.date)?;
    let province = province_aggregate(&*warehouse, args.date, &cities)?;
    if let Some(path) = &args.xlsx {
        crate::report::ranking::write(path, &cities, &province, args.date)
            .with_context(|| format!("cannot write {}", path.display()))?;
        super::out::note(format!("ranking workbook: {}", path.display()));
    }
    match args.format {
        OutputFormat::Table => super::out::line(render_ranking(&cities, args.date))?,
        format => export(&cities, &province, args.date).print(format, None)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The city rows as CSV/JSON: city_daily's column names, in its order, after the report date;
/// unrounded rates; money as the exact decimal string `city_daily` holds; the cities in ranking order,
/// then the 全省 row.
fn export(cities: &[CityAggregate], province: &CityAggregate, date: chrono::NaiveDate) -> Tabular {
    let mut rows = Tabular::new(&[
        "report_date",
        "province_code",
        "city_code",
        "city_name",
        "districts_expected",
        "districts_reported",
        "districts_on_time",
        "enterprises_total",
        "enterprises_resumed",
        "resumption_rate",
        "employees_total",
        "employees_on_duty",
        "on_duty_rate",
        "capacity_utilization_avg",
        "resumption_rate_rank",
        "on_duty_rate_rank",
        "capacity_utilization_rank",
        "resumption_rate_change",
        "mask_daily_capacity_total",
        "enterprises_with_financing_need",
        "financing_need_cny_total",
    ]);
    let mut sorted: Vec<&CityAggregate> = cities.iter().collect();
    sorted.sort_by_key(|c| {
        (
            c.resumption_rate_rank.unwrap_or(i32::MAX),
            c.city_code.clone(),
        )
    });
    for c in sorted.into_iter().chain([province]) {
        rows.push(vec![
            date.to_string().into(),
            c.province_code.clone().into(),
            c.city_code.clone().into(),
            c.city_name.clone().into(),
            c.districts_expected.into(),
            c.districts_reported.into(),
            c.districts_on_time.into(),
            c.enterprises_total.into(),
            c.enterprises_resumed.into(),
            c.resumption_rate.into(),
            c.employees_total.into(),
            c.employees_on_duty.into(),
            c.on_duty_rate.into(),
            c.capacity_utilization_avg.into(),
            c.resumption_rate_rank.into(),
            c.on_duty_rate_rank.into(),
            c.capacity_utilization_rank.into(),
            c.resumption_rate_change.into(),
            c.mask_daily_capacity_total.into(),
            c.enterprises_with_financing_need.into(),
            c.financing_need_fen_total.map(yuan_exact).into(),
        ]);
    }
    rows
}
