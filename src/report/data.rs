//! What the report shows, read from the published Parquet snapshots (never recomputed from workbooks).

use std::collections::BTreeMap;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use chrono::NaiveDate;

use crate::compare::table::{CompareError, read_cities, read_published};
use crate::compare::{CityAggregate, Fraction};
use crate::problems::ledger::{DailyCount, Problem};
use crate::publish::Warehouse;

/// One row of `district_daily`, as the report needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictLine {
    pub city_code: String,
    pub city_name: String,
    pub district_code: String,
    pub district_name: String,
    pub status: String,
    pub rows_rejected: i64,
    pub warnings: i64,
}

/// One row of `rejects`.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectLine {
    pub district_code: String,
    pub code: String,
    pub severity: String,
    pub message: String,
    /// The sheet row, for a row-level finding.
    pub row: Option<i32>,
    /// For an anomaly about one enterprise: its name and credit code, from `enterprise_daily`.
    pub enterprise: Option<(String, String)>,
}

/// The problem ledger of the date, as the report shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProblemsData {
    /// `problem_daily`: every city and category, in the table's order.
    pub counts: Vec<DailyCount>,
    /// Per city (city-code order): open problems open 1–3, 4–7 and over 7 days.
    pub aging: Vec<(String, [i64; 3])>,
    /// The 20 oldest open problems, oldest first.
    pub oldest: Vec<Problem>,
    /// All open problems.
    pub open_total: i64,
}

/// How many of the oldest open problems the report lists.
pub const OLDEST_LISTED: usize = 20;

/// A city's 开工率 by city code on one date (None when the city had no rate).
pub type CityRates = BTreeMap<String, Option<f64>>;

/// Everything one report is drawn from.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub date: NaiveDate,
    pub cities: Vec<CityAggregate>,
    pub districts: Vec<DistrictLine>,
    pub rejects: Vec<RejectLine>,
    /// The trend window, oldest first: each date with its cities' 开工率, or None when no snapshot exists.
    pub trend: Vec<(NaiveDate, Option<CityRates>)>,
    /// Province-wide pooled rates: (开工率, 上岗率, 达产率).
    pub province: (Option<f64>, Option<f64>, Option<f64>),
    /// The province's 开工率 and 上岗率 as exact fractions, for display.
    pub province_exact: (Option<Fraction>, Option<Fraction>),
    /// The problem ledger; None for a date published before fugong kept one.
    pub problems: Option<ProblemsData>,
    /// The nearest earlier published date's cities (for the supply figures' 较上期).
    pub previous: Option<(NaiveDate, Vec<CityAggregate>)>,
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a StringArray, CompareError> {
    Ok(crate::records::column(b, name)?)
}

fn ints<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a Int64Array, CompareError> {
    Ok(crate::records::column(b, name)?)
}

fn read(
    warehouse: &dyn Warehouse,
    table: &str,
    date: NaiveDate,
) -> Result<Vec<RecordBatch>, CompareError> {
    read_published(warehouse, table, date)
}

/// Pooled province rates from the cities (sum of numerators over sum of denominators).
fn province_rates(cities: &[CityAggregate]) -> (Option<Fraction>, Option<Fraction>) {
    let sum = |f: fn(&CityAggregate) -> Option<i64>| cities.iter().filter_map(f).sum::<i64>();
    (
        Fraction::new(sum(|c| c.enterprises_resumed), sum(|c| c.enterprises_total)),
        Fraction::new(sum(|c| c.employees_on_duty), sum(|c| c.employees_total)),
    )
}

/// Each anomaly about one enterprise (it has a row) gets the enterprise's name and credit code, read
/// from the date's `enterprise_daily` (four projected columns, only when there are such anomalies).
fn name_anomalous_enterprises(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
    rejects: &mut [RejectLine],
) -> Result<(), CompareError> {
    if !rejects
        .iter()
        .any(|r| r.code == "anomaly" && r.row.is_some())
    {
        return Ok(());
    }
    let columns = ["district_code", "source_row", "uscc", "enterprise_name"];
    let batches = warehouse
        .read_columns("enterprise_daily", date, &columns)
        .map_err(|e| CompareError::Read {
            path: format!("{}/enterprise_daily", warehouse.location()),
            message: e.to_string(),
        })?;
    let mut by_place: std::collections::HashMap<(String, i32), (String, String)> =
        std::collections::HashMap::new();
    for b in &batches {
        let district = strings(b, "district_code")?;
        let row = crate::records::column::<arrow::array::Int32Array>(b, "source_row")?;
        let (uscc, name) = (strings(b, "uscc")?, strings(b, "enterprise_name")?);
        for i in 0..b.num_rows() {
            if row.is_valid(i) && uscc.is_valid(i) && name.is_valid(i) {
                by_place.insert(
                    (district.value(i).to_string(), row.value(i)),
                    (name.value(i).to_string(), uscc.value(i).to_string()),
                );
            }
        }
    }
    for r in rejects.iter_mut().filter(|r| r.code == "anomaly") {
        if let Some(row) = r.row {
            r.enterprise = by_place.get(&(r.district_code.clone(), row)).cloned();
        }
    }
    Ok(())
}

/// Load the report's data for `date` and the `days` dates ending with it.
pub fn load(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
    days: u32,
) -> Result<ReportData, CompareError> {
    let output = warehouse;
    let cities = read_cities(output, date)?;
    let mut districts = Vec::new();
    for b in read(output, "district_daily", date)? {
        let (cc, cn, dc, dn, st) = (
            strings(&b, "city_code")?,
            strings(&b, "city_name")?,
            strings(&b, "district_code")?,
            strings(&b, "district_name")?,
            strings(&b, "submission_status")?,
        );
        let (rr, w) = (ints(&b, "rows_rejected")?, ints(&b, "warnings")?);
        for i in 0..b.num_rows() {
            districts.push(DistrictLine {
                city_code: cc.value(i).into(),
                city_name: cn.value(i).into(),
                district_code: dc.value(i).into(),
                district_name: dn.value(i).into(),
                status: st.value(i).into(),
                rows_rejected: rr.value(i),
                warnings: w.value(i),
            });
        }
    }
    let mut rejects = Vec::new();
    for b in read(output, "rejects", date)? {
        let (dc, code, sev, msg) = (
            strings(&b, "district_code")?,
            strings(&b, "code")?,
            strings(&b, "severity")?,
            strings(&b, "message")?,
        );
        let row = crate::records::column::<arrow::array::Int32Array>(&b, "row")?;
        for i in 0..b.num_rows() {
            rejects.push(RejectLine {
                district_code: dc.value(i).into(),
                code: code.value(i).into(),
                severity: sev.value(i).into(),
                message: msg.value(i).into(),
                row: row.is_valid(i).then(|| row.value(i)),
                enterprise: None,
            });
        }
    }
    name_anomalous_enterprises(output, date, &mut rejects)?;
    let published = output.published_dates().map_err(|e| CompareError::Read {
        path: output.location(),
        message: e.to_string(),
    })?;
    let first = date - chrono::Days::new(u64::from(days.max(1) - 1));
    let mut trend = Vec::new();
    for d in first.iter_days().take_while(|d| *d <= date) {
        if published.contains(&d) {
            let rates = read_cities(output, d)?
                .into_iter()
                .map(|c| (c.city_code, c.resumption_rate))
                .collect();
            trend.push((d, Some(rates)));
        } else {
            trend.push((d, None));
        }
    }
    let capacity = crate::compare::table::province_capacity(output, date)?;
    let problems = load_problems(output, date, &cities)?;
    let previous = match published.iter().rev().find(|d| **d < date) {
        Some(p) => Some((*p, read_cities(output, *p)?)),
        None => None,
    };
    let province_exact = province_rates(&cities);
    let province = (
        province_exact.0.map(Fraction::value),
        province_exact.1.map(Fraction::value),
        capacity,
    );
    Ok(ReportData {
        date,
        cities,
        districts,
        rejects,
        trend,
        province,
        province_exact,
        problems,
        previous,
    })
}

/// `problem_daily` and `problem_ledger` of the date, when it has them.
fn load_problems(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
    cities: &[CityAggregate],
) -> Result<Option<ProblemsData>, CompareError> {
    let manifest = warehouse.manifest(date).map_err(|e| CompareError::Read {
        path: warehouse.location(),
        message: e.to_string(),
    })?;
    let has = |t: &str| manifest.as_ref().is_some_and(|m| m.tables.contains_key(t));
    if !has("problem_ledger") || !has("problem_daily") {
        return Ok(None);
    }
    let read_err = |table: &str, e: &dyn std::fmt::Display| CompareError::Read {
        path: format!("{}/{table}", warehouse.location()),
        message: e.to_string(),
    };
    let mut out = ProblemsData {
        counts: crate::problems::tables::counts_of_batches(&read(
            warehouse,
            "problem_daily",
            date,
        )?)
        .map_err(|e| read_err("problem_daily", &e))?,
        ..ProblemsData::default()
    };
    let mut open: Vec<Problem> = crate::problems::published_ledger(warehouse, date)
        .map_err(|e| read_err("problem_ledger", &e))?
        .unwrap_or_default();
    open.retain(Problem::is_open);
    let mut aging: BTreeMap<String, [i64; 3]> = cities
        .iter()
        .map(|c| (c.city_name.clone(), [0; 3]))
        .collect();
    for p in &open {
        let bucket = match p.days_open(date) {
            ..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        aging.entry(p.district.city_name.clone()).or_default()[bucket] += 1;
    }
    out.open_total = open.len() as i64;
    open.sort_by(|a, b| {
        (
            a.opened_on,
            &a.district.city_name,
            &a.district.code,
            &a.uscc,
            &a.category,
        )
            .cmp(&(
                b.opened_on,
                &b.district.city_name,
                &b.district.code,
                &b.uscc,
                &b.category,
            ))
    });
    open.truncate(OLDEST_LISTED);
    out.oldest = open;
    // Cities in city-code order, as everywhere in the report.
    out.aging = cities
        .iter()
        .map(|c| {
            (
                c.city_name.clone(),
                aging.get(&c.city_name).copied().unwrap_or_default(),
            )
        })
        .collect();
    Ok(Some(out))
}
