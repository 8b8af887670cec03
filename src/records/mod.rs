//! Records stage: the Arrow schemas of the four tables (contract §4, one function each) and the builders
//! that turn one date's results into record batches, sorted as the contract says.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder,
    Int64Builder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use arrow::error::ArrowError;

use crate::compare::Comparison;
use crate::config::Schema;
use crate::config::schema::FieldType;
use crate::day::DayResult;
use crate::validate::Value;
use crate::validate::row::epoch_days;

pub mod evolution;

/// The four tables of the warehouse, in publish order.
pub const TABLES: [&str; 4] = [
    "enterprise_daily",
    "district_daily",
    "city_daily",
    "rejects",
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
    ]);
    Arc::new(ArrowSchema::new(fields))
}

pub fn city_daily_schema() -> SchemaRef {
    let mut fields = geo_fields();
    fields.extend([
        Field::new("districts_expected", DataType::Int64, false),
        Field::new("districts_reported", DataType::Int64, false),
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

/// Rows per `enterprise_daily` file: a fixed number (not the core count), so the same inputs give the
/// same files on any machine; parts are written as they fill.
pub const ENTERPRISE_ROWS_PER_FILE: usize = 16_384;

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The three small tables of one date (`enterprise_daily` is written as it streams, by
/// `EnterpriseWriter`).
pub fn build_summaries(
    day: &DayResult,
    comparison: &Comparison,
) -> Result<(RecordBatch, RecordBatch, RecordBatch), ArrowError> {
    let date = epoch_days(day.report_date);
    Ok((
        district_daily(comparison, date)?,
        city_daily(&comparison.cities, date)?,
        rejects(day, date)?,
    ))
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

    /// Append one district's accepted rows (districts must come in code order).
    pub fn push_district<E>(
        &mut self,
        district: &crate::config::District,
        source_file: &str,
        mut rows: Vec<crate::validate::AcceptedRow>,
        sink: &mut dyn FnMut(usize, RecordBatch) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<ArrowError>,
    {
        let key = self.schema.key_field;
        let key_of = |r: &crate::validate::AcceptedRow| match r.values.get(key) {
            Some(Some(Value::Text(t))) => t.clone(),
            _ => String::new(),
        };
        rows.sort_by_cached_key(|r| (key_of(r), r.source_row));
        for row in rows {
            let part = self
                .part
                .get_or_insert_with(|| PartBuilder::new(self.schema, ENTERPRISE_ROWS_PER_FILE));
            part.append(self.date, district, source_file, &row);
            self.rows += 1;
            if part.len == ENTERPRISE_ROWS_PER_FILE {
                let full = self.part.take().map(|p| p.finish(self.schema));
                if let Some(batch) = full {
                    sink(self.parts, batch?)?;
                    self.parts += 1;
                }
            }
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
    geo: Vec<StringBuilder>,
    fields: Vec<(usize, ColumnBuilder)>,
    source_file: StringBuilder,
    source_row: Int32Builder,
}

impl PartBuilder {
    fn new(schema: &Schema, n: usize) -> PartBuilder {
        PartBuilder {
            len: 0,
            report_date: Date32Builder::with_capacity(n),
            geo: (0..5)
                .map(|_| StringBuilder::with_capacity(n, n * 8))
                .collect(),
            fields: schema
                .output_fields()
                .map(|(i, f)| (i, ColumnBuilder::new(f.field_type, n)))
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
        for (b, v) in self.geo.iter_mut().zip([
            &d.province_code,
            &d.city_code,
            &d.city_name,
            &d.code,
            &d.name,
        ]) {
            b.append_value(v);
        }
        for (field, builder) in &mut self.fields {
            builder.append(row.values.get(*field).and_then(Option::as_ref));
        }
        self.source_file.append_value(source_file);
        self.source_row.append_value(i32_of(row.source_row));
    }

    fn finish(mut self, schema: &Schema) -> Result<RecordBatch, ArrowError> {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.report_date.finish())];
        arrays.extend(
            self.geo
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        for (_, c) in self.fields {
            arrays.push(c.finish()?);
        }
        arrays.push(Arc::new(self.source_file.finish()));
        arrays.push(Arc::new(self.source_row.finish()));
        RecordBatch::try_new(enterprise_daily_schema(schema), arrays)
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

fn district_daily(comparison: &Comparison, date: i32) -> Result<RecordBatch, ArrowError> {
    let n = comparison.districts.len();
    let mut s: Vec<StringBuilder> = (0..6)
        .map(|_| StringBuilder::with_capacity(n, n * 8))
        .collect();
    let mut ints: Vec<Int64Builder> = (0..4).map(|_| Int64Builder::with_capacity(n)).collect();
    let mut rates: Vec<Float64Builder> = (0..3).map(|_| Float64Builder::with_capacity(n)).collect();
    let mut rows_rejected = Int64Builder::with_capacity(n);
    let mut warnings = Int64Builder::with_capacity(n);
    let mut report_date = Date32Builder::with_capacity(n);
    let mut districts: Vec<&crate::compare::DistrictAggregate> =
        comparison.districts.iter().collect();
    districts.sort_by(|a, b| a.district.code.cmp(&b.district.code));
    for d in districts {
        report_date.append_value(date);
        for (b, v) in s.iter_mut().zip([
            d.district.province_code.as_str(),
            &d.district.city_code,
            &d.district.city_name,
            &d.district.code,
            &d.district.name,
            d.status.as_str(),
        ]) {
            b.append_value(v);
        }
        let t = d.tally.as_ref();
        for (b, v) in ints.iter_mut().zip([
            t.map(|t| t.enterprises_total),
            t.map(|t| t.enterprises_resumed),
            t.map(|t| t.employees_total),
            t.map(|t| t.employees_on_duty),
        ]) {
            b.append_option(v);
        }
        for (b, v) in rates.iter_mut().zip([
            t.and_then(|t| t.resumption_rate()),
            t.and_then(|t| t.on_duty_rate()),
            t.and_then(|t| t.capacity_utilization_avg()),
        ]) {
            b.append_option(v);
        }
        rows_rejected.append_value(d.rows_rejected);
        warnings.append_value(d.warnings);
    }
    let mut s = s.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut ints = ints
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut rates = rates
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let next = |it: &mut dyn Iterator<Item = ArrayRef>| {
        it.next()
            .ok_or_else(|| ArrowError::SchemaError("column count".into()))
    };
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(report_date.finish()),
        next(&mut s)?,
        next(&mut s)?,
        next(&mut s)?,
        next(&mut s)?,
        next(&mut s)?,
        next(&mut s)?,
        next(&mut ints)?,
        next(&mut ints)?,
        next(&mut rates)?,
        next(&mut ints)?,
        next(&mut ints)?,
        next(&mut rates)?,
        next(&mut rates)?,
        Arc::new(rows_rejected.finish()),
        Arc::new(warnings.finish()),
    ];
    RecordBatch::try_new(district_daily_schema(), arrays)
}

/// `city_daily` of one date from its city aggregates.
pub fn city_daily_batch(
    cities: &[crate::compare::CityAggregate],
    date: chrono::NaiveDate,
) -> Result<RecordBatch, ArrowError> {
    city_daily(cities, epoch_days(date))
}

fn city_daily(
    cities: &[crate::compare::CityAggregate],
    date: i32,
) -> Result<RecordBatch, ArrowError> {
    let n = cities.len();
    let mut report_date = Date32Builder::with_capacity(n);
    let mut s: Vec<StringBuilder> = (0..3)
        .map(|_| StringBuilder::with_capacity(n, n * 8))
        .collect();
    let mut expected = Int64Builder::with_capacity(n);
    let mut reported = Int64Builder::with_capacity(n);
    let mut counts: Vec<Int64Builder> = (0..4).map(|_| Int64Builder::with_capacity(n)).collect();
    let mut rates: Vec<Float64Builder> = (0..3).map(|_| Float64Builder::with_capacity(n)).collect();
    let mut ranks: Vec<Int32Builder> = (0..3).map(|_| Int32Builder::with_capacity(n)).collect();
    let mut change = Float64Builder::with_capacity(n);
    for c in cities {
        report_date.append_value(date);
        for (b, v) in s
            .iter_mut()
            .zip([&c.province_code, &c.city_code, &c.city_name])
        {
            b.append_value(v);
        }
        expected.append_value(c.districts_expected);
        reported.append_value(c.districts_reported);
        for (b, v) in counts.iter_mut().zip([
            c.enterprises_total,
            c.enterprises_resumed,
            c.employees_total,
            c.employees_on_duty,
        ]) {
            b.append_option(v);
        }
        for (b, v) in rates.iter_mut().zip([
            c.resumption_rate,
            c.on_duty_rate,
            c.capacity_utilization_avg,
        ]) {
            b.append_option(v);
        }
        for (b, v) in ranks.iter_mut().zip([
            c.resumption_rate_rank,
            c.on_duty_rate_rank,
            c.capacity_utilization_rank,
        ]) {
            b.append_option(v);
        }
        change.append_option(c.resumption_rate_change);
    }
    let mut s = s.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut counts = counts
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut rates = rates
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let mut ranks = ranks
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let next = |it: &mut dyn Iterator<Item = ArrayRef>| {
        it.next()
            .ok_or_else(|| ArrowError::SchemaError("column count".into()))
    };
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(report_date.finish()),
        next(&mut s)?,
        next(&mut s)?,
        next(&mut s)?,
        Arc::new(expected.finish()),
        Arc::new(reported.finish()),
        next(&mut counts)?,
        next(&mut counts)?,
        next(&mut rates)?,
        next(&mut counts)?,
        next(&mut counts)?,
        next(&mut rates)?,
        next(&mut rates)?,
        next(&mut ranks)?,
        next(&mut ranks)?,
        next(&mut ranks)?,
        Arc::new(change.finish()),
    ];
    RecordBatch::try_new(city_daily_schema(), arrays)
}

fn rejects(day: &DayResult, date: i32) -> Result<RecordBatch, ArrowError> {
    let n: usize = day.districts.iter().map(|d| d.outcome.findings.len()).sum();
    let mut report_date = Date32Builder::with_capacity(n);
    let mut district_code = StringBuilder::with_capacity(n, n * 6);
    let mut source_file = StringBuilder::with_capacity(n, n * 12);
    let mut sheet = StringBuilder::with_capacity(n, n * 8);
    let mut row = Int32Builder::with_capacity(n);
    let mut column = StringBuilder::with_capacity(n, n * 8);
    let mut field = StringBuilder::with_capacity(n, n * 8);
    let mut value = StringBuilder::with_capacity(n, n * 8);
    let mut code = StringBuilder::with_capacity(n, n * 12);
    let mut severity = StringBuilder::with_capacity(n, n * 6);
    let mut message = StringBuilder::with_capacity(n, n * 64);
    let mut cell = StringBuilder::with_capacity(n, n * 4);
    let mut expected = StringBuilder::with_capacity(n, n * 16);
    let mut detail = StringBuilder::with_capacity(n, 0);
    for d in &day.districts {
        let mut findings: Vec<&crate::validate::Finding> = d.outcome.findings.iter().collect();
        // File-level findings first, then by row; the order within a row is the order found.
        findings.sort_by_key(|f| f.row.map_or(0, |r| u64::from(r) + 1));
        for f in findings {
            report_date.append_value(date);
            district_code.append_value(&d.district.code);
            source_file.append_option(d.source.as_ref().map(|s| s.file_name.as_str()));
            sheet.append_option(d.outcome.sheet.as_deref());
            row.append_option(f.row.map(i32_of));
            column.append_option(f.column.as_deref());
            field.append_option(f.field.as_deref());
            value.append_option(f.value.as_deref());
            code.append_value(f.code.as_str());
            severity.append_value(f.severity.as_str());
            message.append_value(&f.message);
            cell.append_option(f.cell.as_deref());
            expected.append_option(f.expected.as_deref());
            detail.append_option(f.detail.as_deref());
        }
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(report_date.finish()),
        Arc::new(district_code.finish()),
        Arc::new(source_file.finish()),
        Arc::new(sheet.finish()),
        Arc::new(row.finish()),
        Arc::new(column.finish()),
        Arc::new(field.finish()),
        Arc::new(value.finish()),
        Arc::new(code.finish()),
        Arc::new(severity.finish()),
        Arc::new(message.finish()),
        Arc::new(cell.finish()),
        Arc::new(expected.finish()),
        Arc::new(detail.finish()),
    ];
    RecordBatch::try_new(rejects_schema(), arrays)
}
