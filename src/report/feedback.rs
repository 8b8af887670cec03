//! District feedback workbooks: for a published date, one `.xlsx` per district that has findings, in
//! Chinese, so the clerk fixes the spreadsheet and re-submits (the next run or lookback picks it up). A
//! summary sheet (status, rows accepted and rejected, warnings) and a findings sheet (cell, header as the
//! district wrote it, value found, what is expected, severity, the problem, the contract code), sorted by
//! row, with frozen headers, an autofilter and readable column widths. Read from the published `rejects`
//! and `district_daily` tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};
use chrono::NaiveDate;
use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, XlsxError};

use crate::compare::table::CompareError;
use crate::compare::table::read_published;
use crate::problems::ledger::Problem;
use crate::publish::Warehouse;

/// One finding as the feedback workbook lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRow {
    pub row: Option<i32>,
    pub cell: Option<String>,
    pub column: Option<String>,
    pub value: Option<String>,
    pub expected: Option<String>,
    pub severity: String,
    pub message: String,
    pub code: String,
}

/// A district's summary line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistrictSummary {
    pub city_name: String,
    pub district_name: String,
    pub status: String,
    pub rows_accepted: Option<i64>,
    pub rows_rejected: i64,
    pub warnings: i64,
    pub source_file: Option<String>,
    pub sheet: Option<String>,
    /// For a missing district: the path or URL that was looked for (from the manifest).
    pub looked_for: Option<String>,
    /// The first file-level error: why a whole submission was not taken.
    pub refused_because: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error(transparent)]
    Read(#[from] CompareError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: XlsxError },
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn col<'a, T: Array + 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T, CompareError> {
    Ok(crate::records::column(b, name)?)
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

fn read(
    output: &dyn Warehouse,
    table: &str,
    date: NaiveDate,
) -> Result<Vec<RecordBatch>, CompareError> {
    read_published(output, table, date)
}

/// Findings per district code.
pub type Findings = BTreeMap<String, Vec<FeedbackRow>>;
/// Summary per district code.
pub type Summaries = BTreeMap<String, DistrictSummary>;
/// district code → its open problems, oldest first.
pub type Ledgers = BTreeMap<String, Vec<Problem>>;

/// The open problems of the date's `problem_ledger` by district, oldest first (empty for a date
/// published before fugong kept a ledger).
pub fn load_ledgers(output: &dyn Warehouse, date: NaiveDate) -> Result<Ledgers, CompareError> {
    let ledger =
        crate::problems::published_ledger(output, date).map_err(|e| CompareError::Read {
            path: format!("{}/problem_ledger", output.location()),
            message: e.to_string(),
        })?;
    let mut out: Ledgers = BTreeMap::new();
    for p in ledger
        .unwrap_or_default()
        .into_iter()
        .filter(Problem::is_open)
    {
        out.entry(p.district.code.clone()).or_default().push(p);
    }
    for rows in out.values_mut() {
        rows.sort_by(|a, b| {
            (a.opened_on, &a.uscc, &a.category).cmp(&(b.opened_on, &b.uscc, &b.category))
        });
    }
    Ok(out)
}

/// Findings per district, sorted by row (file-level first), and each district's summary.
pub fn load(
    output: &dyn Warehouse,
    date: NaiveDate,
) -> Result<(Findings, Summaries), CompareError> {
    let mut summaries: BTreeMap<String, DistrictSummary> = BTreeMap::new();
    for b in read(output, "district_daily", date)? {
        let (code, city, name, status) = (
            col::<StringArray>(&b, "district_code")?,
            col::<StringArray>(&b, "city_name")?,
            col::<StringArray>(&b, "district_name")?,
            col::<StringArray>(&b, "submission_status")?,
        );
        let (total, rejected, warnings) = (
            col::<Int64Array>(&b, "enterprises_total")?,
            col::<Int64Array>(&b, "rows_rejected")?,
            col::<Int64Array>(&b, "warnings")?,
        );
        for i in 0..b.num_rows() {
            summaries.insert(
                code.value(i).to_string(),
                DistrictSummary {
                    city_name: city.value(i).into(),
                    district_name: name.value(i).into(),
                    status: status.value(i).into(),
                    rows_accepted: total.is_valid(i).then(|| total.value(i)),
                    rows_rejected: rejected.value(i),
                    warnings: warnings.value(i),
                    ..DistrictSummary::default()
                },
            );
        }
    }
    if let Ok(Some(manifest)) = output.manifest(date) {
        for d in manifest.districts {
            if let Some(s) = summaries.get_mut(&d.district_code) {
                s.looked_for = d.looked_for;
                s.source_file = d.source.as_deref().map(crate::pull::file_name_of);
                s.sheet = d.sheet;
            }
        }
    }
    let mut findings: BTreeMap<String, Vec<FeedbackRow>> = BTreeMap::new();
    for b in read(output, "rejects", date)? {
        let district = col::<StringArray>(&b, "district_code")?;
        let (file, sheet) = (
            col::<StringArray>(&b, "source_file")?,
            col::<StringArray>(&b, "sheet")?,
        );
        let row = col::<Int32Array>(&b, "row")?;
        let (cell, column, value, expected) = (
            col::<StringArray>(&b, "cell")?,
            col::<StringArray>(&b, "column")?,
            col::<StringArray>(&b, "value")?,
            col::<StringArray>(&b, "expected")?,
        );
        let (severity, message, code) = (
            col::<StringArray>(&b, "severity")?,
            col::<StringArray>(&b, "message")?,
            col::<StringArray>(&b, "code")?,
        );
        for i in 0..b.num_rows() {
            let d = district.value(i).to_string();
            if let Some(s) = summaries.get_mut(&d) {
                s.source_file = s.source_file.take().or_else(|| opt_str(file, i));
                s.sheet = s.sheet.take().or_else(|| opt_str(sheet, i));
                if s.refused_because.is_none() && !row.is_valid(i) && severity.value(i) == "error" {
                    s.refused_because = Some(message.value(i).to_string());
                }
            }
            findings.entry(d).or_default().push(FeedbackRow {
                row: row.is_valid(i).then(|| row.value(i)),
                cell: opt_str(cell, i),
                column: opt_str(column, i),
                value: opt_str(value, i),
                expected: opt_str(expected, i),
                severity: severity.value(i).into(),
                message: message.value(i).into(),
                code: code.value(i).into(),
            });
        }
    }
    for rows in findings.values_mut() {
        rows.sort_by_key(|r| r.row.map_or(0, |r| i64::from(r) + 1));
    }
    Ok((findings, summaries))
}

fn status_words(status: &str) -> &'static str {
    match status {
        "accepted" => "已接收",
        "partial" => "部分接收（有行被拒收）",
        "rejected" => "整份被拒收",
        "missing" => "未报送",
        _ => "未知",
    }
}

/// Write the date's feedback workbooks into `folder`; returns the files written. A district with
/// findings or open problems gets `<date>-<code>-<name>-问题反馈.xlsx` (汇总, 问题明细, 问题台账); a
/// missing district gets `<date>-<code>-<name>-未报送.xlsx`, one sheet naming what was looked for.
pub fn write_all(
    output: &dyn Warehouse,
    date: NaiveDate,
    folder: &Path,
) -> Result<Vec<PathBuf>, FeedbackError> {
    let (findings, summaries) = load(output, date)?;
    let ledgers = load_ledgers(output, date)?;
    std::fs::create_dir_all(folder).map_err(|source| FeedbackError::Dir {
        path: folder.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let mut codes: Vec<&String> = summaries
        .keys()
        .chain(findings.keys())
        .chain(ledgers.keys())
        .collect();
    codes.sort();
    codes.dedup();
    for code in codes {
        let summary = summaries.get(code).cloned().unwrap_or_default();
        let (rows, open) = (
            findings.get(code).map_or(&[][..], |r| &r[..]),
            ledgers.get(code).map_or(&[][..], |r| &r[..]),
        );
        let (path, result) = if summary.status == "missing" {
            let path = folder.join(format!(
                "{date}-{code}-{}-未报送.xlsx",
                summary.district_name
            ));
            let result = write_missing(&path, date, code, &summary);
            (path, result)
        } else if !rows.is_empty() || !open.is_empty() {
            let path = folder.join(format!(
                "{date}-{code}-{}-问题反馈.xlsx",
                summary.district_name
            ));
            let result = write_one(&path, date, code, &summary, rows, open);
            (path, result)
        } else {
            continue;
        };
        result.map_err(|source| FeedbackError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The 问题台账 sheet's columns: (header, width).
pub const LEDGER_COLUMNS: [(&str, f64); 8] = [
    ("统一社会信用代码", 22.0),
    ("企业名称", 28.0),
    ("问题类别", 10.0),
    ("关键词", 10.0),
    ("提出日期", 12.0),
    ("已持续天数", 11.0),
    ("首次反映", 40.0),
    ("最近反映", 40.0),
];

/// The header cells' format of every feedback sheet.
fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDCE6F1))
        .set_border(FormatBorder::Thin)
}

/// A two-column 项目/内容 sheet (the summary, the 未报送 notice), the values wrapped.
fn write_key_values(
    sheet: &mut rust_xlsxwriter::Worksheet,
    value_width: f64,
    lines: &[(&str, String)],
) -> Result<(), XlsxError> {
    let (header, wrap) = (header_format(), Format::new().set_text_wrap());
    sheet.set_column_width(0, 14)?;
    sheet.set_column_width(1, value_width)?;
    sheet.write_string_with_format(0, 0, "项目", &header)?;
    sheet.write_string_with_format(0, 1, "内容", &header)?;
    for (i, (k, v)) in lines.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, *k)?;
        sheet.write_string_with_format(r, 1, v, &wrap)?;
    }
    Ok(())
}

/// The file a district is expected to send, in words, from where fugong looked (never the server's path
/// or a glob): `…/2020-02-24/370112.*` → "文件名为“370112”，扩展名为 .xlsx、.xls 等 Excel 格式（例如
/// 370112.xlsx）".
pub fn expected_file_in_words(looked_for: Option<&str>, code: &str) -> String {
    let Some(looked_for) = looked_for else {
        return format!("以区县代码 {code} 命名的复工日报表（例如 {code}.xlsx）");
    };
    let name = crate::pull::file_name_of(looked_for);
    if let Some(stem) = name.strip_suffix(".*")
        && !stem.contains(['*', '?', '['])
    {
        return format!("文件名为“{stem}”，扩展名为 .xlsx、.xls 等 Excel 格式（例如 {stem}.xlsx）");
    }
    if name.contains(['*', '?', '[']) {
        let example = name.replace(['*', '?'], "");
        return format!(
            "文件名形如“{}”（其中 * 可以是任意文字，例如 {example}）",
            name
        );
    }
    format!("文件名为“{name}”")
}

/// The one-sheet notice for a district that sent nothing.
fn write_missing(
    path: &Path,
    date: NaiveDate,
    code: &str,
    s: &DistrictSummary,
) -> Result<(), XlsxError> {
    build_missing(date, code, s)?.save(path)
}

fn build_missing(date: NaiveDate, code: &str, s: &DistrictSummary) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet().set_name("未报送")?;
    let lines: Vec<(&str, String)> = vec![
        (
            "区县",
            format!("{}{}（{code}）", s.city_name, s.district_name),
        ),
        ("报表日期", date.to_string()),
        ("状态", status_words("missing").to_string()),
        ("应报送的文件", expected_file_in_words(s.looked_for.as_deref(), code)),
        (
            "如何报送",
            "请用本单位的日报表模板填好当天数据，按上面的文件名通过原报送渠道（共享收件目录、报送系统或汇总单位指定的方式）报送；如已报送，请核对文件名、报表日期和报送位置。".into(),
        ),
        (
            "说明",
            format!(
                "汇总时没有收到贵单位 {date} 的复工日报表，本日全省比较中贵单位计为未报送。补报后，下一次汇总会自动重新统计该日。"
            ),
        ),
    ];
    write_key_values(sheet, 72.0, &lines)?;
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new().set_title(format!("{date} 复工日报未报送 {code}")),
    );
    Ok(wb)
}

/// The findings sheet's columns: (header, width).
pub const FINDING_COLUMNS: [(&str, f64); 8] = [
    ("单元格", 9.0),
    ("列名（报送时）", 18.0),
    ("填写的值", 22.0),
    ("应为", 36.0),
    ("严重程度", 9.0),
    ("问题说明", 70.0),
    ("问题代码", 24.0),
    ("行号", 7.0),
];

fn write_one(
    path: &Path,
    date: NaiveDate,
    code: &str,
    s: &DistrictSummary,
    rows: &[FeedbackRow],
    open: &[Problem],
) -> Result<(), XlsxError> {
    build_one(date, code, s, rows, open)?.save(path)
}

fn build_one(
    date: NaiveDate,
    code: &str,
    s: &DistrictSummary,
    rows: &[FeedbackRow],
    open: &[Problem],
) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let header = header_format();
    let wrap = Format::new().set_text_wrap();
    let error = Format::new()
        .set_font_color(Color::RGB(0xC00000))
        .set_bold();
    let errors = rows.iter().filter(|r| r.severity == "error").count();
    let warnings = rows.len() - errors;
    let refused = s.status == "rejected";
    let accepted_rows = s.rows_accepted.unwrap_or(0);
    let mut lines: Vec<(&str, String)> = vec![
        (
            "区县",
            format!("{}{}（{code}）", s.city_name, s.district_name),
        ),
        ("报表日期", date.to_string()),
        (
            "读取的文件",
            s.source_file.clone().unwrap_or_else(|| "—".into()),
        ),
        (
            "读取的工作表",
            s.sheet.clone().unwrap_or_else(|| "—".into()),
        ),
        ("状态", status_words(&s.status).to_string()),
    ];
    match (&s.refused_because, refused) {
        // A file-level error: no row was read as data, so rows are not counted as rejected one by one.
        (Some(why), true) => {
            lines.push(("未接收原因", why.clone()));
            lines.push(("接收行数", "0（整份文件未接收）".into()));
        }
        (None, true) => {
            lines.push((
                "未接收原因",
                format!("全部 {} 行都有错误，没有一行可以接收", s.rows_rejected),
            ));
            lines.push(("接收行数", "0".into()));
            lines.push(("拒收行数", s.rows_rejected.to_string()));
        }
        _ => {
            lines.push(("接收行数", accepted_rows.to_string()));
            lines.push(("拒收行数", s.rows_rejected.to_string()));
        }
    }
    lines.push(("错误", errors.to_string()));
    lines.push(("警告", warnings.to_string()));
    lines.push(("未销号问题", open.len().to_string()));
    let ledger_note = if open.is_empty() {
        ""
    } else {
        "“问题台账”列出企业反映、尚未销号的问题，按提出时间先后排列；问题解决后，企业在日报中不再填报或注明“已解决”即自动销号。"
    };
    let advice = if refused {
        "整份报表未被接收：请按“未接收原因”和“问题明细”修改原表后重新报送。".to_string()
    } else if errors > 0 {
        format!(
            "已接收 {accepted_rows} 行；{} 行有错误未被接收：请按“问题明细”中的错误逐条修改原表后重新报送。{}",
            s.rows_rejected,
            if warnings > 0 {
                "警告不影响接收，但请核实。"
            } else {
                ""
            }
        )
    } else if warnings > 0 {
        "报表已全部接收，无需重新报送；“问题明细”中的警告请核实，确有错误的请更正后重新报送。"
            .to_string()
    } else {
        "报表已全部接收，没有需要修改的地方。".to_string()
    };
    lines.push(("说明", format!("{advice}{ledger_note}")));
    write_key_values(wb.add_worksheet().set_name("汇总")?, 48.0, &lines)?;
    let sheet = wb.add_worksheet().set_name("问题明细")?;
    for (c, (title, width)) in FINDING_COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &header)?;
        sheet.set_column_width(c as u16, *width)?;
    }
    for (i, f) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, f.cell.as_deref().unwrap_or("（整份文件）"))?;
        sheet.write_string(r, 1, f.column.as_deref().unwrap_or(""))?;
        sheet.write_string(r, 2, f.value.as_deref().unwrap_or(""))?;
        sheet.write_string_with_format(r, 3, f.expected.as_deref().unwrap_or(""), &wrap)?;
        if f.severity == "error" {
            sheet.write_string_with_format(r, 4, "错误", &error)?;
        } else {
            sheet.write_string(r, 4, "警告")?;
        }
        sheet.write_string_with_format(r, 5, &f.message, &wrap)?;
        sheet.write_string(r, 6, &f.code)?;
        if let Some(row) = f.row {
            sheet.write_number(r, 7, f64::from(row))?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, rows.len() as u32, (FINDING_COLUMNS.len() - 1) as u16)?;
    let ledger = wb.add_worksheet().set_name("问题台账")?;
    for (c, (title, width)) in LEDGER_COLUMNS.iter().enumerate() {
        ledger.write_string_with_format(0, c as u16, *title, &header)?;
        ledger.set_column_width(c as u16, *width)?;
    }
    for (i, p) in open.iter().enumerate() {
        let r = i as u32 + 1;
        ledger.write_string(r, 0, &*p.uscc)?;
        ledger.write_string(r, 1, &*p.enterprise_name)?;
        ledger.write_string(r, 2, &*p.category)?;
        ledger.write_string(r, 3, p.keyword.as_deref().unwrap_or(""))?;
        ledger.write_string(r, 4, p.opened_on.to_string())?;
        ledger.write_number(r, 5, p.days_open(date) as f64)?;
        ledger.write_string_with_format(r, 6, &*p.first_text, &wrap)?;
        ledger.write_string_with_format(r, 7, &*p.latest_text, &wrap)?;
    }
    ledger.set_freeze_panes(1, 0)?;
    ledger.autofilter(0, 0, open.len() as u32, (LEDGER_COLUMNS.len() - 1) as u16)?;
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new().set_title(format!("{date} 复工日报问题反馈 {code}")),
    );
    Ok(wb)
}

/// One district's feedback workbook of a published date, as bytes (the portal's download): its
/// findings and open problems, or its 未报送 notice; None when it has neither (nothing to say).
pub fn workbook_of(
    output: &dyn Warehouse,
    date: NaiveDate,
    code: &str,
) -> Result<Option<(String, Vec<u8>)>, FeedbackError> {
    let (findings, summaries) = load(output, date)?;
    let ledgers = load_ledgers(output, date)?;
    let Some(summary) = summaries.get(code) else {
        return Ok(None);
    };
    let (rows, open) = (
        findings.get(code).map_or(&[][..], |r| &r[..]),
        ledgers.get(code).map_or(&[][..], |r| &r[..]),
    );
    let (name, wb) = if summary.status == "missing" {
        (
            format!("{date}-{code}-未报送.xlsx"),
            build_missing(date, code, summary),
        )
    } else if !rows.is_empty() || !open.is_empty() {
        (
            format!("{date}-{code}-问题反馈.xlsx"),
            build_one(date, code, summary, rows, open),
        )
    } else {
        return Ok(None);
    };
    let bytes = wb
        .and_then(|mut wb| wb.save_to_buffer())
        .map_err(|source| FeedbackError::Write {
            path: PathBuf::from(&name),
            source,
        })?;
    Ok(Some((name, bytes)))
}
