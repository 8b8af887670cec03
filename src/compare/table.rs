//! `fugong compare`: read a published date's `city_daily` back and print the provincial ranking.

use std::path::Path;

use arrow::array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use chrono::NaiveDate;
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::CityAggregate;
use crate::publish::{manifest_path, parquet_io, partition_dir};

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(
        "no complete snapshot for {date} in {output} (no manifest {manifest}); run `fugong run` for that date first"
    )]
    NotPublished {
        date: NaiveDate,
        output: String,
        manifest: String,
    },
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, CompareError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| CompareError::Read {
            path: "city_daily".into(),
            message: format!("column {name} is missing or has the wrong type"),
        })
}

fn opt_i64(a: &Int64Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}
fn opt_f64(a: &Float64Array, i: usize) -> Option<f64> {
    a.is_valid(i).then(|| a.value(i))
}
fn opt_i32(a: &Int32Array, i: usize) -> Option<i32> {
    a.is_valid(i).then(|| a.value(i))
}

/// The cities of a published date, in city-code order.
pub fn read_cities(output: &Path, date: NaiveDate) -> Result<Vec<CityAggregate>, CompareError> {
    let manifest = manifest_path(output, date);
    if !manifest.is_file() {
        return Err(CompareError::NotPublished {
            date,
            output: output.display().to_string(),
            manifest: manifest.display().to_string(),
        });
    }
    let dir = partition_dir(output, "city_daily", date);
    let batches = parquet_io::read_partition(&dir).map_err(|e| CompareError::Read {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut cities = Vec::new();
    for b in &batches {
        let s = |n| column::<StringArray>(b, n);
        let i = |n| column::<Int64Array>(b, n);
        let f = |n| column::<Float64Array>(b, n);
        let r = |n| column::<Int32Array>(b, n);
        let (province, code, name) = (s("province_code")?, s("city_code")?, s("city_name")?);
        let (expected, reported) = (i("districts_expected")?, i("districts_reported")?);
        let (et, er, emp, duty) = (
            i("enterprises_total")?,
            i("enterprises_resumed")?,
            i("employees_total")?,
            i("employees_on_duty")?,
        );
        let (rr, odr, cua, chg) = (
            f("resumption_rate")?,
            f("on_duty_rate")?,
            f("capacity_utilization_avg")?,
            f("resumption_rate_change")?,
        );
        let (rk1, rk2, rk3) = (
            r("resumption_rate_rank")?,
            r("on_duty_rate_rank")?,
            r("capacity_utilization_rank")?,
        );
        for row in 0..b.num_rows() {
            cities.push(CityAggregate {
                province_code: province.value(row).to_string(),
                city_code: code.value(row).to_string(),
                city_name: name.value(row).to_string(),
                districts_expected: expected.value(row),
                districts_reported: reported.value(row),
                enterprises_total: opt_i64(et, row),
                enterprises_resumed: opt_i64(er, row),
                resumption_rate: opt_f64(rr, row),
                employees_total: opt_i64(emp, row),
                employees_on_duty: opt_i64(duty, row),
                on_duty_rate: opt_f64(odr, row),
                capacity_utilization_avg: opt_f64(cua, row),
                resumption_rate_rank: opt_i32(rk1, row),
                on_duty_rate_rank: opt_i32(rk2, row),
                capacity_utilization_rank: opt_i32(rk3, row),
                resumption_rate_change: opt_f64(chg, row),
            });
        }
    }
    cities.sort_by(|a, b| a.city_code.cmp(&b.city_code));
    Ok(cities)
}

fn percent(v: Option<f64>) -> String {
    v.map(|x| format!("{:.2}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn points(v: Option<f64>) -> String {
    v.map(|x| format!("{:+.2}", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn count(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "—".into())
}

/// The provincial ranking as a table, best 开工率 first (unranked cities last).
pub fn render_ranking(cities: &[CityAggregate], date: NaiveDate) -> String {
    let mut sorted: Vec<&CityAggregate> = cities.iter().collect();
    sorted.sort_by_key(|c| {
        (
            c.resumption_rate_rank.unwrap_or(i32::MAX),
            c.city_code.clone(),
        )
    });
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(vec![
        "开工率排名",
        "城市",
        "开工率",
        "较上期(百分点)",
        "上岗率",
        "上岗率排名",
        "达产率",
        "达产率排名",
        "企业数",
        "已开工",
        "职工总数",
        "上岗人数",
        "报送区县",
    ]);
    for c in sorted {
        table.add_row(vec![
            c.resumption_rate_rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "—".into()),
            c.city_name.clone(),
            percent(c.resumption_rate),
            points(c.resumption_rate_change),
            percent(c.on_duty_rate),
            c.on_duty_rate_rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "—".into()),
            percent(c.capacity_utilization_avg),
            c.capacity_utilization_rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "—".into()),
            count(c.enterprises_total),
            count(c.enterprises_resumed),
            count(c.employees_total),
            count(c.employees_on_duty),
            format!("{}/{}", c.districts_reported, c.districts_expected),
        ]);
    }
    for i in [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let headline = headline(cities);
    format!("{date} 规上工业企业复工复产全省比较\n{table}\n{headline}")
}

/// "济南市规上工业企业开工率98.78%，上岗率75.40%，居全省首位" for every city ranked first.
pub fn headline(cities: &[CityAggregate]) -> String {
    let firsts: Vec<String> = cities
        .iter()
        .filter(|c| c.resumption_rate_rank == Some(1))
        .map(|c| {
            format!(
                "{}规上工业企业开工率{}，上岗率{}，居全省首位",
                c.city_name,
                percent(c.resumption_rate),
                percent(c.on_duty_rate)
            )
        })
        .collect();
    if firsts.is_empty() {
        "没有可排名的城市（没有城市报送有效数据）".into()
    } else {
        firsts.join("；") + "。"
    }
}
