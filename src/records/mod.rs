//! Records stage: the Arrow schemas of the four tables (contract §4, one function each) and the builders
//! that turn one date's results into record batches, sorted as the contract says.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Array, Date32Builder, Decimal128Builder, Float64Builder,
    Int32Array, Int32Builder, Int64Builder, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use arrow::error::ArrowError;

use crate::config::Schema;
use crate::config::schema::FieldType;
use crate::day::DayResult;
use crate::validate::Value;
use crate::validate::row::epoch_days;

pub mod evolution;

/// A table read back lacks a column, or holds it with another type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column} is missing or is not {expected}")]
pub struct ColumnError {
    pub column: String,
    pub expected: &'static str,
}

impl From<ColumnError> for ArrowError {
    fn from(e: ColumnError) -> ArrowError {
        ArrowError::SchemaError(e.to_string())
    }
}

/// A column of a batch read back from the warehouse, by name and type: the one typed reader of every
/// stage that reads published tables (compare, anomaly, problems, report, feedback).
pub fn column<'a, T: arrow::array::Array + 'static>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a T, ColumnError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| ColumnError {
            column: name.to_string(),
            expected: std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("the expected type"),
        })
}

/// The tables of the warehouse, in publish order: the four of contract §4, then the problem ledger's
/// two (§11).
pub const TABLES: [&str; 6] = [
    "enterprise_daily",
    "district_daily",
    "city_daily",
    "rejects",
    "problem_ledger",
    "problem_daily",
];

fn geo_fields() -> Vec<Field> {
    vec![
        Field::new("report_date", DataType::Date32, false),
        Field::new("province_code", DataType::Utf8, false),
        Field::new("city_code", DataType::Utf8, false),
        Field::new("city_name", DataType::Utf8, false),
    ]
}

fn arrow_type(t: FieldType) -> DataType {
    match t {
        FieldType::Text | FieldType::Uscc => DataType::Utf8,
        FieldType::Bool => DataType::Boolean,
        FieldType::Date => DataType::Date32,
        FieldType::Int => DataType::Int64,
        FieldType::Ratio => DataType::Float64,
        FieldType::Money => DataType::Decimal128(18, 2),
    }
}

/// `enterprise_daily`: geography, then every non-personal schema field, then the source position.
pub fn enterprise_daily_schema(schema: &Schema) -> SchemaRef {
    let mut fields = geo_fields();
    fields.push(Field::new("district_code", DataType::Utf8, false));
    fields.push(Field::new("district_name", DataType::Utf8, false));
    for (_, f) in schema.output_fields() {
        fields.push(Field::new(&f.name, arrow_type(f.field_type), !f.required));
    }
    fields.push(Field::new("source_file", DataType::Utf8, false));
    fields.push(Field::new("source_row", DataType::Int32, false));
    Arc::new(ArrowSchema::new(fields))
}

pub fn district_daily_schema() -> SchemaRef {
    let mut fields = geo_fields();
    fields.extend([
        Field::new("district_code", DataType::Utf8, false),
        Field::new("district_name", DataType::Utf8, false),
        Field::new("submission_status", DataType::Utf8, false),
        Field::new("enterprises_total", DataType::Int64, true),
        Field::new("enterprises_resumed", DataType::Int64, true),
        Field::new("resumption_rate", DataType::Float64, true),
        Field::new("employees_total", DataType::Int64, true),
        Field::new("employees_on_duty", DataType::Int64, true),
        Field::new("on_duty_rate", DataType::Float64, true),
        Field::new("capacity_utilization_avg", DataType::Float64, true),
        Field::new("rows_rejected", DataType::Int64, false),
        Field::new("warnings", DataType::Int64, false),
        // When the submission arrived and whether by the deadline (contract §13).
        Field::new(
            "submitted_at",
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("on_time", DataType::Boolean, true),
    ]);
    Arc::new(ArrowSchema::new(fields))
}

pub fn city_daily_schema() -> SchemaRef {
    let mut fields = geo_fields();
    fields.extend([
        Field::new("districts_expected", DataType::Int64, false),
        Field::new("districts_reported", DataType::Int64, false),
        Field::new("districts_on_time", DataType::Int64, true),
        Field::new("enterprises_total", DataType::Int64, true),
        Field::new("enterprises_resumed", DataType::Int64, true),
        Field::new("resumption_rate", DataType::Float64, true),
        Field::new("employees_total", DataType::Int64, true),
        Field::new("employees_on_duty", DataType::Int64, true),
        Field::new("on_duty_rate", DataType::Float64, true),
        Field::new("capacity_utilization_avg", DataType::Float64, true),
        Field::new("resumption_rate_rank", DataType::Int32, true),
        Field::new("on_duty_rate_rank", DataType::Int32, true),
        Field::new("capacity_utilization_rank", DataType::Int32, true),
        Field::new("resumption_rate_change", DataType::Float64, true),
        // The seed's supply figures (口罩日产能, 融资需求), pooled like the counts.
        Field::new("mask_daily_capacity_total", DataType::Int64, true),
        Field::new("enterprises_with_financing_need", DataType::Int64, true),
        Field::new(
            "financing_need_cny_total",
            DataType::Decimal128(18, 2),
            true,
        ),
    ]);
    Arc::new(ArrowSchema::new(fields))
}

pub fn rejects_schema() -> SchemaRef {
    Arc::new(ArrowSchema::new(vec![
        Field::new("report_date", DataType::Date32, false),
        Field::new("district_code", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, true),
        Field::new("sheet", DataType::Utf8, true),
        Field::new("row", DataType::Int32, true),
        Field::new("column", DataType::Utf8, true),
        Field::new("field", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
        Field::new("code", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        // Extensions of the contract's columns, for the district feedback workbooks.
        Field::new("cell", DataType::Utf8, true),
        Field::new("expected", DataType::Utf8, true),
        // For a developer: a library's own words about why a file could not be read (never in
        // `message`, which is the clerk's).
        Field::new("detail", DataType::Utf8, true),
    ]))
}

/// `problem_ledger`: one row per problem ever opened, as of the snapshot date (contract §11).
pub fn problem_ledger_schema() -> SchemaRef {
    let mut fields = geo_fields();
    fields.extend([
        Field::new("district_code", DataType::Utf8, false),
        Field::new("district_name", DataType::Utf8, false),
        Field::new("uscc", DataType::Utf8, false),
        Field::new("enterprise_name", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        // The keyword that put the text in the category (null for the other category).
        Field::new("keyword", DataType::Utf8, true),
        Field::new("opened_on", DataType::Date32, false),
        Field::new("closed_on", DataType::Date32, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("days_open", DataType::Int32, false),
        Field::new("first_text", DataType::Utf8, false),
        Field::new("latest_text", DataType::Utf8, false),
        // The last date the enterprise reported this problem, and how many reports since were without it.
        Field::new("last_reported_on", DataType::Date32, false),
        Field::new("reports_without", DataType::Int32, false),
    ]);
    Arc::new(ArrowSchema::new(fields))
}

/// `problem_daily`: per city and category, the problems opened and closed that day, open, and open for
/// over 7 days.
pub fn problem_daily_schema() -> SchemaRef {
    let mut fields = geo_fields();
    fields.extend([
        Field::new("category", DataType::Utf8, false),
        Field::new("opened", DataType::Int64, false),
        Field::new("closed", DataType::Int64, false),
        Field::new("open", DataType::Int64, false),
        Field::new("open_over_7_days", DataType::Int64, false),
    ]);
    Arc::new(ArrowSchema::new(fields))
}

/// Rows per `enterprise_daily` file: a fixed number (not the core count), so the same inputs give the
/// same files on any machine; parts are written as they fill.
pub const ENTERPRISE_ROWS_PER_FILE: usize = 16_384;

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A record batch from named columns, put in the schema's order. A schema column no builder filled, or
/// a built column the schema does not have, is an error: a column is never shifted into its
/// neighbour's place.
pub fn batch_by_name<S: AsRef<str>>(
    schema: SchemaRef,
    columns: Vec<(S, ArrayRef)>,
) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<(S, Option<ArrayRef>)> =
        columns.into_iter().map(|(n, a)| (n, Some(a))).collect();
    let mut arrays = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let array = columns
            .iter_mut()
            .find(|(name, _)| name.as_ref() == field.name())
            .and_then(|(_, a)| a.take())
            .ok_or_else(|| {
                ArrowError::SchemaError(format!("no values were built for column {}", field.name()))
            })?;
        arrays.push(array);
    }
    if let Some((extra, _)) = columns.iter().find(|(_, a)| a.is_some()) {
        return Err(ArrowError::SchemaError(format!(
            "column {} was built but is not in the table's schema",
            extra.as_ref()
        )));
    }
    RecordBatch::try_new(schema, arrays)
}

/// A `report_date` column of `n` rows.
pub fn date_column(date: chrono::NaiveDate, n: usize) -> ArrayRef {
    Arc::new(Date32Array::from(vec![epoch_days(date); n]))
}

/// `enterprise_daily`, built as districts finish: each district's accepted rows, sorted by key, are
/// appended in district-code order to the current part; a full part (`ENTERPRISE_ROWS_PER_FILE` rows)
/// goes to `sink` at once and its memory is freed. The parts are the same whatever order districts were
/// read in, so re-running a date gives the same files.
pub struct EnterpriseWriter<'s> {
    schema: &'s Schema,
    date: i32,
    part: Option<PartBuilder>,
    parts: usize,
    rows: u64,
}

impl<'s> EnterpriseWriter<'s> {
    pub fn new(schema: &'s Schema, date: chrono::NaiveDate) -> Self {
        EnterpriseWriter {
            schema,
            date: epoch_days(date),
            part: None,
            parts: 0,
            rows: 0,
        }
    }

    /// Append one district's accepted rows (districts must come in code order), sorted by key. The
    /// whole parts one district fills (a large workbook fills several) are built on rayon's threads.
    pub fn push_district<E>(
        &mut self,
        district: &crate::config::District,
        source_file: &str,
        rows: &[crate::validate::AcceptedRow],
        sink: &mut dyn FnMut(usize, RecordBatch) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<ArrowError> + Send,
    {
        use rayon::prelude::*;
        let key = self.schema.key_field;
        let key_of = |i: usize| match rows[i].values.get(key) {
            Some(Some(Value::Text(t))) => t.as_str(),
            _ => "",
        };
        // By key, then source row, then place: the order a stable sort by (key, source row) gives;
        // on the key's first bytes first, so that most comparisons touch neither rows nor strings.
        let mut keyed: Vec<(u128, usize)> = (0..rows.len())
            .map(|i| (crate::text::order_prefix(key_of(i)), i))
            .collect();
        keyed.sort_unstable_by(|(pa, a), (pb, b)| {
            pa.cmp(pb).then_with(|| {
                key_of(*a)
                    .cmp(key_of(*b))
                    .then(rows[*a].source_row.cmp(&rows[*b].source_row))
                    .then(a.cmp(b))
            })
        });
        let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
        let (schema, date) = (self.schema, self.date);
        let append = |part: &mut PartBuilder, chunk: &[usize]| {
            for &i in chunk {
                part.append(date, district, source_file, &rows[i]);
            }
        };
        let mut rest = &order[..];
        // The open part is filled first.
        if let Some(part) = self.part.as_mut() {
            let (now, later) = rest.split_at((ENTERPRISE_ROWS_PER_FILE - part.len).min(rest.len()));
            append(part, now);
            self.rows += now.len() as u64;
            rest = later;
            if part.len == ENTERPRISE_ROWS_PER_FILE
                && let Some(full) = self.part.take()
            {
                sink(self.parts, full.finish(schema)?)?;
                self.parts += 1;
            }
        }
        let (whole, tail) =
            rest.split_at(rest.len() / ENTERPRISE_ROWS_PER_FILE * ENTERPRISE_ROWS_PER_FILE);
        let built: Vec<Result<RecordBatch, ArrowError>> = whole
            .par_chunks(ENTERPRISE_ROWS_PER_FILE)
            .map(|chunk| {
                let mut part = PartBuilder::new(schema, ENTERPRISE_ROWS_PER_FILE);
                append(&mut part, chunk);
                part.finish(schema)
            })
            .collect();
        for batch in built {
            sink(self.parts, batch?)?;
            self.parts += 1;
            self.rows += ENTERPRISE_ROWS_PER_FILE as u64;
        }
        if !tail.is_empty() {
            let mut part = PartBuilder::new(schema, ENTERPRISE_ROWS_PER_FILE);
            append(&mut part, tail);
            self.rows += tail.len() as u64;
            self.part = Some(part);
        }
        Ok(())
    }

    /// The last part (an empty file when the date has no accepted row at all). Returns the rows written.
    pub fn finish<E>(
        mut self,
        sink: &mut dyn FnMut(usize, RecordBatch) -> Result<(), E>,
    ) -> Result<u64, E>
    where
        E: From<ArrowError>,
    {
        match self.part.take() {
            Some(part) => sink(self.parts, part.finish(self.schema)?)?,
            None if self.parts == 0 => sink(
                0,
                RecordBatch::new_empty(enterprise_daily_schema(self.schema)),
            )?,
            None => {}
        }
        Ok(self.rows)
    }
}

/// One part of `enterprise_daily` being filled.
struct PartBuilder {
    len: usize,
    report_date: Date32Builder,
    /// The district's columns, by name.
    district: Vec<(&'static str, StringBuilder)>,
    /// The schema's output fields: index in the row, column name, builder.
    fields: Vec<(usize, String, ColumnBuilder)>,
    source_file: StringBuilder,
    source_row: Int32Builder,
}

/// The district columns of `enterprise_daily`, each with how to read it from the district.
/// Reads one of a district's names or codes.
type DistrictText = fn(&crate::config::District) -> &str;

const DISTRICT_COLUMNS: [(&str, DistrictText); 5] = [
    ("province_code", |d| &d.province_code),
    ("city_code", |d| &d.city_code),
    ("city_name", |d| &d.city_name),
    ("district_code", |d| &d.code),
    ("district_name", |d| &d.name),
];

impl PartBuilder {
    fn new(schema: &Schema, n: usize) -> PartBuilder {
        PartBuilder {
            len: 0,
            report_date: Date32Builder::with_capacity(n),
            district: DISTRICT_COLUMNS
                .iter()
                .map(|(name, _)| (*name, StringBuilder::with_capacity(n, n * 8)))
                .collect(),
            fields: schema
                .output_fields()
                .map(|(i, f)| (i, f.name.clone(), ColumnBuilder::new(f.field_type, n)))
                .collect(),
            source_file: StringBuilder::with_capacity(n, n * 12),
            source_row: Int32Builder::with_capacity(n),
        }
    }

    fn append(
        &mut self,
        date: i32,
        d: &crate::config::District,
        source_file: &str,
        row: &crate::validate::AcceptedRow,
    ) {
        self.len += 1;
        self.report_date.append_value(date);
        for ((_, builder), (_, value_of)) in self.district.iter_mut().zip(DISTRICT_COLUMNS) {
            builder.append_value(value_of(d));
        }
        for (field, _, builder) in &mut self.fields {
            builder.append(row.values.get(*field).and_then(Option::as_ref));
        }
        self.source_file.append_value(source_file);
        self.source_row.append_value(i32_of(row.source_row));
    }

    fn finish(mut self, schema: &Schema) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<(String, ArrayRef)> =
            vec![("report_date".into(), Arc::new(self.report_date.finish()))];
        for (name, mut builder) in self.district {
            columns.push((name.into(), Arc::new(builder.finish())));
        }
        for (_, name, builder) in self.fields {
            columns.push((name, builder.finish()?));
        }
        columns.push(("source_file".into(), Arc::new(self.source_file.finish())));
        columns.push(("source_row".into(), Arc::new(self.source_row.finish())));
        batch_by_name(enterprise_daily_schema(schema), columns)
    }
}

enum ColumnBuilder {
    Text(StringBuilder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Int(Int64Builder),
    Ratio(Float64Builder),
    Money(Decimal128Builder),
}

impl ColumnBuilder {
    fn new(t: FieldType, n: usize) -> ColumnBuilder {
        match t {
            FieldType::Text | FieldType::Uscc => {
                ColumnBuilder::Text(StringBuilder::with_capacity(n, n * 16))
            }
            FieldType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(n)),
            FieldType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(n)),
            FieldType::Int => ColumnBuilder::Int(Int64Builder::with_capacity(n)),
            FieldType::Ratio => ColumnBuilder::Ratio(Float64Builder::with_capacity(n)),
            FieldType::Money => ColumnBuilder::Money(Decimal128Builder::with_capacity(n)),
        }
    }

    fn append(&mut self, value: Option<&Value>) {
        match (self, value) {
            (ColumnBuilder::Text(b), Some(Value::Text(t))) => b.append_value(t),
            (ColumnBuilder::Text(b), _) => b.append_null(),
            (ColumnBuilder::Bool(b), Some(Value::Bool(v))) => b.append_value(*v),
            (ColumnBuilder::Bool(b), _) => b.append_null(),
            (ColumnBuilder::Date(b), Some(Value::Date(v))) => b.append_value(*v),
            (ColumnBuilder::Date(b), _) => b.append_null(),
            (ColumnBuilder::Int(b), Some(Value::Int(v))) => b.append_value(*v),
            (ColumnBuilder::Int(b), _) => b.append_null(),
            (ColumnBuilder::Ratio(b), Some(Value::Ratio(v))) => b.append_value(*v),
            (ColumnBuilder::Ratio(b), _) => b.append_null(),
            (ColumnBuilder::Money(b), Some(Value::Money(v))) => b.append_value(i128::from(*v)),
            (ColumnBuilder::Money(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Ratio(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Money(mut b) => Arc::new(b.finish().with_precision_and_scale(18, 2)?),
        })
    }
}

/// `rejects` of one date: every finding of every district, file-level ones first, then by row.
pub fn rejects_batch(day: &DayResult) -> Result<RecordBatch, ArrowError> {
    let mut rows: Vec<RejectRow<'_>> = Vec::new();
    for d in &day.districts {
        let mut findings: Vec<&crate::validate::Finding> = d.outcome.findings.iter().collect();
        // File-level findings first, then by row; the order within a row is the order found.
        findings.sort_by_key(|f| f.row.map_or(0, |r| u64::from(r) + 1));
        rows.extend(findings.into_iter().map(|finding| RejectRow {
            district_code: &d.district.code,
            source_file: d.source.as_ref().map(|s| s.file_name.as_str()),
            sheet: d.outcome.sheet.as_deref(),
            finding,
        }));
    }
    rejects_of(day.report_date, &rows)
}

/// One row of `rejects`: a finding and the submission it was found in.
#[derive(Debug, Clone, Copy)]
pub struct RejectRow<'a> {
    pub district_code: &'a str,
    pub source_file: Option<&'a str>,
    pub sheet: Option<&'a str>,
    pub finding: &'a crate::validate::Finding,
}

/// `rejects` rows of a date, in the given order: the one place the table's columns are filled.
pub fn rejects_of(
    date: chrono::NaiveDate,
    rows: &[RejectRow<'_>],
) -> Result<RecordBatch, ArrowError> {
    let text = |get: &dyn Fn(&RejectRow<'_>) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from_iter(rows.iter().map(get)))
    };
    let finding = |get: fn(&crate::validate::Finding) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from_iter(rows.iter().map(|r| get(r.finding))))
    };
    batch_by_name(
        rejects_schema(),
        vec![
            ("report_date", date_column(date, rows.len())),
            (
                "district_code",
                text(&|r| Some(r.district_code.to_string())),
            ),
            ("source_file", text(&|r| r.source_file.map(str::to_string))),
            ("sheet", text(&|r| r.sheet.map(str::to_string))),
            (
                "row",
                Arc::new(Int32Array::from_iter(
                    rows.iter().map(|r| r.finding.row.map(i32_of)),
                )),
            ),
            ("column", finding(|f| f.column.clone())),
            ("field", finding(|f| f.field.clone())),
            ("value", finding(|f| f.value.clone())),
            ("code", finding(|f| Some(f.code.as_str().to_string()))),
            (
                "severity",
                finding(|f| Some(f.severity.as_str().to_string())),
            ),
            ("message", finding(|f| Some(f.message.clone()))),
            ("cell", finding(|f| f.cell.clone())),
            ("expected", finding(|f| f.expected.clone())),
            ("detail", finding(|f| f.detail.clone())),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two districts whose rows fill several parts (the first leaves a part open for the second),
    /// keys out of order and repeated: the parts, built in parallel, hold the rows a stable sort by
    /// (key, source row) gives, district after district, split every `ENTERPRISE_ROWS_PER_FILE` rows.
    #[test]
    fn parts_built_in_parallel_hold_the_rows_of_a_stable_sort() {
        use arrow::array::{Array, Int32Array, StringArray};
        let schema = Schema::builtin().expect("schema");
        let district = |code: &str| crate::config::District {
            code: code.into(),
            name: format!("区{code}"),
            city_code: format!("{}00", &code[..4]),
            city_name: format!("市{}", &code[..4]),
            province_code: "370000".into(),
        };
        // Keys repeat (about every 7th row) and share long prefixes.
        let rows_of = |n: u32, salt: u32| -> Vec<crate::validate::AcceptedRow> {
            (0..n)
                .map(|i| {
                    // Every field a value of its type (required ones cannot be empty); the key varies.
                    let mut values: Vec<Option<Value>> = schema
                        .fields
                        .iter()
                        .map(|f| {
                            Some(match f.field_type {
                                FieldType::Text | FieldType::Uscc => {
                                    Value::Text(format!("企业{i}"))
                                }
                                FieldType::Bool => Value::Bool(i % 2 == 0),
                                FieldType::Date => Value::Date(18_000),
                                FieldType::Int => Value::Int(i64::from(i)),
                                FieldType::Ratio => Value::Ratio(0.5),
                                FieldType::Money => Value::Money(100),
                            })
                        })
                        .collect();
                    let k = (i.wrapping_mul(2_654_435_761) ^ salt) % (n / 7 + 1);
                    let key = format!("91370000MA{:08}", k % 5000) + &"X".repeat((k % 3) as usize);
                    values[schema.key_field] = Some(Value::Text(key));
                    crate::validate::AcceptedRow {
                        source_row: 3 + (n - i),
                        values,
                        problems: None,
                    }
                })
                .collect()
        };
        let days = [
            (district("370102"), rows_of(20_000, 1)),
            (district("370103"), rows_of(31_000, 2)),
        ];
        let date = chrono::NaiveDate::from_ymd_opt(2020, 2, 24).expect("date");
        let mut writer = EnterpriseWriter::new(&schema, date);
        let mut parts: Vec<(usize, RecordBatch)> = Vec::new();
        let mut sink = |part, batch| {
            parts.push((part, batch));
            Ok::<(), ArrowError>(())
        };
        for (d, rows) in &days {
            writer
                .push_district(d, "f.xlsx", rows, &mut sink)
                .expect("push");
        }
        assert_eq!(writer.finish(&mut sink).expect("finish"), 51_000);
        let sizes: Vec<usize> = parts.iter().map(|(_, b)| b.num_rows()).collect();
        assert_eq!(sizes, [16_384, 16_384, 16_384, 51_000 - 3 * 16_384]);
        assert_eq!(
            parts.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );

        let key_name = &schema.fields[schema.key_field].name;
        let mut expected: Vec<(String, String, i32)> = Vec::new();
        for (d, rows) in &days {
            let mut sorted: Vec<&crate::validate::AcceptedRow> = rows.iter().collect();
            let key = |r: &crate::validate::AcceptedRow| match &r.values[schema.key_field] {
                Some(Value::Text(t)) => t.clone(),
                _ => String::new(),
            };
            sorted.sort_by_key(|r| (key(r), r.source_row));
            expected.extend(
                sorted
                    .into_iter()
                    .map(|r| (d.code.clone(), key(r), r.source_row as i32)),
            );
        }
        let mut got: Vec<(String, String, i32)> = Vec::new();
        for (_, b) in &parts {
            let codes = column::<StringArray>(b, "district_code").expect("district_code");
            let keys = column::<StringArray>(b, key_name).expect("key");
            let rows = column::<Int32Array>(b, "source_row").expect("source_row");
            for i in 0..b.num_rows() {
                let k = if keys.is_null(i) {
                    String::new()
                } else {
                    keys.value(i).to_string()
                };
                got.push((codes.value(i).to_string(), k, rows.value(i)));
            }
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn columns_are_placed_by_name_and_a_missing_or_extra_one_is_an_error() {
        let schema = Arc::new(ArrowSchema::new(vec![
            Field::new("a", DataType::Int32, false),
            Field::new("b", DataType::Utf8, false),
        ]));
        let a: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        let b: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        let batch = batch_by_name(
            Arc::clone(&schema),
            vec![("b", b.clone()), ("a", a.clone())],
        )
        .expect("by name");
        assert_eq!(batch.column(0).as_ref(), a.as_ref());
        let err = batch_by_name(Arc::clone(&schema), vec![("a", a.clone())]).expect_err("missing");
        assert!(err.to_string().contains("column b"), "{err}");
        let err =
            batch_by_name(schema, vec![("a", a), ("b", b.clone()), ("c", b)]).expect_err("extra");
        assert!(err.to_string().contains("column c"), "{err}");
    }
}
