//! `fugong compare --xlsx FILE`: the provincial ranking as the department circulates it — a titled,
//! bordered sheet with the headline, rates as percentages (exact values, shown to two decimals), ranks,
//! and the counts behind them.

use std::path::Path;

use chrono::NaiveDate;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use crate::compare::CityAggregate;
use crate::compare::table::headline;

/// The columns: header, width.
const COLUMNS: [(&str, f64); 13] = [
    ("开工率排名", 10.0),
    ("城市", 12.0),
    ("开工率", 10.0),
    ("较上期(百分点)", 14.0),
    ("上岗率", 10.0),
    ("上岗率排名", 10.0),
    ("达产率", 10.0),
    ("达产率排名", 10.0),
    ("企业数", 10.0),
    ("已开工", 10.0),
    ("职工总数", 12.0),
    ("上岗人数", 12.0),
    ("报送区县", 10.0),
];

/// Write the ranking of `date` to `path` (best 开工率 first, unranked cities last).
pub fn write(path: &Path, cities: &[CityAggregate], date: NaiveDate) -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let note = Format::new().set_text_wrap();
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDCE6F1))
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let percent = cell.clone().set_num_format("0.00%");
    let points = cell.clone().set_num_format("+0.00;-0.00;0.00");
    let count = cell.clone().set_num_format("#,##0");
    let ws = wb.add_worksheet().set_name("开工率排名")?;
    let last = (COLUMNS.len() - 1) as u16;
    ws.merge_range(
        0,
        0,
        0,
        last,
        &format!("{date} 全省规模以上工业企业复工复产情况（按城市）"),
        &title,
    )?;
    ws.merge_range(1, 0, 1, last, &headline(cities), &note)?;
    ws.set_row_height(1, 32)?;
    for (c, (name, width)) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *name, &header)?;
        ws.set_column_width(c as u16, *width)?;
    }
    let mut sorted: Vec<&CityAggregate> = cities.iter().collect();
    sorted.sort_by_key(|c| {
        (
            c.resumption_rate_rank.unwrap_or(i32::MAX),
            c.city_code.clone(),
        )
    });
    for (i, c) in sorted.iter().enumerate() {
        let r = 3 + i as u32;
        let opt_num = |v: Option<f64>| v;
        let cells: [(Option<f64>, &Format); 13] = [
            (c.resumption_rate_rank.map(f64::from), &cell),
            (None, &cell),
            (opt_num(c.resumption_rate), &percent),
            (c.resumption_rate_change.map(|v| v * 100.0), &points),
            (c.on_duty_rate, &percent),
            (c.on_duty_rate_rank.map(f64::from), &cell),
            (c.capacity_utilization_avg, &percent),
            (c.capacity_utilization_rank.map(f64::from), &cell),
            (c.enterprises_total.map(|v| v as f64), &count),
            (c.enterprises_resumed.map(|v| v as f64), &count),
            (c.employees_total.map(|v| v as f64), &count),
            (c.employees_on_duty.map(|v| v as f64), &count),
            (Some(c.districts_reported as f64), &cell),
        ];
        for (col, (value, format)) in cells.iter().enumerate() {
            match (col, value) {
                (1, _) => {
                    ws.write_string_with_format(r, 1, &c.city_name, &cell)?;
                }
                (_, Some(v)) => {
                    ws.write_number_with_format(r, col as u16, *v, format)?;
                }
                (_, None) => {
                    ws.write_string_with_format(r, col as u16, "—", &cell)?;
                }
            }
        }
    }
    ws.set_freeze_panes(3, 0)?;
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new().set_title(format!("{date} 开工率排名")),
    );
    wb.save(path)
}
