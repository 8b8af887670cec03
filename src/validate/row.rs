//! Row validation: each data row's bound cells are read as their field's type and checked against the
//! field's rules and the schema's cross-field checks. A row with any error is left out; every problem is a
//! finding that names the cell (`F12`), what was found and what is expected.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::config::schema::{CheckKind, Field, FieldType, MoneyUnit, Schema};
use crate::read::{CellValue, RawRow, ReadLimits, cell_ref};

use super::Value;
use super::finding::{Code, Finding, Severity};
use super::header::{BoundColumn, HeaderLayout};
use super::normalize::{
    ValueProblem, display_value, normalize_text, parse_bool, parse_date, parse_int, parse_money,
    parse_ratio,
};
use super::uscc;

/// Days since 1970-01-01 (Arrow date32).
pub fn epoch_days(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX)
}

const EMPTY: CellValue<'static> = CellValue::Empty;

/// What a cell of this field should hold, for a finding of this code (the feedback workbook's 应为).
pub fn expected_value(code: Code, field: &Field) -> String {
    match code {
        Code::RequiredMissing => format!("必填：{}", type_expectation(field)),
        Code::CrossField => "上岗人数不超过职工总数".into(),
        Code::DuplicateKey => "每家企业只填报一行".into(),
        Code::DuplicateAcrossDistricts => "每家企业只由所在区县填报".into(),
        _ => type_expectation(field),
    }
}

fn type_expectation(field: &Field) -> String {
    match field.field_type {
        FieldType::Text => "文字".into(),
        FieldType::Uscc => "18位统一社会信用代码（数字和大写字母，校验位正确）".into(),
        FieldType::Bool => "是 或 否".into(),
        FieldType::Date if field.not_after_report_date => {
            "不晚于报表日期的日期（如 2020-02-24）".into()
        }
        FieldType::Date => "日期（如 2020-02-24）".into(),
        FieldType::Int => "不小于0的整数（如 1862）".into(),
        FieldType::Ratio => format!(
            "{}%–{}% 的百分比（如 85%）",
            field.min.unwrap_or(0.0) * 100.0,
            field.max.unwrap_or(1.5) * 100.0
        ),
        FieldType::Money => "不小于0的金额，单位万元（或写明 元/亿元）".into(),
    }
}

/// Validates the data rows of one sheet against a header layout.
pub struct RowValidator<'s> {
    schema: &'s Schema,
    columns: Vec<BoundColumn>,
    units: Vec<MoneyUnit>,
    report_date: NaiveDate,
    /// Whether dates are checked against the report date (false when it is not known).
    check_report_date: bool,
    limits: ReadLimits,
    /// Key value → first row that had it.
    /// ahash: fast, and randomly keyed so a crafted file cannot force collisions.
    seen_keys: HashMap<String, u32, ahash::RandomState>,
}

/// The result of one row.
pub struct RowResult {
    /// The typed values, indexed by field, when the row has no error.
    pub values: Option<Vec<Option<Value>>>,
    pub findings: Vec<Finding>,
}

impl<'s> RowValidator<'s> {
    pub fn new(
        schema: &'s Schema,
        layout: &HeaderLayout,
        report_date: NaiveDate,
        limits: ReadLimits,
    ) -> Self {
        let units = layout
            .columns
            .iter()
            .map(|c| {
                c.unit
                    .as_deref()
                    .and_then(MoneyUnit::parse)
                    .unwrap_or(schema.fields[c.field].unit)
            })
            .collect();
        RowValidator {
            schema,
            columns: layout.columns.clone(),
            units,
            report_date,
            check_report_date: true,
            limits,
            seen_keys: HashMap::default(),
        }
    }

    /// Whether dates are checked against the report date.
    pub fn checking_report_date(mut self, check: bool) -> Self {
        self.check_report_date = check;
        self
    }

    pub fn columns(&self) -> &[BoundColumn] {
        &self.columns
    }

    fn finding(
        &self,
        code: Code,
        severity: Severity,
        row: &RawRow<'_>,
        column: &BoundColumn,
        raw: &CellValue<'_>,
        message: String,
    ) -> Finding {
        let field = &self.schema.fields[column.field];
        Finding {
            code,
            severity,
            row: Some(row.excel_row()),
            column: Some(column.written.clone()),
            field: Some(field.name.clone()),
            value: if field.personal || raw.is_empty() {
                None
            } else {
                Some(display_value(raw))
            },
            message,
            cell: Some(cell_ref(row.row, column.col)),
            expected: Some(expected_value(code, field)),
            detail: None,
        }
    }

    /// Validate one data row.
    pub fn validate(&mut self, row: &RawRow<'_>) -> RowResult {
        let n = self.schema.fields.len();
        let mut values: Vec<Option<Value>> = vec![None; n];
        let mut findings = Vec::new();
        let mut cells: Vec<Option<(usize, u32)>> = vec![None; n]; // field → (column index, col)
        for (ci, column) in self.columns.iter().enumerate() {
            let field = &self.schema.fields[column.field];
            if field.personal {
                continue;
            }
            cells[column.field] = Some((ci, column.col));
            let raw: &CellValue<'_> = row.get(column.col).unwrap_or(&EMPTY);
            // Built only when a finding needs it.
            let reference = || cell_ref(row.row, column.col);
            if raw.is_empty() {
                if field.required {
                    findings.push(self.finding(
                        Code::RequiredMissing,
                        Severity::Error,
                        row,
                        column,
                        raw,
                        format!("{}（{}）为空：这是必填项，请填写", reference(), field.label),
                    ));
                }
                continue;
            }
            if let CellValue::Text(t) = raw {
                // A byte count within the limit is a char count within it.
                let chars = if t.len() <= self.limits.max_cell_chars as usize {
                    0
                } else {
                    t.chars().count()
                };
                if chars > self.limits.max_cell_chars as usize {
                    let mut f = self.finding(
                        Code::ConstraintError,
                        Severity::Error,
                        row,
                        column,
                        &CellValue::Empty,
                        format!(
                            "{}（{}）有 {chars} 个字符，超过单元格 {} 个字符的上限，请精简",
                            reference(),
                            field.label,
                            self.limits.max_cell_chars
                        ),
                    );
                    f.value = Some(t.chars().take(200).collect());
                    findings.push(f);
                    continue;
                }
            }
            match self.read_value(field, self.units[ci], raw) {
                Ok(v) => values[column.field] = Some(v),
                Err((code, problem)) => {
                    let severity = if matches!(raw, CellValue::Error(_)) && !field.required {
                        Severity::Warning
                    } else {
                        Severity::Error
                    };
                    let shown = display_value(raw);
                    let message = match code {
                        Code::UsccInvalid => {
                            format!("{}（{}）“{shown}”：{problem}", reference(), field.label)
                        }
                        _ if severity == Severity::Warning => format!(
                            "{}（{}）是 Excel 错误值 {shown}，已按空值处理：请改为正确的值或留空",
                            reference(),
                            field.label
                        ),
                        _ => format!(
                            "{}（{}）填的是“{shown}”，{problem}",
                            reference(),
                            field.label
                        ),
                    };
                    findings.push(self.finding(code, severity, row, column, raw, message));
                }
            }
        }

        // Values kept only when a bool field is true (开工日期 of an enterprise that has not resumed).
        for (i, field) in self.schema.fields.iter().enumerate() {
            if let Some(flag) = field.only_when_true
                && matches!(values[flag], Some(Value::Bool(false)))
            {
                values[i] = None;
                findings.retain(|f| f.field.as_deref() != Some(field.name.as_str()));
            }
        }

        for check in &self.schema.checks {
            let (Some(a), Some(b)) = (&values[check.field], &values[check.than]) else {
                continue;
            };
            let violated = match check.kind {
                CheckKind::NotGreaterThan => a.as_f64() > b.as_f64(),
            };
            if violated {
                let (fa, fb) = (
                    &self.schema.fields[check.field],
                    &self.schema.fields[check.than],
                );
                let Some((ci, col)) = cells[check.field] else {
                    continue;
                };
                let col_b = cells[check.than].map(|(_, c)| c).unwrap_or(col);
                let raw = row.get(col).cloned().unwrap_or(CellValue::Empty);
                let message = format!(
                    "{}（{}）{} 大于 {}（{}）{}：{}不能超过{}，请核对",
                    cell_ref(row.row, col),
                    fa.label,
                    a.display(),
                    cell_ref(row.row, col_b),
                    fb.label,
                    b.display(),
                    fa.label,
                    fb.label
                );
                let column = self.columns[ci].clone();
                findings.push(self.finding(
                    Code::CrossField,
                    Severity::Error,
                    row,
                    &column,
                    &raw,
                    message,
                ));
            }
        }

        // Duplicate keys: every copy after the first.
        let key = self.schema.key_field;
        if let (Some(Value::Text(k)), Some((ci, col))) = (&values[key], cells[key]) {
            match self.seen_keys.get(k) {
                Some(first) => {
                    let column = self.columns[ci].clone();
                    let raw = row.get(col).cloned().unwrap_or(CellValue::Empty);
                    let message = format!(
                        "{}（{}）{k} 在第 {first} 行已经填报过：同一企业只能填报一行，请删除重复行",
                        cell_ref(row.row, col),
                        self.schema.fields[key].label
                    );
                    findings.push(self.finding(
                        Code::DuplicateKey,
                        Severity::Error,
                        row,
                        &column,
                        &raw,
                        message,
                    ));
                }
                None => {
                    self.seen_keys.insert(k.clone(), row.excel_row());
                }
            }
        }

        let has_error = findings.iter().any(Finding::is_error);
        RowResult {
            values: (!has_error).then_some(values),
            findings,
        }
    }

    fn read_value(
        &self,
        field: &Field,
        unit: MoneyUnit,
        raw: &CellValue<'_>,
    ) -> Result<Value, (Code, String)> {
        let problem = |p: ValueProblem| match p {
            ValueProblem::Type(m) => (Code::TypeError, m),
            ValueProblem::Constraint(m) => (Code::ConstraintError, m),
        };
        let range_check = |v: f64| -> Result<(), (Code, String)> {
            if let Some(min) = field.min
                && v < min
            {
                return Err((Code::ConstraintError, format!("不能小于 {min}")));
            }
            if let Some(max) = field.max
                && v > max
            {
                return Err((Code::ConstraintError, format!("不能大于 {max}")));
            }
            Ok(())
        };
        match field.field_type {
            FieldType::Text => match raw {
                CellValue::Error(e) => Err((
                    Code::TypeError,
                    format!("应为文字，单元格是 Excel 错误值 {e}"),
                )),
                CellValue::Text(t) => Ok(Value::Text(normalize_text(t).into_owned())),
                other => Ok(Value::Text(display_value(other))),
            },
            FieldType::Uscc => {
                let text: std::borrow::Cow<'_, str> = match raw {
                    CellValue::Text(t) => normalize_text(t),
                    CellValue::Error(e) => {
                        return Err((
                            Code::TypeError,
                            format!("应为18位统一社会信用代码，单元格是 Excel 错误值 {e}"),
                        ));
                    }
                    other => std::borrow::Cow::Owned(display_value(other)),
                };
                let code = uscc::canonical(&text);
                uscc::validate(&code).map_err(|p| (Code::UsccInvalid, p.message()))?;
                Ok(Value::Text(code))
            }
            FieldType::Bool => parse_bool(raw).map(Value::Bool).map_err(problem),
            FieldType::Date => {
                let d = parse_date(raw, self.report_date).map_err(problem)?;
                if field.not_after_report_date && self.check_report_date && d > self.report_date {
                    return Err((
                        Code::ConstraintError,
                        format!(
                            "日期 {d} 晚于报表日期 {}：不能晚于报表日期，请核对",
                            self.report_date
                        ),
                    ));
                }
                Ok(Value::Date(epoch_days(d)))
            }
            FieldType::Int => {
                let i = parse_int(raw).map_err(problem)?;
                range_check(i as f64)?;
                Ok(Value::Int(i))
            }
            FieldType::Ratio => {
                parse_ratio(raw, field.min.unwrap_or(0.0), field.max.unwrap_or(1.5))
                    .map(Value::Ratio)
                    .map_err(problem)
            }
            FieldType::Money => {
                let fen = parse_money(raw, unit).map_err(problem)?;
                range_check(fen as f64 / 100.0)?;
                // parse_money keeps fen below 10^18, which fits i64.
                i64::try_from(fen)
                    .map(Value::Money)
                    .map_err(|_| (Code::ConstraintError, "金额过大，请核对单位".to_string()))
            }
        }
    }
}
