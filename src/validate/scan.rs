//! The sheet scan: the state machine that one sheet's rows stream through — looking for the header in
//! the first rows, checking the header block (填报单位, 填报日期), then validating each data row, skipping
//! total and notes rows and repeated headers, checking the 合计 row and duplicate keys.

use super::district::district_mismatch;
use super::finding::{Code, Finding};
use super::header::{self, HeaderLayout};
use super::missing_message;
use super::normalize::{display_value, parse_date_text, parse_int, parse_money};
use super::outcome::{AcceptedRow, SubmissionContext, SubmissionOutcome, Value};
use super::row::RowValidator;
use crate::config::schema::{FieldType, Schema};
use crate::read::{CellValue, Flow, RawRow, cell_ref};
use crate::text::{header_key, normalize_text};

/// The state of one sheet while its rows stream by.
pub(super) struct SheetScan<'s> {
    schema: &'s Schema,
    ctx: &'s SubmissionContext,
    pub(super) sheet: String,
    first_rows: Vec<RawRow<'static>>,
    state: ScanState<'s>,
    outcome: SubmissionOutcome,
    /// Row numbers that already had an error.
    last_rejected_row: Option<u32>,
    enterprise_rows: u32,
    /// The first 合计 row's bound cells: (column index, value).
    total_row: Option<(u32, Vec<(usize, CellValue<'static>)>)>,
    /// Sums of accepted rows per bound column: (integer sum, money sum in fen, count true).
    sums: Vec<i128>,
}

enum ScanState<'s> {
    Scanning,
    NoHeader,
    Rows(RowValidator<'s>),
    /// A file-level error stopped the sheet.
    Rejected,
    Ended(RowValidator<'s>),
}

enum RowKind {
    Empty,
    Total { grand: bool },
    End,
    Data,
}

impl<'s> SheetScan<'s> {
    pub(super) fn new(schema: &'s Schema, ctx: &'s SubmissionContext, sheet: String) -> Self {
        SheetScan {
            schema,
            ctx,
            sheet,
            first_rows: Vec::new(),
            state: ScanState::Scanning,
            outcome: SubmissionOutcome::default(),
            last_rejected_row: None,
            enterprise_rows: 0,
            total_row: None,
            sums: Vec::new(),
        }
    }

    pub(super) fn found_header(&self) -> bool {
        !matches!(self.state, ScanState::Scanning | ScanState::NoHeader)
    }

    pub(super) fn on_row(&mut self, row: RawRow<'_>) -> Flow {
        match &self.state {
            ScanState::Scanning => {
                if row.row < self.schema.header_search_rows {
                    self.first_rows.push(row.into_owned());
                    return Flow::Continue;
                }
                if self.start_rows() == Flow::Stop {
                    return Flow::Stop;
                }
                self.data_row(&row)
            }
            ScanState::Rows(_) => self.data_row(&row),
            _ => Flow::Stop,
        }
    }

    /// Called when the stream ended: a sheet shorter than the header search window.
    pub(super) fn finish_scanning(&mut self) {
        if matches!(self.state, ScanState::Scanning) {
            self.start_rows();
        }
        if let ScanState::Rows(_) = self.state {
            let ScanState::Rows(v) = std::mem::replace(&mut self.state, ScanState::Rejected) else {
                return;
            };
            self.state = ScanState::Ended(v);
        }
    }

    /// Decide the header from the first rows; on success validate the rows after it that were buffered.
    fn start_rows(&mut self) -> Flow {
        let Some(layout) = header::detect(self.schema, &self.first_rows) else {
            self.state = ScanState::NoHeader;
            return Flow::Stop;
        };
        self.outcome.sheet = Some(self.sheet.clone());
        if !self.check_header(&layout) {
            self.state = ScanState::Rejected;
            return Flow::Stop;
        }
        let validator =
            RowValidator::new(self.schema, &layout, self.ctx.report_date, self.ctx.limits)
                .checking_report_date(self.ctx.date_known);
        self.sums = vec![0; validator.columns().len()];
        self.state = ScanState::Rows(validator);
        let buffered: Vec<RawRow<'static>> = std::mem::take(&mut self.first_rows)
            .into_iter()
            .filter(|r| r.row >= layout.data_start)
            .collect();
        for r in &buffered {
            if self.data_row(r) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Header findings; false when they reject the submission.
    fn check_header(&mut self, layout: &HeaderLayout) -> bool {
        let schema = self.schema;
        let header_row = layout.header_rows[0];
        for u in &layout.unknown {
            self.outcome.findings.push(
                Finding {
                    column: Some(u.written.clone()),
                    ..Finding::file(
                        Code::HeaderUnknown,
                        format!(
                            "表头 {}“{}”不是模板中的列，已忽略：如是新增指标请联系省级管理员",
                            cell_ref(u.row, u.col),
                            u.written
                        ),
                    )
                }
                .at(cell_ref(u.row, u.col))
                .expecting("模板中的列名（多余的列可删除）"),
            );
        }
        for (field, cols) in &layout.ambiguous {
            let f = &schema.fields[*field];
            let listed: Vec<String> = cols
                .iter()
                .map(|c| {
                    format!(
                        "{}“{}”",
                        cell_ref(*layout.header_rows.last().unwrap_or(&header_row), c.col),
                        c.written
                    )
                })
                .collect();
            let last_header_row = *layout.header_rows.last().unwrap_or(&header_row);
            let mut finding = Finding {
                field: Some(f.name.clone()),
                column: cols.first().map(|c| c.written.clone()),
                ..Finding::file(
                    Code::HeaderAmbiguous,
                    format!(
                        "“{}”出现在多列：{}，请只保留一列",
                        f.label,
                        listed.join("和")
                    ),
                )
            }
            .expecting(format!("“{}”只出现在一列", f.label));
            if let Some(c) = cols.get(1) {
                finding = finding.at(cell_ref(last_header_row, c.col));
            }
            self.outcome.findings.push(finding);
        }
        let where_ = format!("工作表“{}”", self.sheet);
        for field in &layout.missing {
            let f = &schema.fields[*field];
            let mut finding = Finding {
                field: Some(f.name.clone()),
                ..Finding::file(
                    Code::HeaderMissing,
                    missing_message(f, &where_, schema.header_search_rows),
                )
            }
            .expecting(format!("表头中有“{}”列", f.label));
            // The header the clerk most likely meant: the unknown one closest to the field's names.
            if let Some(near) = header::nearest_unknown(f, &layout.unknown) {
                let cell = cell_ref(near.row, near.col);
                let name = f.aliases.first().map(String::as_str).unwrap_or(&f.label);
                finding.message = format!(
                    "{cell} 写的是“{}”，是否应为“{name}”？{}",
                    near.written, finding.message
                );
                finding.column = Some(near.written.clone());
                finding = finding.at(cell);
            }
            self.outcome.findings.push(finding);
        }
        let block = header::header_block(schema, &self.first_rows, header_row);
        if let Some((reference, unit)) = &block.unit
            && let Some(message) =
                district_mismatch(unit, &self.ctx.district_code, &self.ctx.districts)
        {
            let this = self
                .ctx
                .districts
                .iter()
                .find(|d| d.code == self.ctx.district_code);
            self.outcome.findings.push(
                Finding {
                    value: Some(unit.clone()),
                    ..Finding::file(
                        Code::DistrictMismatch,
                        format!("填报单位 {reference}“{unit}”{message}"),
                    )
                }
                .at(reference.clone())
                .expecting(format!(
                    "本区县（{}）的报表",
                    this.map(|d| format!("{}{}", d.city_name, d.name))
                        .unwrap_or_default()
                )),
            );
        }
        if let Some((reference, text)) = &block.date {
            let date = parse_date_text(
                &normalize_text(text),
                chrono::Datelike::year(&self.ctx.report_date),
            );
            self.outcome.stated_date = date;
            if let Some(d) = date
                && self.ctx.date_known
                && d != self.ctx.report_date
            {
                self.outcome.findings.push(
                    Finding {
                        value: Some(text.clone()),
                        ..Finding::file(
                            Code::DateMismatch,
                            format!(
                                "填报日期 {reference}“{text}”与报表日期 {} 不符：请报送 {} 当天的日报表",
                                self.ctx.report_date, self.ctx.report_date
                            ),
                        )
                    }
                    .at(reference.clone())
                    .expecting(format!("报表日期 {}", self.ctx.report_date)),
                );
            }
        }
        !self.outcome.has_file_error()
    }

    fn classify(&self, row: &RawRow<'_>) -> RowKind {
        let Some((_, first)) = row.cells.iter().find(|(_, v)| !v.is_empty()) else {
            return RowKind::Empty;
        };
        let CellValue::Text(t) = first else {
            return RowKind::Data;
        };
        let key = header_key(t).key;
        if self
            .schema
            .total_markers
            .iter()
            .any(|m| key.starts_with(m.as_str()))
        {
            return RowKind::Total { grand: true };
        }
        if self
            .schema
            .subtotal_markers
            .iter()
            .any(|m| key.starts_with(m.as_str()))
        {
            return RowKind::Total { grand: false };
        }
        for marker in &self.schema.end_markers {
            if let Some(rest) = key.strip_prefix(marker.as_str()) {
                let next = rest.chars().next();
                // "备注：…", "注1", "填表人" end the table; "说明书印刷厂" with a credit code is an
                // enterprise: a longer marker without a separator counts only on a row without a key.
                let separated = next.is_none() || matches!(next, Some(':' | '、' | '0'..='9'));
                if separated || (marker.chars().count() > 1 && !self.row_has_key(row, first)) {
                    return RowKind::End;
                }
            }
        }
        RowKind::Data
    }

    /// Whether the row has a value in the key column other than the cell `first` itself.
    fn row_has_key(&self, row: &RawRow<'_>, first: &CellValue<'_>) -> bool {
        let ScanState::Rows(v) = &self.state else {
            return true;
        };
        let Some(column) = v
            .columns()
            .iter()
            .find(|c| c.field == self.schema.key_field)
        else {
            return true;
        };
        row.get(column.col)
            .is_some_and(|value| !value.is_empty() && !std::ptr::eq(value, first))
    }

    fn data_row(&mut self, row: &RawRow<'_>) -> Flow {
        match self.classify(row) {
            RowKind::Empty => return Flow::Continue,
            RowKind::End => {
                if let ScanState::Rows(v) = std::mem::replace(&mut self.state, ScanState::Rejected)
                {
                    self.state = ScanState::Ended(v);
                }
                return Flow::Stop;
            }
            // Subtotal rows are never enterprises; only the grand total is checked.
            RowKind::Total { grand: false } => return Flow::Continue,
            RowKind::Total { grand: true } => {
                if self.total_row.is_none()
                    && let ScanState::Rows(v) = &self.state
                {
                    let cells = v
                        .columns()
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| {
                            let value = row.get(c.col)?;
                            (!value.is_empty()).then(|| (i, value.clone().into_static()))
                        })
                        .collect();
                    self.total_row = Some((row.row, cells));
                }
                return Flow::Continue;
            }
            RowKind::Data => {}
        }
        let ScanState::Rows(validator) = &mut self.state else {
            return Flow::Stop;
        };
        if is_repeated_header(self.schema, validator, row) {
            return Flow::Continue;
        }
        self.enterprise_rows += 1;
        let result = validator.validate(row);
        if result.findings.iter().any(Finding::is_error) && self.last_rejected_row != Some(row.row)
        {
            self.outcome.rows_rejected += 1;
            self.last_rejected_row = Some(row.row);
        }
        self.outcome.findings.extend(result.findings);
        if let Some(values) = result.values {
            for (i, column) in validator.columns().iter().enumerate() {
                match &values[column.field] {
                    Some(Value::Int(n)) => self.sums[i] += i128::from(*n),
                    Some(Value::Money(m)) => self.sums[i] += i128::from(*m),
                    Some(Value::Bool(true)) => self.sums[i] += 1,
                    _ => {}
                }
            }
            // The problem text is read here, where the row is validated: on a large workbook this
            // thread keeps pace with the parser, so the classification costs no time of its own.
            let rules = &self.schema.problems;
            let problems = match values.get(rules.field) {
                Some(Some(Value::Text(text))) if !text.is_empty() => {
                    Some(crate::problems::classify::classify(rules, text))
                }
                _ => None,
            };
            self.outcome.rows.push(AcceptedRow {
                source_row: row.excel_row(),
                values,
                problems,
            });
        }
        Flow::Continue
    }

    pub(super) fn into_outcome(mut self) -> SubmissionOutcome {
        if let ScanState::Ended(validator) = &self.state {
            let key = validator
                .columns()
                .iter()
                .find(|c| c.field == self.schema.key_field);
            self.outcome.key_header = key.map(|c| c.written.clone());
            self.outcome.key_column = key.map(|c| c.col);
            if self.enterprise_rows == 0 {
                self.outcome.findings.push(Finding::file(
                    Code::EmptySubmission,
                    format!(
                        "工作表“{}”有表头但没有企业数据行：请填写企业数据后重新报送",
                        self.sheet
                    ),
                ));
            } else if let Some((total_row, cells)) = &self.total_row {
                let columns = validator.columns().to_vec();
                for (i, value) in cells {
                    let column = &columns[*i];
                    let field = &self.schema.fields[column.field];
                    let stated: Option<i128> = match field.field_type {
                        FieldType::Int | FieldType::Bool => parse_int(value).ok().map(i128::from),
                        FieldType::Money => {
                            let unit = column
                                .unit
                                .as_deref()
                                .and_then(crate::config::schema::MoneyUnit::parse)
                                .unwrap_or(field.unit);
                            parse_money(value, unit).ok()
                        }
                        _ => None,
                    };
                    let Some(stated) = stated else { continue };
                    let sum = self.sums[*i];
                    if stated != sum {
                        let show = |v: i128| match field.field_type {
                            FieldType::Money => format!("{}.{:02} 元", v / 100, v % 100),
                            _ => v.to_string(),
                        };
                        let what = if field.field_type == FieldType::Bool {
                            "为“是”的企业数"
                        } else {
                            "合计"
                        };
                        self.outcome.findings.push(
                            Finding {
                                column: Some(column.written.clone()),
                                field: Some(field.name.clone()),
                                value: Some(display_value(value)),
                                ..Finding::file(
                                    Code::TotalMismatch,
                                    format!(
                                        "合计行 {}（{}）为 {}，而已接收的企业行{what}为 {}：请核对合计行或明细行",
                                        cell_ref(*total_row, column.col),
                                        field.label,
                                        show(stated),
                                        show(sum)
                                    ),
                                )
                            }
                            .at(cell_ref(*total_row, column.col))
                            .expecting(format!("明细行之和 {}", show(sum))),
                        );
                    }
                }
            }
        }
        self.outcome
    }
}

impl CellValue<'_> {
    fn into_static(self) -> CellValue<'static> {
        RawRow {
            row: 0,
            cells: vec![(0, self)],
        }
        .into_owned()
        .cells
        .pop()
        .map(|(_, v)| v)
        .unwrap_or(CellValue::Empty)
    }
}

/// A header row repeated inside the table (print titles, pasted blocks): its key cell holds the key
/// column's own header text. Credit codes are ASCII, so only non-ASCII text is looked at.
fn is_repeated_header(schema: &Schema, validator: &RowValidator<'_>, row: &RawRow<'_>) -> bool {
    let Some(column) = validator
        .columns()
        .iter()
        .find(|c| c.field == schema.key_field)
    else {
        return false;
    };
    match row.get(column.col) {
        Some(CellValue::Text(t)) if !t.is_ascii() => {
            schema.match_header(&header_key(t).key)
                == crate::config::schema::HeaderMatch::Field(schema.key_field)
        }
        _ => false,
    }
}
