//! The problem ledger (问题清单 / 工作台账, contract §11): what enterprises report in 存在问题及诉求,
//! read into categories, opened, tracked and closed (销号) across dates.

pub mod classify;
pub mod ledger;
pub mod merge;
pub mod tables;

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::config::Job;
use crate::publish::{PublishError, Warehouse};
use ledger::{Problem, Reports};

/// Why a published ledger or a published date's reports cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ProblemsError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("cannot read the published {table} of {date}: {source}")]
    Table {
        table: &'static str,
        date: NaiveDate,
        source: arrow::error::ArrowError,
    },
}

/// The published ledger of `date`, or None when the date was published without one (before fugong
/// kept ledgers) or is not published.
pub fn published_ledger(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
) -> Result<Option<Vec<Problem>>, ProblemsError> {
    let Some(manifest) = warehouse.manifest(date)? else {
        return Ok(None);
    };
    if !manifest.tables.contains_key("problem_ledger") {
        return Ok(None);
    }
    let batches = warehouse.read_table("problem_ledger", date)?;
    tables::problems_of_batches(&batches)
        .map(Some)
        .map_err(|source| ProblemsError::Table {
            table: "problem_ledger",
            date,
            source,
        })
}

/// The ledger a date starts from: that of the nearest earlier published date (empty when there is
/// none, or it has none).
pub fn ledger_before(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
) -> Result<Vec<Problem>, ProblemsError> {
    match warehouse.published_before(date)? {
        Some(p) => Ok(published_ledger(warehouse, p)?.unwrap_or_default()),
        None => Ok(Vec::new()),
    }
}

/// The open problems a date starts from (those of the nearest earlier published date with a ledger,
/// sorted), while that date's closed problems go to `closed` a batch at a time, never held whole.
pub fn split_before(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
    closed: &mut dyn FnMut(arrow::array::RecordBatch) -> Result<(), PublishError>,
) -> Result<Vec<Problem>, ProblemsError> {
    use arrow::array::StringArray;
    let Some(previous) = warehouse.published_before(date)? else {
        return Ok(Vec::new());
    };
    let has_ledger = warehouse
        .manifest(previous)?
        .is_some_and(|m| m.tables.contains_key("problem_ledger"));
    if !has_ledger {
        return Ok(Vec::new());
    }
    let mut open = Vec::new();
    let mut shared = tables::Interner::default();
    let mut failed: Option<ProblemsError> = None;
    let table_err = |source| ProblemsError::Table {
        table: "problem_ledger",
        date: previous,
        source,
    };
    warehouse
        .each_batch("problem_ledger", previous, &mut |batch| {
            let status = crate::records::column::<StringArray>(&batch, "status")
                .map_err(arrow::error::ArrowError::from);
            let result = status.and_then(|status| {
                let is_closed =
                    arrow::compute::kernels::cmp::eq(status, &StringArray::new_scalar("closed"))?;
                let is_open = arrow::compute::not(&is_closed)?;
                let opened = arrow::compute::filter_record_batch(&batch, &is_open)?;
                tables::append_problems(&mut shared, &opened, &mut open)?;
                arrow::compute::filter_record_batch(&batch, &is_closed)
            });
            match result {
                Ok(closed_rows) => closed(closed_rows),
                Err(e) => {
                    let message = e.to_string();
                    failed = Some(table_err(e));
                    Err(PublishError::Parquet {
                        table: "problem_ledger".into(),
                        source: parquet::errors::ParquetError::ArrowError(message),
                    })
                }
            }
        })
        .map_err(|e| failed.take().unwrap_or(ProblemsError::Publish(e)))?;
    ledger::sort(&mut open);
    Ok(open)
}

/// The `problem_ledger` table and `problem_daily` counts of `date`, advanced from the nearest earlier
/// published date's ledger by the date's reports without holding that ledger (`merge`); None when its
/// open problems are not in the ledger's order (then advance it in memory: `split_before`).
pub fn advance_published(
    warehouse: &dyn Warehouse,
    date: NaiveDate,
    reports: &Reports,
    job: &Job,
    part_rows: usize,
) -> Result<Option<(crate::publish::StagedTable, Vec<ledger::DailyCount>)>, ProblemsError> {
    let previous = match warehouse.published_before(date)? {
        Some(p) => warehouse
            .manifest(p)?
            .is_some_and(|m| m.tables.contains_key("problem_ledger"))
            .then_some(p),
        None => None,
    };
    let mut each =
        |f: &mut dyn FnMut(arrow::array::RecordBatch) -> Result<(), PublishError>| match previous {
            Some(p) => warehouse.each_batch("problem_ledger", p, f),
            None => Ok(()),
        };
    let step = merge::Step {
        date,
        reports,
        close_days: job.problem_close_days,
        districts: &job.districts,
        rules: &job.schema.problems,
        part_rows,
    };
    merge::advance(&mut each, previous.unwrap_or(date), &step)
}

/// A published date's reports, rebuilt from its `enterprise_daily` and `district_daily` (for refreshing
/// the ledgers of later dates when an earlier one is republished).
pub fn published_reports(
    job: &Job,
    warehouse: &dyn Warehouse,
    date: NaiveDate,
) -> Result<Reports, ProblemsError> {
    use arrow::array::{Array, StringArray};
    let rules = &job.schema.problems;
    let text_field = job.schema.fields[rules.field].name.clone();
    let table_err = |table: &'static str| {
        move |source: arrow::error::ArrowError| ProblemsError::Table {
            table,
            date,
            source,
        }
    };
    let strings = |b: &arrow::array::RecordBatch,
                   name: &str|
     -> Result<StringArray, arrow::error::ArrowError> {
        Ok(crate::records::column::<StringArray>(b, name)?.clone())
    };
    let mut reporting: HashMap<String, bool> = HashMap::new();
    for b in warehouse.read_table("district_daily", date)? {
        let (codes, statuses) = (
            strings(&b, "district_code").map_err(table_err("district_daily"))?,
            strings(&b, "submission_status").map_err(table_err("district_daily"))?,
        );
        for i in 0..b.num_rows() {
            reporting.insert(
                codes.value(i).to_string(),
                matches!(statuses.value(i), "accepted" | "partial"),
            );
        }
    }
    let districts: HashMap<&str, std::sync::Arc<crate::config::District>> = job
        .districts
        .iter()
        .map(|d| (d.code.as_str(), std::sync::Arc::new(d.clone())))
        .collect();
    let mut reports = Reports::default();
    for b in warehouse.read_table("enterprise_daily", date)? {
        let err = table_err("enterprise_daily");
        let (codes, usccs, names) = (
            strings(&b, "district_code").map_err(err)?,
            strings(&b, "uscc").map_err(table_err("enterprise_daily"))?,
            strings(&b, "enterprise_name").map_err(table_err("enterprise_daily"))?,
        );
        let texts = crate::records::column::<StringArray>(&b, &text_field)
            .ok()
            .cloned();
        for i in 0..b.num_rows() {
            let code = codes.value(i);
            if !reporting.get(code).copied().unwrap_or(false) {
                continue;
            }
            let Some(district) = districts.get(code) else {
                continue;
            };
            reports.add_reported(usccs.value(i));
            let text = texts
                .as_ref()
                .filter(|t| t.is_valid(i))
                .map(|t| t.value(i))
                .unwrap_or("");
            if let Some(r) =
                ledger::report_of(rules, district, usccs.value(i), names.value(i), text)
            {
                reports.problems.push(r);
            }
        }
    }
    reports.seal();
    Ok(reports)
}
