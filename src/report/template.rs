//! The day's template for a district (contract §13): the schema's header block (title, 填报单位 = the
//! district's name, 填报日期 = the date, the two-row header with the group header over 职工总数 and
//! 上岗人数), one row per enterprise of the district's last published date before it with the credit
//! code, name and industry filled in, the rest empty; data validation on every field with a rule (是/否
//! list, whole numbers ≥ 0, 0–150 %, dates, 18-character codes); the header rows protected; a second
//! sheet 填报说明 with each field's rule. A filled template is read back exactly as typed.

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationRule, ExcelDateTime, Format, FormatAlign, FormatBorder,
    ProtectionOptions, Workbook, XlsxError,
};

use crate::compare::table::CompareError;
use crate::config::schema::{Field, FieldType};
use crate::config::{District, Job, Schema};
use crate::publish::Warehouse;

/// An enterprise carried into the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRow {
    pub uscc: String,
    pub enterprise_name: String,
    pub industry: Option<String>,
}

/// Blank rows under the carried ones, validated like them.
pub const SPARE_ROWS: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Read(#[from] CompareError),
    #[error("cannot make the template: {0}")]
    Xlsx(#[from] XlsxError),
}

/// The district's enterprises on its last published date before `date` (in their sheet order), and
/// that date; none when there is no earlier date or the district had no rows.
pub fn previous_rows(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
    district_code: &str,
) -> Result<(Option<NaiveDate>, Vec<TemplateRow>), CompareError> {
    use arrow::array::{Array, Int32Array, StringArray};
    let read_err = |e: crate::publish::PublishError| CompareError::Read {
        path: format!("{}/enterprise_daily", warehouse.location()),
        message: e.to_string(),
    };
    let Some(before) = warehouse.published_before(date).map_err(read_err)? else {
        return Ok((None, Vec::new()));
    };
    let columns = [
        "district_code",
        "uscc",
        "enterprise_name",
        "industry",
        "source_row",
    ];
    let mut rows: Vec<(i32, TemplateRow)> = Vec::new();
    for b in warehouse
        .read_columns("enterprise_daily", before, &columns)
        .map_err(read_err)?
    {
        let district = crate::records::column::<StringArray>(&b, "district_code")?;
        let uscc = crate::records::column::<StringArray>(&b, "uscc")?;
        let name = crate::records::column::<StringArray>(&b, "enterprise_name")?;
        let industry = crate::records::column::<StringArray>(&b, "industry").ok();
        let row = crate::records::column::<Int32Array>(&b, "source_row")?;
        for i in 0..b.num_rows() {
            if district.value(i) != district_code {
                continue;
            }
            rows.push((
                row.value(i),
                TemplateRow {
                    uscc: uscc.value(i).to_string(),
                    enterprise_name: name.value(i).to_string(),
                    industry: industry
                        .filter(|a| a.is_valid(i))
                        .map(|a| a.value(i).to_string()),
                },
            ));
        }
    }
    rows.sort_by_key(|(r, _)| *r);
    Ok((Some(before), rows.into_iter().map(|(_, r)| r).collect()))
}

/// A field's column header in the template: its first alias, with the unit the reader understands.
pub fn header_of(field: &Field) -> String {
    let name = field
        .aliases
        .first()
        .cloned()
        .unwrap_or_else(|| field.label.clone());
    let unit = match (field.field_type, field.name.as_str()) {
        (FieldType::Ratio, _) => "(%)",
        (FieldType::Money, _) => match field.unit {
            crate::config::schema::MoneyUnit::Yuan => "(元)",
            crate::config::schema::MoneyUnit::TenThousandYuan => "(万元)",
            crate::config::schema::MoneyUnit::HundredMillionYuan => "(亿元)",
        },
        (FieldType::Int, n) if n.starts_with("employees") => "(人)",
        (FieldType::Int, n) if n.starts_with("mask") => "(只)",
        _ => "",
    };
    format!("{name}{unit}")
}

/// What a field takes, in the clerk's words (the 填报说明 sheet and the cells' input messages).
fn rule_of(field: &Field, date: NaiveDate) -> String {
    let base = match field.field_type {
        FieldType::Uscc => "18 位统一社会信用代码（数字和大写字母）".to_string(),
        FieldType::Text => "文字".to_string(),
        FieldType::Bool => "从下拉列表选择“是”或“否”".to_string(),
        FieldType::Date => format!("日期，不晚于 {date}（如 {date}）"),
        FieldType::Int => "不小于 0 的整数".to_string(),
        FieldType::Ratio => "百分数，0 到 150 之间（如 85 表示 85%）".to_string(),
        FieldType::Money => "不小于 0 的金额".to_string(),
    };
    let mut rule = base;
    if field.only_when_true.is_some() {
        rule.push_str("；未开工的企业不填");
    }
    if field.personal {
        rule.push_str("；仅供联系，不进入汇总数据");
    }
    rule
}

/// The validation of a field's cells, when it has a rule.
fn validation_of(field: &Field, date: NaiveDate) -> Result<Option<DataValidation>, XlsxError> {
    let dv = match field.field_type {
        FieldType::Bool => DataValidation::new().allow_list_strings(&["是", "否"])?,
        FieldType::Int => {
            DataValidation::new().allow_whole_number(DataValidationRule::GreaterThanOrEqualTo(0))
        }
        FieldType::Ratio => {
            DataValidation::new().allow_decimal_number(DataValidationRule::Between(0.0, 150.0))
        }
        FieldType::Money => DataValidation::new()
            .allow_decimal_number(DataValidationRule::GreaterThanOrEqualTo(0.0)),
        FieldType::Date => {
            let first = ExcelDateTime::from_ymd(2000, 1, 1)?;
            let last = ExcelDateTime::from_ymd(
                u16::try_from(date.year()).unwrap_or(2100),
                u8::try_from(date.month()).unwrap_or(12),
                u8::try_from(date.day()).unwrap_or(31),
            )?;
            DataValidation::new().allow_date(DataValidationRule::Between(first, last))
        }
        FieldType::Uscc => DataValidation::new().allow_text_length(DataValidationRule::EqualTo(18)),
        FieldType::Text => return Ok(None),
    };
    let dv = dv
        .set_input_title(field.label.as_str())?
        .set_input_message(rule_of(field, date))?
        .set_error_title("填写有误")?
        .set_error_message(format!("{}：{}", field.label, rule_of(field, date)))?;
    Ok(Some(dv))
}

/// Build the template workbook's bytes.
pub fn build(
    schema: &Schema,
    district: &District,
    date: NaiveDate,
    rows: &[TemplateRow],
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let header = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xDCE6F1))
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    let unlocked = Format::new().set_unlocked().set_border(FormatBorder::Thin);
    let unlocked_text = unlocked.clone().set_num_format("@");
    let unlocked_date = unlocked.clone().set_num_format("yyyy-mm-dd");
    let fields: Vec<&Field> = schema.fields.iter().collect();
    let employees = (
        schema.field_index("employees_total"),
        schema.field_index("employees_on_duty"),
    );
    let grouped = |i: usize| employees.0 == Some(i) || employees.1 == Some(i);
    let group = match (employees, &schema.group_header) {
        ((Some(a), Some(b)), Some(g)) if b == a + 1 => Some((a, g.clone())),
        _ => None,
    };
    let last_col = fields.len() as u16;
    let data_start: u32 = 4;
    let ws = wb.add_worksheet().set_name("复工日报")?;
    ws.merge_range(
        0,
        0,
        0,
        last_col,
        &format!("{}{}", district.name, schema.title),
        &title,
    )?;
    ws.set_row_height(0, 30)?;
    let unit_label = schema
        .unit_labels
        .first()
        .map(String::as_str)
        .unwrap_or("填报单位");
    let date_label = schema
        .date_labels
        .first()
        .map(String::as_str)
        .unwrap_or("填报日期");
    ws.write_string(
        1,
        0,
        format!("{unit_label}：{}工业和信息化局", district.name),
    )?;
    ws.write_string(
        1,
        last_col.saturating_sub(2),
        format!(
            "{date_label}：{}年{}月{}日",
            date.year(),
            date.month(),
            date.day()
        ),
    )?;
    // The two header rows: 序号, then the fields; the group header over the two employee columns.
    ws.merge_range(2, 0, 3, 0, "序号", &header)?;
    ws.set_column_width(0, 6)?;
    for (i, f) in fields.iter().enumerate() {
        let col = i as u16 + 1;
        let text = header_of(f);
        match &group {
            Some((first, g)) if grouped(i) => {
                if i == *first {
                    ws.merge_range(2, col, 2, col + 1, g, &header)?;
                }
                ws.write_string_with_format(3, col, &text, &header)?;
            }
            _ => {
                ws.merge_range(2, col, 3, col, &text, &header)?;
            }
        }
        let width = match f.field_type {
            FieldType::Uscc => 22.0,
            FieldType::Text if f.name == "enterprise_name" => 28.0,
            FieldType::Text if f.name == "issues_text" => 36.0,
            FieldType::Text if f.name == "industry" => 20.0,
            FieldType::Date => 12.0,
            _ => 12.0,
        };
        ws.set_column_width(col, width)?;
        let format = match f.field_type {
            FieldType::Uscc | FieldType::Text => &unlocked_text,
            FieldType::Date => &unlocked_date,
            _ => &unlocked,
        };
        ws.set_column_format(col, format)?;
    }
    ws.set_column_format(0, &unlocked)?;
    ws.set_row_height(2, 22)?;
    ws.set_row_height(3, 22)?;
    // The carried enterprises.
    let col_of = |name: &str| schema.field_index(name).map(|i| i as u16 + 1);
    for (k, r) in rows.iter().enumerate() {
        let row = data_start + k as u32;
        ws.write_number_with_format(row, 0, (k + 1) as f64, &unlocked)?;
        if let Some(c) = col_of("uscc") {
            ws.write_string_with_format(row, c, &r.uscc, &unlocked_text)?;
        }
        if let Some(c) = col_of("enterprise_name") {
            ws.write_string_with_format(row, c, &r.enterprise_name, &unlocked_text)?;
        }
        if let (Some(c), Some(industry)) = (col_of("industry"), &r.industry) {
            ws.write_string_with_format(row, c, industry, &unlocked_text)?;
        }
    }
    let last_row = data_start + rows.len() as u32 + SPARE_ROWS - 1;
    for (i, f) in fields.iter().enumerate() {
        if let Some(dv) = validation_of(f, date)? {
            let col = i as u16 + 1;
            ws.add_data_validation(data_start, col, last_row, col, &dv)?;
        }
    }
    ws.set_freeze_panes(data_start, 3)?;
    // Printed on one page's width, landscape, the header repeated on every page.
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(2, 3)?;
    // The header rows are protected; the data cells are not, and rows may be added and removed.
    let options = ProtectionOptions {
        insert_rows: true,
        delete_rows: true,
        format_columns: true,
        format_rows: true,
        sort: true,
        ..ProtectionOptions::default()
    };
    ws.protect_with_options(&options);

    let notes = wb.add_worksheet().set_name("填报说明")?;
    notes.write_string_with_format(0, 0, "列名", &header)?;
    notes.write_string_with_format(0, 1, "是否必填", &header)?;
    notes.write_string_with_format(0, 2, "填写规则", &header)?;
    notes.write_string_with_format(0, 3, "也可写作", &header)?;
    notes.set_column_width(0, 20)?;
    notes.set_column_width(1, 10)?;
    notes.set_column_width(2, 60)?;
    notes.set_column_width(3, 36)?;
    for (i, f) in fields.iter().enumerate() {
        let r = i as u32 + 1;
        notes.write_string(r, 0, header_of(f))?;
        notes.write_string(r, 1, if f.required { "必填" } else { "选填" })?;
        notes.write_string(r, 2, rule_of(f, date))?;
        notes.write_string(
            r,
            3,
            f.aliases
                .iter()
                .skip(1)
                .cloned()
                .collect::<Vec<_>>()
                .join("、"),
        )?;
    }
    let r = fields.len() as u32 + 2;
    notes.write_string(
        r,
        0,
        format!(
            "请填写 {date} 当天的情况。已列出的企业来自上一次汇总；新增企业在下方空行补充，已不在统计范围的企业整行删除。表头不能修改；上传后页面会逐条列出需要修改的单元格。"
        ),
    )?;
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new()
            .set_title(format!("{}{} {date}", district.name, schema.title)),
    );
    wb.save_to_buffer()
}

/// A district's template for a date, from the job's warehouse: its file name and bytes.
pub fn template_for(
    job: &Job,
    warehouse: &dyn Warehouse,
    district: &District,
    date: NaiveDate,
) -> Result<(String, Vec<u8>), TemplateError> {
    let (_, rows) = previous_rows(warehouse, date, &district.code)?;
    let bytes = build(&job.schema, district, date, &rows)?;
    Ok((
        format!("{date}-{}-{}-日报模板.xlsx", district.code, district.name),
        bytes,
    ))
}
