//! `problem_ledger` and `problem_daily` written from the ledger (columns by name), and the ledger read
//! back from a published date.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Date32Builder, Int32Array, Int32Builder, Int64Array, RecordBatch,
    StringArray, StringBuilder,
};
use arrow::error::ArrowError;
use chrono::NaiveDate;

use super::ledger::{DailyCount, Problem, days_open, status_of};
use crate::config::District;
use crate::publish::{FileContent, PublishError, StagedFile, StagedTable};
use crate::records::{batch_by_name, date_column, problem_daily_schema, problem_ledger_schema};
use crate::validate::row::epoch_days;

fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Days::new(days.max(0) as u64)
}

/// One row of `problem_ledger`, borrowed from wherever it is held: a `Problem`, a row of the previous
/// date's ledger, a report.
#[derive(Debug, Clone, Copy)]
pub struct LedgerRow<'a> {
    pub district: DistrictRef<'a>,
    pub uscc: &'a str,
    pub enterprise_name: &'a str,
    pub category: &'a str,
    pub keyword: Option<&'a str>,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub first_text: &'a str,
    pub latest_text: &'a str,
    pub last_reported_on: NaiveDate,
    pub reports_without: u32,
}

/// A district's codes and names as a ledger row carries them.
#[derive(Debug, Clone, Copy)]
pub struct DistrictRef<'a> {
    pub province_code: &'a str,
    pub city_code: &'a str,
    pub city_name: &'a str,
    pub code: &'a str,
    pub name: &'a str,
}

impl<'a> DistrictRef<'a> {
    pub fn of(d: &'a District) -> DistrictRef<'a> {
        DistrictRef {
            province_code: &d.province_code,
            city_code: &d.city_code,
            city_name: &d.city_name,
            code: &d.code,
            name: &d.name,
        }
    }
}

impl<'a> LedgerRow<'a> {
    pub fn of(p: &'a Problem) -> LedgerRow<'a> {
        LedgerRow {
            district: DistrictRef::of(&p.district),
            uscc: &p.uscc,
            enterprise_name: &p.enterprise_name,
            category: &p.category,
            keyword: p.keyword.as_deref(),
            opened_on: p.opened_on,
            closed_on: p.closed_on,
            first_text: &p.first_text,
            latest_text: &p.latest_text,
            last_reported_on: p.last_reported_on,
            reports_without: p.reports_without,
        }
    }
}

/// The columns of `problem_ledger` being built row by row.
pub struct LedgerColumns {
    texts: [StringBuilder; 10],
    keyword: StringBuilder,
    status: StringBuilder,
    opened_on: Date32Builder,
    closed_on: Date32Builder,
    last_reported_on: Date32Builder,
    days_open: Int32Builder,
    reports_without: Int32Builder,
    rows: usize,
}

/// The text columns of `LedgerColumns::texts`, in its order.
const LEDGER_TEXTS: [&str; 10] = [
    "province_code",
    "city_code",
    "city_name",
    "district_code",
    "district_name",
    "uscc",
    "enterprise_name",
    "category",
    "first_text",
    "latest_text",
];

impl LedgerColumns {
    pub fn with_capacity(rows: usize) -> LedgerColumns {
        LedgerColumns {
            texts: std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 8)),
            keyword: StringBuilder::with_capacity(rows, rows * 8),
            status: StringBuilder::with_capacity(rows, rows * 6),
            opened_on: Date32Builder::with_capacity(rows),
            closed_on: Date32Builder::with_capacity(rows),
            last_reported_on: Date32Builder::with_capacity(rows),
            days_open: Int32Builder::with_capacity(rows),
            reports_without: Int32Builder::with_capacity(rows),
            rows: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append one row of the ledger of `date`.
    pub fn push(&mut self, row: &LedgerRow<'_>, date: NaiveDate) {
        let d = &row.district;
        let values = [
            d.province_code,
            d.city_code,
            d.city_name,
            d.code,
            d.name,
            row.uscc,
            row.enterprise_name,
            row.category,
            row.first_text,
            row.latest_text,
        ];
        for (builder, value) in self.texts.iter_mut().zip(values) {
            builder.append_value(value);
        }
        self.keyword.append_option(row.keyword);
        self.status.append_value(status_of(row.closed_on));
        self.opened_on.append_value(epoch_days(row.opened_on));
        self.closed_on.append_option(row.closed_on.map(epoch_days));
        self.last_reported_on
            .append_value(epoch_days(row.last_reported_on));
        let days = days_open(row.opened_on, row.closed_on, date);
        self.days_open
            .append_value(i32::try_from(days).unwrap_or(i32::MAX));
        self.reports_without
            .append_value(i32::try_from(row.reports_without).unwrap_or(i32::MAX));
        self.rows += 1;
    }

    /// The rows appended so far as a `problem_ledger` batch of `date`; the builders start again empty.
    pub fn finish(&mut self, date: NaiveDate) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<(&str, ArrayRef)> = LEDGER_TEXTS
            .iter()
            .zip(self.texts.iter_mut())
            .map(|(name, b)| (*name, Arc::new(b.finish()) as ArrayRef))
            .collect();
        let rows = std::mem::take(&mut self.rows);
        columns.extend([
            ("report_date", date_column(date, rows)),
            ("keyword", Arc::new(self.keyword.finish()) as ArrayRef),
            ("status", Arc::new(self.status.finish())),
            ("opened_on", Arc::new(self.opened_on.finish())),
            ("closed_on", Arc::new(self.closed_on.finish())),
            ("last_reported_on", Arc::new(self.last_reported_on.finish())),
            ("days_open", Arc::new(self.days_open.finish())),
            ("reports_without", Arc::new(self.reports_without.finish())),
        ]);
        batch_by_name(problem_ledger_schema(), columns)
    }
}

/// `problem_ledger` of `date`.
pub fn ledger_batch(ledger: &[Problem], date: NaiveDate) -> Result<RecordBatch, ArrowError> {
    let mut columns = LedgerColumns::with_capacity(ledger.len());
    for p in ledger {
        columns.push(&LedgerRow::of(p), date);
    }
    columns.finish(date)
}

/// Rows per part of `problem_ledger`: the Arrow arrays of one part at a time are in memory.
pub const LEDGER_PART_ROWS: usize = 65_536;

/// `problem_ledger` of `date` encoded as part files of at most `part_rows` rows each.
pub fn ledger_table(
    ledger: &[Problem],
    date: NaiveDate,
    part_rows: usize,
) -> Result<StagedTable, PublishError> {
    LedgerParts::new(date, part_rows).finish(ledger)
}

/// `problem_daily` of `date`.
pub fn daily_batch(counts: &[DailyCount], date: NaiveDate) -> Result<RecordBatch, ArrowError> {
    let text = |get: &dyn Fn(&DailyCount) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(counts.iter().map(get)))
    };
    let int = |get: &dyn Fn(&DailyCount) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(counts.iter().map(get)))
    };
    batch_by_name(
        problem_daily_schema(),
        vec![
            ("report_date", date_column(date, counts.len())),
            ("province_code", text(&|c| &c.province_code)),
            ("city_code", text(&|c| &c.city_code)),
            ("city_name", text(&|c| &c.city_name)),
            ("category", text(&|c| &c.category)),
            ("opened", int(&|c| c.opened)),
            ("closed", int(&|c| c.closed)),
            ("open", int(&|c| c.open)),
            ("open_over_7_days", int(&|c| c.open_over_7_days)),
        ],
    )
}

fn column<'a, T: arrow::array::Array + 'static>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a T, ArrowError> {
    Ok(crate::records::column(batch, name)?)
}

/// The rows of `problem_daily` batches (a published date's).
pub fn counts_of_batches(batches: &[RecordBatch]) -> Result<Vec<DailyCount>, ArrowError> {
    let mut out = Vec::new();
    for b in batches {
        let s = |n| column::<StringArray>(b, n);
        let i = |n| column::<Int64Array>(b, n);
        let (province, city_code, city_name, category) = (
            s("province_code")?,
            s("city_code")?,
            s("city_name")?,
            s("category")?,
        );
        let (opened, closed, open, over) = (
            i("opened")?,
            i("closed")?,
            i("open")?,
            i("open_over_7_days")?,
        );
        for r in 0..b.num_rows() {
            out.push(DailyCount {
                province_code: province.value(r).into(),
                city_code: city_code.value(r).into(),
                city_name: city_name.value(r).into(),
                category: category.value(r).into(),
                opened: opened.value(r),
                closed: closed.value(r),
                open: open.value(r),
                open_over_7_days: over.value(r),
            });
        }
    }
    Ok(out)
}

/// Shared copies of the texts a ledger repeats (districts, categories, keywords).
#[derive(Default)]
pub(crate) struct Interner {
    districts: HashMap<String, Arc<District>>,
    texts: HashMap<String, Arc<str>>,
}

impl Interner {
    fn text(&mut self, value: &str) -> Arc<str> {
        if let Some(t) = self.texts.get(value) {
            return Arc::clone(t);
        }
        let t: Arc<str> = value.into();
        self.texts.insert(value.to_string(), Arc::clone(&t));
        t
    }
}

/// The ledger in `problem_ledger` batches (a published date's).
pub fn problems_of_batches(batches: &[RecordBatch]) -> Result<Vec<Problem>, ArrowError> {
    let mut out = Vec::new();
    let mut shared = Interner::default();
    for b in batches {
        append_problems(&mut shared, b, &mut out)?;
    }
    super::ledger::sort(&mut out);
    Ok(out)
}

/// The problems of one `problem_ledger` batch, appended to `out`.
pub(crate) fn append_problems(
    shared: &mut Interner,
    b: &RecordBatch,
    out: &mut Vec<Problem>,
) -> Result<(), ArrowError> {
    let s = |n| column::<StringArray>(b, n);
    let d = |n| column::<Date32Array>(b, n);
    let (province, city_code, city_name) = (s("province_code")?, s("city_code")?, s("city_name")?);
    let (district_code, district_name) = (s("district_code")?, s("district_name")?);
    let (uscc, name, category, keyword) = (
        s("uscc")?,
        s("enterprise_name")?,
        s("category")?,
        s("keyword")?,
    );
    let (opened, closed, last) = (d("opened_on")?, d("closed_on")?, d("last_reported_on")?);
    let (first, latest) = (s("first_text")?, s("latest_text")?);
    let without = column::<Int32Array>(b, "reports_without")?;
    for i in 0..b.num_rows() {
        let code = district_code.value(i);
        let district = match shared.districts.get(code) {
            Some(d) => Arc::clone(d),
            None => {
                let d = Arc::new(District {
                    code: code.to_string(),
                    name: district_name.value(i).to_string(),
                    city_code: city_code.value(i).to_string(),
                    city_name: city_name.value(i).to_string(),
                    province_code: province.value(i).to_string(),
                });
                shared.districts.insert(code.to_string(), Arc::clone(&d));
                d
            }
        };
        let first_text: Arc<str> = first.value(i).into();
        let latest_text = if latest.value(i) == first.value(i) {
            Arc::clone(&first_text)
        } else {
            latest.value(i).into()
        };
        out.push(Problem {
            district,
            uscc: uscc.value(i).into(),
            enterprise_name: name.value(i).into(),
            category: shared.text(category.value(i)),
            keyword: keyword.is_valid(i).then(|| shared.text(keyword.value(i))),
            opened_on: from_epoch_days(opened.value(i)),
            closed_on: closed.is_valid(i).then(|| from_epoch_days(closed.value(i))),
            first_text,
            latest_text,
            last_reported_on: from_epoch_days(last.value(i)),
            reports_without: u32::try_from(without.value(i)).unwrap_or(0),
        });
    }
    Ok(())
}

/// `problem_ledger` of a date built part by part: the closed problems carried over from the previous
/// date as Arrow rows (a closed problem never changes, so it is never held as a `Problem`), then the
/// date's own problems. At most one part's rows are held as Arrow arrays at a time.
pub struct LedgerParts {
    date: NaiveDate,
    part_rows: usize,
    buffer: Vec<RecordBatch>,
    part: Option<LedgerColumns>,
    buffered: usize,
    files: Vec<StagedFile>,
    rows: u64,
}

fn publish_err(e: impl std::fmt::Display) -> PublishError {
    PublishError::Parquet {
        table: crate::records::TABLES[4].to_string(),
        source: parquet::errors::ParquetError::ArrowError(e.to_string()),
    }
}

impl LedgerParts {
    pub fn new(date: NaiveDate, part_rows: usize) -> LedgerParts {
        LedgerParts {
            date,
            part_rows: part_rows.max(1),
            buffer: Vec::new(),
            part: None,
            buffered: 0,
            files: Vec::new(),
            rows: 0,
        }
    }

    /// Carry rows of the previous date's ledger into this date's (its `report_date` set to this date).
    pub fn carry(&mut self, batch: RecordBatch) -> Result<(), PublishError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let schema = batch.schema();
        let columns = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| {
                let column = if field.name() == "report_date" {
                    date_column(self.date, batch.num_rows())
                } else {
                    Arc::clone(column)
                };
                (field.name().as_str(), column)
            })
            .collect();
        let batch = batch_by_name(problem_ledger_schema(), columns).map_err(publish_err)?;
        self.buffered += batch.num_rows();
        self.buffer.push(batch);
        if self.buffered >= self.part_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PublishError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let batch = arrow::compute::concat_batches(&problem_ledger_schema(), &self.buffer)
            .map_err(publish_err)?;
        self.buffer.clear();
        self.buffered = 0;
        self.encode(&batch)
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<(), PublishError> {
        let bytes =
            crate::publish::parquet_io::encode(batch).map_err(|source| PublishError::Parquet {
                table: crate::records::TABLES[4].to_string(),
                source,
            })?;
        self.rows += batch.num_rows() as u64;
        self.files.push(StagedFile {
            name: crate::publish::parquet_io::file_name(self.files.len(), &bytes),
            content: FileContent::Bytes(bytes),
        });
        Ok(())
    }

    /// Append one of the date's own rows (after every carried row), in the ledger's order; a full
    /// part is encoded at once.
    pub fn push(&mut self, row: &LedgerRow<'_>) -> Result<(), PublishError> {
        let part = match &mut self.part {
            Some(part) => part,
            None => {
                self.flush()?;
                self.part.insert(LedgerColumns::with_capacity(
                    self.part_rows.min(LEDGER_PART_ROWS),
                ))
            }
        };
        part.push(row, self.date);
        if part.len() >= self.part_rows {
            let batch = part.finish(self.date).map_err(publish_err)?;
            self.encode(&batch)?;
        }
        Ok(())
    }

    /// The table: the carried rows, then the pushed ones.
    pub fn finish_rows(mut self) -> Result<StagedTable, PublishError> {
        self.flush()?;
        if let Some(mut part) = self.part.take().filter(|p| !p.is_empty()) {
            let batch = part.finish(self.date).map_err(publish_err)?;
            self.encode(&batch)?;
        }
        if self.files.is_empty() {
            let batch = ledger_batch(&[], self.date).map_err(publish_err)?;
            self.encode(&batch)?;
        }
        Ok(StagedTable {
            table: crate::records::TABLES[4].to_string(),
            files: self.files,
            rows: self.rows,
        })
    }

    /// The table: the carried rows, then `ledger` (the date's open, newly closed and new problems).
    pub fn finish(mut self, ledger: &[Problem]) -> Result<StagedTable, PublishError> {
        for p in ledger {
            self.push(&LedgerRow::of(p))?;
        }
        self.finish_rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_reads_back_as_written() {
        let date = NaiveDate::from_ymd_opt(2020, 2, 25).expect("date");
        let p = Problem {
            district: Arc::new(District {
                code: "370102".into(),
                name: "历下区".into(),
                city_code: "370100".into(),
                city_name: "济南市".into(),
                province_code: "370000".into(),
            }),
            uscc: "91370102MA0000001X".into(),
            enterprise_name: "某公司".into(),
            category: "用工".into(),
            keyword: Some("返岗".into()),
            opened_on: date - chrono::Days::new(3),
            closed_on: None,
            first_text: "员工返岗困难".into(),
            latest_text: "员工返岗难".into(),
            last_reported_on: date,
            reports_without: 0,
        };
        let mut q = p.clone();
        q.category = "其他".into();
        q.keyword = None;
        q.closed_on = Some(date);
        q.reports_without = 1;
        let batch = ledger_batch(&[p.clone(), q.clone()], date).expect("batch");
        let days: &Int32Array = column(&batch, "days_open").expect("days");
        assert_eq!((days.value(0), days.value(1)), (4, 3));
        assert_eq!(
            problems_of_batches(&[batch]).expect("read"),
            vec![q.clone(), p.clone()]
        );

        // A large ledger is written in parts, which read back as the whole ledger.
        let mut many = Vec::new();
        for k in 0..5 {
            let mut r = if k % 2 == 0 { p.clone() } else { q.clone() };
            r.uscc = format!("91370102MA000000{k}X").into();
            many.push(r);
        }
        crate::problems::ledger::sort(&mut many);
        let table = ledger_table(&many, date, 2).expect("table");
        assert_eq!((table.files.len(), table.rows), (3, 5));
        let mut batches = Vec::new();
        for f in &table.files {
            let crate::publish::FileContent::Bytes(bytes) = &f.content else {
                panic!("encoded bytes");
            };
            batches.extend(
                crate::publish::parquet_io::read_bytes(bytes.clone().into()).expect("parquet"),
            );
        }
        assert_eq!(problems_of_batches(&batches).expect("read"), many);
        let empty = ledger_table(&[], date, 2).expect("empty");
        assert_eq!((empty.files.len(), empty.rows), (1, 0));
    }
}
