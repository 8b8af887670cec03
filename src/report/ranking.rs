//! `fugong compare --xlsx FILE`: the provincial ranking as the department circulates it — a titled,
//! bordered sheet with the headline, rates as percentages (exact values, shown to two decimals), ranks,
//! and the counts behind them.

use std::path::Path;

use chrono::NaiveDate;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use crate::compare::CityAggregate;
use crate::compare::table::headline;

/// The columns: header, width (every column the terminal's ranking shows).
const COLUMNS: [(&str, f64); 16] = [
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
    ("口罩日产能(万只)", 16.0),
    ("有融资需求企业", 14.0),
    ("融资需求(亿元)", 14.0),
];

/// One cell of a row: a number with its format, text, or nothing ("—").
enum Cell<'f> {
    Number(f64, &'f Format),
    Text(String),
    None,
}

/// Write the ranking of `date` to `path` (best 开工率 first, unranked cities last), then the 全省 row.
pub fn write(
    path: &Path,
    cities: &[CityAggregate],
    province: &CityAggregate,
    date: NaiveDate,
) -> Result<(), XlsxError> {
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
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    let bold = cell.clone().set_bold();
    let text = cell.clone().set_align(FormatAlign::Right);
    let percent = cell.clone().set_num_format("0.00%");
    let points = cell.clone().set_num_format("+0.00;-0.00;0.00");
    let count = cell.clone().set_num_format("#,##0");
    let tenths = cell.clone().set_num_format("#,##0.0");
    let hundredths = cell.clone().set_num_format("#,##0.00");
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
    let number = |v: Option<f64>, f| v.map_or(Cell::None, |v| Cell::Number(v, f));
    for (i, c) in sorted.iter().copied().chain([province]).enumerate() {
        let r = 3 + i as u32;
        let cells: [Cell; 16] = [
            number(c.resumption_rate_rank.map(f64::from), &cell),
            Cell::Text(c.city_name.clone()),
            number(c.resumption_rate, &percent),
            number(c.resumption_rate_change.map(|v| v * 100.0), &points),
            number(c.on_duty_rate, &percent),
            number(c.on_duty_rate_rank.map(f64::from), &cell),
            number(c.capacity_utilization_avg, &percent),
            number(c.capacity_utilization_rank.map(f64::from), &cell),
            number(c.enterprises_total.map(|v| v as f64), &count),
            number(c.enterprises_resumed.map(|v| v as f64), &count),
            number(c.employees_total.map(|v| v as f64), &count),
            number(c.employees_on_duty.map(|v| v as f64), &count),
            Cell::Text(format!("{}/{}", c.districts_reported, c.districts_expected)),
            number(
                c.mask_daily_capacity_total.map(|v| v as f64 / 10_000.0),
                &tenths,
            ),
            number(c.enterprises_with_financing_need.map(|v| v as f64), &count),
            number(
                c.financing_need_fen_total
                    .map(|f| f as f64 / 10_000_000_000.0),
                &hundredths,
            ),
        ];
        let is_province = std::ptr::eq(c, province);
        for (col, value) in cells.iter().enumerate() {
            let col = col as u16;
            match value {
                Cell::Text(t) if col == 1 => {
                    ws.write_string_with_format(
                        r,
                        col,
                        t,
                        if is_province { &bold } else { &cell },
                    )?;
                }
                Cell::Text(t) => {
                    ws.write_string_with_format(r, col, t, &text)?;
                }
                Cell::Number(v, format) => {
                    ws.write_number_with_format(r, col, *v, format)?;
                }
                Cell::None if is_province && matches!(col, 0 | 5 | 7) => {
                    ws.write_blank(r, col, &cell)?;
                }
                Cell::None => {
                    ws.write_string_with_format(r, col, "—", &text)?;
                }
            }
        }
    }
    ws.set_freeze_panes(3, 2)?;
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new().set_title(format!("{date} 开工率排名")),
    );
    wb.save(path)
}
