//! The comparison's tables: `district_daily` and `city_daily` written from the aggregates (columns by
//! name, in `records`' schemas), `city_daily` read back from a published date, and the provincial ranking
//! as `fugong compare` prints it.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::error::ArrowError;
use chrono::NaiveDate;
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::{
    CityAggregate, Comparison, DistrictAggregate, ProvinceTotal, Tally, city_on_duty,
    city_resumption, display,
};
use crate::publish::Warehouse;
use crate::records::{batch_by_name, city_daily_schema, date_column, district_daily_schema};

/// `district_daily` of one date, in district-code order.
pub fn district_daily_batch(
    comparison: &Comparison,
    date: NaiveDate,
) -> Result<RecordBatch, ArrowError> {
    let mut districts: Vec<&DistrictAggregate> = comparison.districts.iter().collect();
    districts.sort_by(|a, b| a.district.code.cmp(&b.district.code));
    let text = |get: &dyn Fn(&DistrictAggregate) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            districts.iter().map(|d| get(d)),
        ))
    };
    let count = |get: &dyn Fn(&Tally) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            districts.iter().map(|d| d.tally.as_ref().map(get)),
        ))
    };
    let rate = |get: &dyn Fn(&Tally) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            districts.iter().map(|d| d.tally.as_ref().and_then(get)),
        ))
    };
    batch_by_name(
        district_daily_schema(),
        vec![
            ("report_date", date_column(date, districts.len())),
            ("province_code", text(&|d| &d.district.province_code)),
            ("city_code", text(&|d| &d.district.city_code)),
            ("city_name", text(&|d| &d.district.city_name)),
            ("district_code", text(&|d| &d.district.code)),
            ("district_name", text(&|d| &d.district.name)),
            ("submission_status", text(&|d| d.status.as_str())),
            ("enterprises_total", count(&|t| t.enterprises_total)),
            ("enterprises_resumed", count(&|t| t.enterprises_resumed)),
            ("resumption_rate", rate(&|t| t.resumption_rate())),
            ("employees_total", count(&|t| t.employees_total)),
            ("employees_on_duty", count(&|t| t.employees_on_duty)),
            ("on_duty_rate", rate(&|t| t.on_duty_rate())),
            (
                "capacity_utilization_avg",
                rate(&|t| t.capacity_utilization_avg()),
            ),
            (
                "rows_rejected",
                Arc::new(Int64Array::from_iter_values(
                    districts.iter().map(|d| d.rows_rejected),
                )),
            ),
            (
                "warnings",
                Arc::new(Int64Array::from_iter_values(
                    districts.iter().map(|d| d.warnings),
                )),
            ),
            (
                "submitted_at",
                Arc::new(
                    arrow::array::TimestampMicrosecondArray::from_iter(
                        districts
                            .iter()
                            .map(|d| d.submitted_at.map(|t| t.timestamp_micros())),
                    )
                    .with_timezone("UTC"),
                ),
            ),
            (
                "on_time",
                Arc::new(arrow::array::BooleanArray::from_iter(
                    districts.iter().map(|d| d.on_time),
                )),
            ),
        ],
    )
}

/// `city_daily` of one date from its city aggregates (in the order given: city-code order).
pub fn city_daily_batch(
    cities: &[CityAggregate],
    date: NaiveDate,
) -> Result<RecordBatch, ArrowError> {
    let text = |get: &dyn Fn(&CityAggregate) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(cities.iter().map(get)))
    };
    let count = |get: &dyn Fn(&CityAggregate) -> Option<i64>| -> ArrayRef {
        Arc::new(Int64Array::from_iter(cities.iter().map(get)))
    };
    let rate = |get: &dyn Fn(&CityAggregate) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(cities.iter().map(get)))
    };
    let rank = |get: &dyn Fn(&CityAggregate) -> Option<i32>| -> ArrayRef {
        Arc::new(Int32Array::from_iter(cities.iter().map(get)))
    };
    batch_by_name(
        city_daily_schema(),
        vec![
            ("report_date", date_column(date, cities.len())),
            ("province_code", text(&|c| &c.province_code)),
            ("city_code", text(&|c| &c.city_code)),
            ("city_name", text(&|c| &c.city_name)),
            ("districts_expected", count(&|c| Some(c.districts_expected))),
            ("districts_reported", count(&|c| Some(c.districts_reported))),
            ("districts_on_time", count(&|c| c.districts_on_time)),
            ("enterprises_total", count(&|c| c.enterprises_total)),
            ("enterprises_resumed", count(&|c| c.enterprises_resumed)),
            ("resumption_rate", rate(&|c| c.resumption_rate)),
            ("employees_total", count(&|c| c.employees_total)),
            ("employees_on_duty", count(&|c| c.employees_on_duty)),
            ("on_duty_rate", rate(&|c| c.on_duty_rate)),
            (
                "capacity_utilization_avg",
                rate(&|c| c.capacity_utilization_avg),
            ),
            ("resumption_rate_rank", rank(&|c| c.resumption_rate_rank)),
            ("on_duty_rate_rank", rank(&|c| c.on_duty_rate_rank)),
            (
                "capacity_utilization_rank",
                rank(&|c| c.capacity_utilization_rank),
            ),
            (
                "resumption_rate_change",
                rate(&|c| c.resumption_rate_change),
            ),
            (
                "mask_daily_capacity_total",
                count(&|c| c.mask_daily_capacity_total),
            ),
            (
                "enterprises_with_financing_need",
                count(&|c| c.enterprises_with_financing_need),
            ),
            (
                "financing_need_cny_total",
                Arc::new(
                    Decimal128Array::from_iter(
                        cities
                            .iter()
                            .map(|c| c.financing_need_fen_total.map(i128::from)),
                    )
                    .with_precision_and_scale(18, 2)?,
                ),
            ),
        ],
    )
}

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
    #[error("a published table does not have the columns this fugong reads: {0}")]
    Column(#[from] crate::records::ColumnError),
}

fn column<'a, T: Array + 'static>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a T, CompareError> {
    Ok(crate::records::column(batch, name)?)
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

/// A table of a published date (an error that says so when the date is not published).
pub fn read_published(
    warehouse: &dyn Warehouse,
    table: &str,
    date: NaiveDate,
) -> Result<Vec<RecordBatch>, CompareError> {
    let read_err = |e: crate::publish::PublishError| CompareError::Read {
        path: format!("{}/{table}", warehouse.location()),
        message: e.to_string(),
    };
    if warehouse.manifest(date).map_err(read_err)?.is_none() {
        return Err(CompareError::NotPublished {
            date,
            output: warehouse.location(),
            manifest: format!("_manifests/{date}.json"),
        });
    }
    warehouse.read_table(table, date).map_err(read_err)
}

/// The province as one more row beside its cities (`全省`, its code in `city_code`): the cities' counts
/// summed and every rate pooled from them as the cities' are from their districts (Σ numerators / Σ
/// denominators); the 达产率 pooled over the date's resumed enterprises (employees-weighted, read from
/// `enterprise_daily`, since `city_daily` keeps no weights); the 开工率 change against the previous
/// published date's province. Ranks are null: the province is not ranked.
pub fn province_aggregate(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
    cities: &[CityAggregate],
) -> Result<CityAggregate, CompareError> {
    let p = ProvinceTotal::of(cities);
    let capacity = province_capacity(warehouse, date)?;
    let previous = warehouse
        .published_before(date)
        .ok()
        .flatten()
        .and_then(|d| read_cities(warehouse, d).ok())
        .map(|c| ProvinceTotal::of(&c).resumption());
    let province_code = cities
        .first()
        .map(|c| c.province_code.clone())
        .unwrap_or_default();
    Ok(CityAggregate {
        city_code: province_code.clone(),
        province_code,
        city_name: "全省".into(),
        districts_expected: p.districts_expected,
        districts_reported: p.districts_reported,
        enterprises_total: Some(p.enterprises_total),
        enterprises_resumed: Some(p.enterprises_resumed),
        resumption_rate: p.resumption().map(crate::tally::Fraction::value),
        employees_total: Some(p.employees_total),
        employees_on_duty: Some(p.employees_on_duty),
        on_duty_rate: p.on_duty().map(crate::tally::Fraction::value),
        capacity_utilization_avg: capacity,
        resumption_rate_rank: None,
        on_duty_rate_rank: None,
        capacity_utilization_rank: None,
        resumption_rate_change: super::resumption_change(p.resumption(), previous.as_ref()),
        mask_daily_capacity_total: Some(p.mask_daily_capacity_total),
        enterprises_with_financing_need: Some(p.enterprises_with_financing_need),
        financing_need_fen_total: Some(p.financing_need_fen_total),
        districts_on_time: p.districts_on_time,
    })
}

/// The province's 达产率, pooled exactly like a city's: employees-weighted over the date's resumed
/// enterprises that report it (three projected columns of `enterprise_daily`; `city_daily` keeps no
/// weights).
pub fn province_capacity(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
) -> Result<Option<f64>, CompareError> {
    let read_err = |e: crate::publish::PublishError| CompareError::Read {
        path: format!("{}/enterprise_daily", warehouse.location()),
        message: e.to_string(),
    };
    let mut capacity = Tally::default();
    let columns = ["resumed", "employees_total", "capacity_utilization"];
    for b in warehouse
        .read_columns("enterprise_daily", date, &columns)
        .map_err(read_err)?
    {
        let resumed = column::<arrow::array::BooleanArray>(&b, "resumed")?;
        let employees = column::<Int64Array>(&b, "employees_total")?;
        let ratio = column::<Float64Array>(&b, "capacity_utilization")?;
        for i in 0..b.num_rows() {
            if resumed.is_valid(i) && resumed.value(i) && ratio.is_valid(i) && employees.is_valid(i)
            {
                capacity.capacity_weighted += ratio.value(i) * employees.value(i) as f64;
                capacity.capacity_weight += employees.value(i);
            }
        }
    }
    Ok(capacity.capacity_utilization_avg())
}

/// Yuan with exactly two decimals, from fen: 116 100 000 000 fen → "1161000000.00" (as `city_daily`'s
/// decimal(18,2) holds it; never through a float).
pub fn yuan_exact(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// The cities of a published date, in city-code order.
pub fn read_cities(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
) -> Result<Vec<CityAggregate>, CompareError> {
    cities_of_batches(&read_published(warehouse, "city_daily", date)?)
}

/// The cities of `city_daily` batches (a live partition, or a kept version's).
pub fn cities_of_batches(batches: &[RecordBatch]) -> Result<Vec<CityAggregate>, CompareError> {
    let mut cities = Vec::new();
    for b in batches {
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
        // Supply figures: absent from dates published before they existed (read as null).
        let optional = |n: &'static str| {
            b.column_by_name(n)
                .is_some()
                .then(|| column::<Int64Array>(b, n))
                .transpose()
        };
        let (masks, financing_n) = (
            optional("mask_daily_capacity_total")?,
            optional("enterprises_with_financing_need")?,
        );
        let on_time = optional("districts_on_time")?;
        let financing = match b.column_by_name("financing_need_cny_total") {
            Some(_) => Some(column::<Decimal128Array>(b, "financing_need_cny_total")?),
            None => None,
        };
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
                mask_daily_capacity_total: masks.and_then(|a| opt_i64(a, row)),
                enterprises_with_financing_need: financing_n.and_then(|a| opt_i64(a, row)),
                financing_need_fen_total: financing
                    .and_then(|a| a.is_valid(row).then(|| a.value(row)))
                    .and_then(|v| i64::try_from(v).ok()),
                districts_on_time: on_time.and_then(|a| opt_i64(a, row)),
            });
        }
    }
    cities.sort_by(|a, b| a.city_code.cmp(&b.city_code));
    Ok(cities)
}

fn count(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "—".into())
}

fn rank_text(v: Option<i32>) -> String {
    v.map(|r| r.to_string()).unwrap_or_else(|| "—".into())
}

/// The three rates of a city as a person sees them: 开工率, 上岗率, 达产率.
pub fn shown_rates(c: &CityAggregate) -> [String; 3] {
    [
        display::percent_exact_or(city_resumption(c), c.resumption_rate),
        display::percent_exact_or(city_on_duty(c), c.on_duty_rate),
        display::percent(c.capacity_utilization_avg),
    ]
}

/// Cities whose displayed 开工率 equals that of a city of another rank: the figures look the same but
/// the exact fractions differ (contract §7: the display says so).
pub fn look_alike(cities: &[CityAggregate]) -> Vec<&CityAggregate> {
    cities
        .iter()
        .filter(|c| {
            let mine = display::shown(city_resumption(c), c.resumption_rate);
            mine.is_some()
                && cities.iter().any(|o| {
                    o.resumption_rate_rank != c.resumption_rate_rank
                        && display::shown(city_resumption(o), o.resumption_rate) == mine
                })
        })
        .collect()
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
    let alike: Vec<&str> = look_alike(cities)
        .iter()
        .map(|c| c.city_code.as_str())
        .collect();
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
        "口罩日产能",
        "有融资需求企业",
        "融资需求",
    ]);
    for c in sorted {
        let [resumption, on_duty, capacity] = shown_rates(c);
        let mark = if alike.contains(&c.city_code.as_str()) {
            "*"
        } else {
            ""
        };
        table.add_row(vec![
            rank_text(c.resumption_rate_rank),
            c.city_name.clone(),
            format!("{resumption}{mark}"),
            display::points(c.resumption_rate_change),
            on_duty,
            rank_text(c.on_duty_rate_rank),
            capacity,
            rank_text(c.capacity_utilization_rank),
            count(c.enterprises_total),
            count(c.enterprises_resumed),
            count(c.employees_total),
            count(c.employees_on_duty),
            format!("{}/{}", c.districts_reported, c.districts_expected),
            display::masks(c.mask_daily_capacity_total),
            count(c.enterprises_with_financing_need),
            display::yuan_large(c.financing_need_fen_total),
        ]);
    }
    let p = ProvinceTotal::of(cities);
    table.add_row(vec![
        String::new(),
        "全省".into(),
        p.resumption()
            .map(display::percent_of)
            .unwrap_or_else(|| "—".into()),
        String::new(),
        p.on_duty()
            .map(display::percent_of)
            .unwrap_or_else(|| "—".into()),
        String::new(),
        String::new(),
        String::new(),
        p.enterprises_total.to_string(),
        p.enterprises_resumed.to_string(),
        p.employees_total.to_string(),
        p.employees_on_duty.to_string(),
        format!("{}/{}", p.districts_reported, p.districts_expected),
        display::masks(Some(p.mask_daily_capacity_total)),
        p.enterprises_with_financing_need.to_string(),
        display::yuan_large(Some(p.financing_need_fen_total)),
    ]);
    for i in [0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let headline = headline(cities);
    let note = if alike.is_empty() {
        String::new()
    } else {
        "\n* 显示的开工率相同但精确比值不同，排名按精确比值（企业数之比）".to_string()
    };
    format!("{date} 规上工业企业复工复产全省比较\n{table}\n{headline}{note}")
}

/// The headline sentence: "济南市规上工业企业开工率98.78%，上岗率75.40%，居全省首位。" When several cities
/// share rank 1 it says 并列; when the runner-up shows the same figure without sharing the rank, it says
/// that the figures only look equal.
pub fn headline(cities: &[CityAggregate]) -> String {
    let firsts: Vec<&CityAggregate> = cities
        .iter()
        .filter(|c| c.resumption_rate_rank == Some(1))
        .collect();
    let Some(first) = firsts.first() else {
        return "没有可排名的城市（没有城市报送有效数据）".into();
    };
    let [resumption, _, _] = shown_rates(first);
    let mut text = if firsts.len() == 1 {
        let [_, on_duty, _] = shown_rates(first);
        format!(
            "{}规上工业企业开工率{resumption}，上岗率{on_duty}，居全省首位",
            first.city_name
        )
    } else {
        let names: Vec<&str> = firsts.iter().map(|c| c.city_name.as_str()).collect();
        let on_duty: Vec<String> = firsts.iter().map(|c| shown_rates(c)[1].clone()).collect();
        format!(
            "{}规上工业企业开工率均为{resumption}，并列全省首位（上岗率分别为{}）",
            names.join("、"),
            on_duty.join("、")
        )
    };
    let shown_first = display::shown(city_resumption(first), first.resumption_rate);
    let close: Vec<String> = cities
        .iter()
        .filter(|c| {
            c.resumption_rate_rank.is_some_and(|r| r > 1)
                && display::shown(city_resumption(c), c.resumption_rate) == shown_first
        })
        .map(|c| {
            format!(
                "{}显示值同为{resumption}，但精确比值略低，居第{}位",
                c.city_name,
                c.resumption_rate_rank.unwrap_or_default()
            )
        })
        .collect();
    if !close.is_empty() {
        text.push_str(&format!("（{}）", close.join("；")));
    }
    text.push('。');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city(code: &str, name: &str, resumed: i64, total: i64) -> CityAggregate {
        CityAggregate {
            province_code: "370000".into(),
            city_code: code.into(),
            city_name: name.into(),
            districts_expected: 1,
            districts_reported: 1,
            enterprises_total: Some(total),
            enterprises_resumed: Some(resumed),
            resumption_rate: Some(resumed as f64 / total as f64),
            employees_total: Some(100),
            employees_on_duty: Some(75),
            on_duty_rate: Some(0.75),
            capacity_utilization_avg: None,
            resumption_rate_rank: None,
            on_duty_rate_rank: None,
            capacity_utilization_rank: None,
            resumption_rate_change: None,
            mask_daily_capacity_total: None,
            enterprises_with_financing_need: None,
            financing_need_fen_total: None,
            districts_on_time: None,
        }
    }

    #[test]
    fn equal_fractions_share_rank_one_and_the_headline_says_bing_lie() {
        let mut cities = vec![
            city("370100", "济南市", 2, 4),
            city("370200", "青岛市", 1, 2),
            city("370300", "淄博市", 1, 3),
        ];
        crate::compare::rank(&mut cities);
        assert_eq!(cities[0].resumption_rate_rank, Some(1));
        assert_eq!(cities[1].resumption_rate_rank, Some(1));
        assert_eq!(cities[2].resumption_rate_rank, Some(3));
        let h = headline(&cities);
        assert!(
            h.starts_with("济南市、青岛市规上工业企业开工率均为50.00%，并列全省首位"),
            "{h}"
        );
    }

    #[test]
    fn different_ranks_that_display_alike_are_flagged_not_tied() {
        // 200010/300021 = 66.6653 % and 200011/300021 = 66.6656 % both show 66.67 %.
        let mut cities = vec![
            city("370100", "济南市", 200_010, 300_021),
            city("370200", "青岛市", 200_011, 300_021),
        ];
        crate::compare::rank(&mut cities);
        assert_eq!(cities[1].resumption_rate_rank, Some(1));
        assert_eq!(cities[0].resumption_rate_rank, Some(2));
        let h = headline(&cities);
        assert!(!h.contains("并列"), "{h}");
        assert!(
            h.contains("青岛市规上工业企业开工率66.67%") && h.contains("济南市显示值同为66.67%"),
            "{h}"
        );
        let text = render_ranking(&cities, NaiveDate::default());
        assert!(
            text.contains("66.67%*") && text.contains("精确比值"),
            "{text}"
        );
        assert_eq!(look_alike(&cities).len(), 2);
    }
}
