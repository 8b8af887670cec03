//! Anomaly warnings (issue 8): figures that moved further from the previous published date than a
//! real day's work moves them, the marks of a copied file, a shifted column or 万人 typed for 人. Each is
//! a `rejects` finding of code `anomaly` and severity `warning`, naming both values and both dates;
//! no row is dropped for one.
//!
//! - a district's 开工率 moves by more than `anomaly_rate_pp` percentage points;
//! - its enterprise count changes by more than `anomaly_count_pct` percent;
//! - an enterprise's 职工总数 is more than `employees_factor` times (or less than 1/factor of) its
//!   previous report;
//! - an enterprise reported resumed goes back to not resumed.
//!
//! "Previous" is the nearest earlier published date; a district that was not reported there (missing or
//! rejected), or an enterprise absent from it, has nothing to be compared with.

use std::collections::HashMap;

use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch, StringArray};
use chrono::NaiveDate;

use super::display::percent_of;
use crate::config::{AnomalyThresholds, Job};
use crate::day::{DayResult, DistrictResult, KeyedRow};
use crate::keys::KeyHasher;
use crate::publish::{PublishError, Warehouse};
use crate::tally::Fraction;
use crate::validate::{Code, Finding, Severity};

/// A district's counts on the previous published date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistrictBefore {
    pub enterprises_total: i64,
    pub enterprises_resumed: i64,
}

/// An enterprise's report on the previous published date, packed small: a nightly run of 570,000
/// enterprises holds one of these per enterprise (about 40 bytes with the map's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterpriseBefore {
    /// 职工总数; negative when the row had none.
    employees: i64,
    /// 1 resumed, 0 not, negative when the row had none.
    resumed: i8,
}

impl EnterpriseBefore {
    pub fn new(employees: Option<i64>, resumed: Option<bool>) -> EnterpriseBefore {
        EnterpriseBefore {
            employees: employees.filter(|e| *e >= 0).unwrap_or(-1),
            resumed: resumed.map_or(-1, i8::from),
        }
    }

    pub fn employees(&self) -> Option<i64> {
        (self.employees >= 0).then_some(self.employees)
    }

    pub fn resumed(&self) -> Option<bool> {
        (self.resumed >= 0).then_some(self.resumed == 1)
    }
}

/// Every enterprise's report on the previous published date by key hash, as a vector sorted by hash:
/// 32 bytes an enterprise, read a batch at a time (a hash map of 570,000 took twice that in its
/// buckets, and the three columns it was read from were held whole while it was built). Key hashes
/// are uniform, so a table of where each run of leading bits starts (one entry for about four
/// reports) takes a lookup straight to a handful of neighbours instead of twenty steps of a binary
/// search over the whole vector.
#[derive(Debug, Clone, Default)]
pub struct EnterprisesBefore {
    sorted: Vec<(u128, EnterpriseBefore)>,
    /// `starts[b]`: the first report whose hash's leading `bits` bits are `b` or more; one more entry
    /// at the end (the length).
    starts: Vec<u32>,
    bits: u32,
}

impl EnterprisesBefore {
    /// Room for `n` more reports, when the count is known beforehand (a failed reservation only
    /// means the vector grows as it goes).
    fn reserve(&mut self, n: usize) {
        let _ = self.sorted.try_reserve_exact(n);
    }

    fn push(&mut self, key: u128, report: EnterpriseBefore) {
        self.sorted.push((key, report));
    }

    /// Sort by hash; of reports under one key the last pushed is kept (as a map's insert would).
    /// Hashes are placed by their bucket first (a counting sort, in push order), then each bucket's
    /// few are sorted: no sort of the whole vector.
    fn seal(&mut self) {
        let n = self.sorted.len();
        // About four reports a bucket; at most 2^24 buckets (16 million enterprises).
        self.bits = (usize::BITS - (n / 4).leading_zeros())
            .saturating_sub(1)
            .min(24);
        let buckets = 1usize << self.bits;
        let mut next = vec![0u32; buckets + 1];
        for (key, _) in &self.sorted {
            next[self.bucket(*key) + 1] += 1;
        }
        for b in 0..buckets {
            next[b + 1] += next[b];
        }
        let mut placed = vec![(0u128, EnterpriseBefore::new(None, None)); n];
        for entry in &self.sorted {
            let b = self.bucket(entry.0);
            placed[next[b] as usize] = *entry;
            next[b] += 1;
        }
        // `next[b]` is now where bucket b ends. Sort each bucket (stable: equal keys stay in push
        // order) and keep the last of equal keys, moving the kept ones down over those dropped.
        let mut starts = Vec::with_capacity(buckets + 1);
        let (mut from, mut kept) = (0usize, 0usize);
        for &end in &next[..buckets] {
            let end = end as usize;
            placed[from..end].sort_by_key(|(key, _)| *key);
            starts.push(kept as u32);
            for i in from..end {
                if i + 1 < end && placed[i + 1].0 == placed[i].0 {
                    continue;
                }
                placed[kept] = placed[i];
                kept += 1;
            }
            from = end;
        }
        starts.push(kept as u32);
        placed.truncate(kept);
        placed.shrink_to_fit();
        self.sorted = placed;
        self.starts = starts;
    }

    fn bucket(&self, key: u128) -> usize {
        key.checked_shr(128 - self.bits).unwrap_or(0) as usize
    }

    pub fn get(&self, key: u128) -> Option<&EnterpriseBefore> {
        let b = self.bucket(key);
        let (Some(&from), Some(&to)) = (self.starts.get(b), self.starts.get(b + 1)) else {
            return None;
        };
        let run = self.sorted.get(from as usize..to as usize)?;
        run.binary_search_by_key(&key, |(k, _)| *k)
            .ok()
            .map(|i| &run[i].1)
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

/// What the previous published date said, as far as the anomaly rules look.
#[derive(Debug, Clone, Default)]
pub struct Before {
    pub date: Option<NaiveDate>,
    pub districts: HashMap<String, DistrictBefore>,
    pub enterprises: EnterprisesBefore,
    pub hasher: KeyHasher,
}

impl Before {
    /// What a date about to be published says, for the anomaly rules of the date after it (when a
    /// republish refreshes that date).
    pub fn of_day(day: &DayResult) -> Before {
        let mut out = Before {
            date: Some(day.report_date),
            ..Before::default()
        };
        let reported = || day.districts.iter().filter(|d| d.status().is_reported());
        // Once for the whole day: an exact reservation per district would copy the vector each time.
        out.enterprises
            .reserve(reported().map(|d| d.keys.len()).sum());
        for d in reported() {
            out.districts.insert(
                d.district.code.clone(),
                DistrictBefore {
                    enterprises_total: d.tally.enterprises_total,
                    enterprises_resumed: d.tally.enterprises_resumed,
                },
            );
            for k in &d.keys {
                let h = out.hasher.of(&k.key);
                out.enterprises
                    .push(h, EnterpriseBefore::new(k.employees, k.resumed));
            }
        }
        out.enterprises.seal();
        out
    }
}

/// The nearest published date before `date`, read for the anomaly rules (empty when there is none).
pub fn before(
    job: &Job,
    warehouse: &dyn Warehouse,
    date: NaiveDate,
) -> Result<Before, PublishError> {
    let Some(previous) = warehouse.published_before(date)? else {
        return Ok(Before::default());
    };
    let mut out = Before {
        date: Some(previous),
        ..Before::default()
    };
    let columns = ["district_code", "enterprises_total", "enterprises_resumed"];
    for b in warehouse.read_columns("district_daily", previous, &columns)? {
        let (Some(code), Some(total), Some(resumed)) = (
            strings(&b, "district_code"),
            ints(&b, "enterprises_total"),
            ints(&b, "enterprises_resumed"),
        ) else {
            continue;
        };
        for i in 0..b.num_rows() {
            if total.is_valid(i) && resumed.is_valid(i) {
                out.districts.insert(
                    code.value(i).to_string(),
                    DistrictBefore {
                        enterprises_total: total.value(i),
                        enterprises_resumed: resumed.value(i),
                    },
                );
            }
        }
    }
    let key = &job.schema.fields[job.schema.key_field].name;
    // The published row count sizes the vector once (it is only a hint: the rows read are the truth).
    if let Some(table) = warehouse
        .manifest(previous)?
        .and_then(|m| m.tables.get("enterprise_daily").cloned())
    {
        out.enterprises
            .reserve(usize::try_from(table.rows).unwrap_or(0));
    }
    let columns = [key.as_str(), "employees_total", "resumed"];
    warehouse.each_batch_of("enterprise_daily", previous, Some(&columns), &mut |b| {
        let Some(keys) = strings(&b, key) else {
            return Ok(());
        };
        let employees = ints(&b, "employees_total");
        let resumed = crate::records::column::<BooleanArray>(&b, "resumed").ok();
        for i in 0..b.num_rows() {
            if !keys.is_valid(i) {
                continue;
            }
            out.enterprises.push(
                out.hasher.of(keys.value(i)),
                EnterpriseBefore::new(
                    employees.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
                    resumed.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
                ),
            );
        }
        Ok(())
    })?;
    out.enterprises.seal();
    Ok(out)
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    crate::records::column(b, name).ok()
}

fn ints<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a Int64Array> {
    crate::records::column(b, name).ok()
}

fn warning(field: &str, value: String, message: String, expected: &str) -> Finding {
    Finding {
        code: Code::Anomaly,
        severity: Severity::Warning,
        row: None,
        column: None,
        field: Some(field.to_string()),
        value: Some(value),
        message,
        cell: None,
        expected: Some(expected.to_string()),
        detail: None,
    }
}

/// The anomaly warnings of one reported district of `date` against `before`.
pub fn findings(
    job: &Job,
    thresholds: &AnomalyThresholds,
    before: &Before,
    date: NaiveDate,
    district: &DistrictResult,
) -> Vec<Finding> {
    if !district.status().is_reported() {
        return Vec::new();
    }
    let now = DistrictBefore {
        enterprises_total: district.tally.enterprises_total,
        enterprises_resumed: district.tally.enterprises_resumed,
    };
    findings_of(
        job,
        thresholds,
        before,
        date,
        &district.district.code,
        now,
        &district.keys,
    )
}

/// The anomaly warnings of a reported district given its counts and rows.
fn findings_of(
    job: &Job,
    thresholds: &AnomalyThresholds,
    before: &Before,
    date: NaiveDate,
    code: &str,
    now: DistrictBefore,
    keys: &[KeyedRow],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(then) = before.date else {
        return out;
    };
    let now = &now;
    if let Some(was) = before.districts.get(code) {
        if let (Some(a), Some(b)) = (
            Fraction::new(was.enterprises_resumed, was.enterprises_total),
            Fraction::new(now.enterprises_resumed, now.enterprises_total),
        ) {
            let moved = b.minus(a) * 100.0;
            if moved.abs() > thresholds.rate_pp {
                out.push(warning(
                    "resumption_rate",
                    format!("{} → {}", percent_of(a), percent_of(b)),
                    format!(
                        "开工率从 {then} 的 {}（{}/{} 家）变为 {date} 的 {}（{}/{} 家），{}了 {:.1} 个百分点，超过 {} 个百分点：请核对是否误用了其他日期或其他区县的报表",
                        percent_of(a),
                        was.enterprises_resumed,
                        was.enterprises_total,
                        percent_of(b),
                        now.enterprises_resumed,
                        now.enterprises_total,
                        if moved > 0.0 { "上升" } else { "下降" },
                        moved.abs(),
                        thresholds.rate_pp,
                    ),
                    "与前一报送日相比的正常变化；确有其事的请忽略本提示",
                ));
            }
        }
        if was.enterprises_total > 0 {
            let change = (now.enterprises_total - was.enterprises_total) as f64 * 100.0
                / was.enterprises_total as f64;
            if change.abs() > thresholds.count_pct {
                out.push(warning(
                    "enterprises_total",
                    format!("{} → {}", was.enterprises_total, now.enterprises_total),
                    format!(
                        "企业户数从 {then} 的 {} 家变为 {date} 的 {} 家，{}了 {:.1}%，超过 {}%：请核对是否漏报、重复粘贴或混入了其他区县的企业",
                        was.enterprises_total,
                        now.enterprises_total,
                        if change > 0.0 { "增加" } else { "减少" },
                        change.abs(),
                        thresholds.count_pct,
                    ),
                    "规上工业企业名单与前一报送日基本一致",
                ));
            }
        }
    }
    let label = |name: &str| {
        job.schema
            .field_index(name)
            .map(|i| job.schema.fields[i].label.clone())
            .unwrap_or_else(|| name.to_string())
    };
    let factor = thresholds.employees_factor;
    for k in keys {
        let Some(was) = before.enterprises.get(before.hasher.of(&k.key)) else {
            continue;
        };
        if let (Some(a), Some(b)) = (was.employees(), k.employees)
            && a > 0
            && b > 0
            && (b as f64 > a as f64 * factor || b as f64 * factor < a as f64)
        {
            let mut f = warning(
                "employees_total",
                format!("{a} → {b}"),
                format!(
                    "第 {} 行企业 {} 的{}从 {then} 的 {a} 人变为 {date} 的 {b} 人，相差超过 {factor} 倍：请核对单位（人/万人）、是否错行或多打了零",
                    k.row,
                    k.key,
                    label("employees_total"),
                ),
                "与前一报送日相近的职工人数",
            );
            f.row = Some(k.row);
            out.push(f);
        }
        if was.resumed() == Some(true) && k.resumed == Some(false) {
            let mut f = warning(
                "resumed",
                "是 → 否".to_string(),
                format!(
                    "第 {} 行企业 {} 在 {then} 报为已开工，{date} 报为未开工：请核实企业是否重新停工，如是误填请更正",
                    k.row, k.key,
                ),
                "已开工企业继续报“是”，确已停工的请在问题诉求中说明",
            );
            f.row = Some(k.row);
            out.push(f);
        }
    }
    out
}

/// A published date's anomaly warnings recomputed against a republished previous date.
pub struct Refreshed {
    /// The date's `rejects`, its other findings as they were and the new anomaly warnings.
    pub rejects: RecordBatch,
    /// The date's `district_daily` with each district's `warnings` count updated.
    pub district_daily: RecordBatch,
    /// District code → its warnings count now.
    pub warnings: HashMap<String, i64>,
}

fn arrow_err(e: arrow::error::ArrowError) -> PublishError {
    PublishError::Parquet {
        table: "rejects".into(),
        source: parquet::errors::ParquetError::ArrowError(e.to_string()),
    }
}

/// `next`'s anomaly warnings against `before` (the date before it, as it is about to be published
/// anew), or None when they come out as published.
pub fn refresh(
    job: &Job,
    warehouse: &dyn Warehouse,
    next: NaiveDate,
    before: &Before,
) -> Result<Option<Refreshed>, PublishError> {
    use arrow::array::ArrayRef;
    use std::sync::Arc;
    // The districts of `next` that reported, with their counts.
    let districts = warehouse.read_table("district_daily", next)?;
    let Some(first) = districts.first() else {
        return Ok(None);
    };
    let district_daily =
        arrow::compute::concat_batches(&first.schema(), &districts).map_err(arrow_err)?;
    let (codes, statuses) = (
        strings(&district_daily, "district_code"),
        strings(&district_daily, "submission_status"),
    );
    let (Some(codes), Some(statuses)) = (codes, statuses) else {
        return Ok(None);
    };
    let (totals, resumed) = (
        ints(&district_daily, "enterprises_total"),
        ints(&district_daily, "enterprises_resumed"),
    );
    let mut reported: HashMap<String, DistrictBefore> = HashMap::new();
    for i in 0..district_daily.num_rows() {
        if matches!(statuses.value(i), "accepted" | "partial") {
            let count =
                |a: Option<&Int64Array>| a.filter(|a| a.is_valid(i)).map_or(0, |a| a.value(i));
            reported.insert(
                codes.value(i).to_string(),
                DistrictBefore {
                    enterprises_total: count(totals),
                    enterprises_resumed: count(resumed),
                },
            );
        }
    }
    // Their rows, as the anomaly rules see them.
    let key = &job.schema.fields[job.schema.key_field].name;
    let mut rows: HashMap<String, Vec<KeyedRow>> = HashMap::new();
    let columns = [
        "district_code",
        key.as_str(),
        "employees_total",
        "resumed",
        "source_row",
    ];
    for b in warehouse.read_columns("enterprise_daily", next, &columns)? {
        let (Some(district), Some(keys)) = (strings(&b, "district_code"), strings(&b, key)) else {
            continue;
        };
        let employees = ints(&b, "employees_total");
        let resumed = crate::records::column::<BooleanArray>(&b, "resumed").ok();
        let source_row = b
            .column_by_name("source_row")
            .and_then(|c| c.as_any().downcast_ref::<arrow::array::Int32Array>());
        for i in 0..b.num_rows() {
            rows.entry(district.value(i).to_string())
                .or_default()
                .push(KeyedRow {
                    key: keys.value(i).into(),
                    row: source_row
                        .filter(|a| a.is_valid(i))
                        .map_or(0, |a| u32::try_from(a.value(i)).unwrap_or(0)),
                    employees: employees.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
                    resumed: resumed.filter(|a| a.is_valid(i)).map(|a| a.value(i)),
                });
        }
    }
    let mut new: Vec<(String, Finding)> = Vec::new();
    let mut codes_sorted: Vec<&String> = reported.keys().collect();
    codes_sorted.sort();
    for code in codes_sorted {
        let mut keyed = rows.remove(code.as_str()).unwrap_or_default();
        keyed.sort_by_key(|k| k.row);
        for f in findings_of(
            job,
            &job.anomaly,
            before,
            next,
            code,
            reported[code.as_str()],
            &keyed,
        ) {
            new.push((code.clone(), f));
        }
    }
    // The published rejects: the anomaly rows go, the others stay.
    let rejects = warehouse.read_table("rejects", next)?;
    let Some(first) = rejects.first() else {
        return Ok(None);
    };
    let rejects = arrow::compute::concat_batches(&first.schema(), &rejects).map_err(arrow_err)?;
    let (Some(code_col), Some(district_col), Some(message_col)) = (
        strings(&rejects, "code"),
        strings(&rejects, "district_code"),
        strings(&rejects, "message"),
    ) else {
        return Ok(None);
    };
    let mut old: Vec<(String, String)> = Vec::new();
    let mut source: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    let (files, sheets) = (strings(&rejects, "source_file"), strings(&rejects, "sheet"));
    let opt = |a: Option<&StringArray>, i: usize| {
        a.filter(|a| a.is_valid(i)).map(|a| a.value(i).to_string())
    };
    for i in 0..rejects.num_rows() {
        source
            .entry(district_col.value(i).to_string())
            .or_insert_with(|| (opt(files, i), opt(sheets, i)));
        if code_col.value(i) == Code::Anomaly.as_str() {
            old.push((
                district_col.value(i).to_string(),
                message_col.value(i).to_string(),
            ));
        }
    }
    let mut now: Vec<(String, String)> = new
        .iter()
        .map(|(d, f)| (d.clone(), f.message.clone()))
        .collect();
    old.sort();
    now.sort();
    if old == now {
        return Ok(None);
    }
    let keep = arrow::compute::kernels::cmp::neq(
        code_col,
        &StringArray::new_scalar(Code::Anomaly.as_str()),
    )
    .map_err(arrow_err)?;
    let kept = arrow::compute::filter_record_batch(&rejects, &keep).map_err(arrow_err)?;
    // The kept rows in the current layout (a column an older date lacks is refused, not guessed).
    let kept = crate::records::batch_by_name(
        crate::records::rejects_schema(),
        kept.schema()
            .fields()
            .iter()
            .zip(kept.columns())
            .map(|(f, c)| (f.name().clone(), std::sync::Arc::clone(c)))
            .collect(),
    )
    .map_err(arrow_err)?;
    let rows: Vec<crate::records::RejectRow<'_>> = new
        .iter()
        .map(|(d, finding)| {
            let (file, sheet) = source
                .get(d)
                .map_or((None, None), |s| (s.0.as_deref(), s.1.as_deref()));
            crate::records::RejectRow {
                district_code: d,
                source_file: file,
                sheet,
                finding,
            }
        })
        .collect();
    let added = crate::records::rejects_of(next, &rows).map_err(arrow_err)?;
    let rejects =
        arrow::compute::concat_batches(&crate::records::rejects_schema(), [&kept, &added])
            .map_err(arrow_err)?;
    // district_daily's warnings: less the old anomaly rows, plus the new ones.
    let count = |list: &[(String, String)], code: &str| {
        list.iter().filter(|(d, _)| d == code).count() as i64
    };
    let Some(warnings_col) = ints(&district_daily, "warnings") else {
        return Ok(None);
    };
    let mut warnings = HashMap::new();
    let updated: Int64Array = (0..district_daily.num_rows())
        .map(|i| {
            let code = codes.value(i);
            let w = warnings_col.value(i) - count(&old, code) + count(&now, code);
            warnings.insert(code.to_string(), w);
            Some(w)
        })
        .collect();
    let schema = district_daily.schema();
    let columns: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(district_daily.columns())
        .map(|(f, c)| {
            let c = if f.name() == "warnings" {
                Arc::new(updated.clone()) as ArrayRef
            } else {
                Arc::clone(c)
            };
            (f.name().as_str(), c)
        })
        .collect();
    let district_daily =
        crate::records::batch_by_name(crate::records::district_daily_schema(), columns)
            .map_err(arrow_err)?;
    Ok(Some(Refreshed {
        rejects,
        district_daily,
        warnings,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_report_gives_back_what_was_reported() {
        for employees in [None, Some(0), Some(1), Some(409_814)] {
            for resumed in [None, Some(false), Some(true)] {
                let p = EnterpriseBefore::new(employees, resumed);
                assert_eq!((p.employees(), p.resumed()), (employees, resumed));
            }
        }
    }

    #[test]
    fn the_last_report_under_a_key_is_the_one_kept() {
        let mut e = EnterprisesBefore::default();
        e.reserve(4);
        e.push(7, EnterpriseBefore::new(Some(10), Some(true)));
        e.push(3, EnterpriseBefore::new(Some(1), None));
        e.push(7, EnterpriseBefore::new(Some(20), Some(false)));
        e.push(u128::MAX, EnterpriseBefore::new(None, Some(true)));
        e.seal();
        assert_eq!(e.len(), 3);
        assert_eq!(
            e.get(7).map(|r| (r.employees(), r.resumed())),
            Some((Some(20), Some(false)))
        );
        assert_eq!(e.get(3).and_then(|r| r.employees()), Some(1));
        assert_eq!(e.get(u128::MAX).and_then(|r| r.resumed()), Some(true));
        assert!(e.get(4).is_none());
        assert!(EnterprisesBefore::default().is_empty());
        assert!(EnterprisesBefore::default().get(7).is_none());
    }

    #[test]
    fn every_report_is_found_through_the_bucket_table() {
        let h = KeyHasher::default();
        let mut e = EnterprisesBefore::default();
        for k in 0..10_000i64 {
            e.push(
                h.of(&format!("91370102MA{k:07}")),
                EnterpriseBefore::new(Some(k), None),
            );
        }
        // Hashes at the very ends of the range land in the first and the last bucket.
        e.push(0, EnterpriseBefore::new(Some(-5), Some(true)));
        e.push(u128::MAX, EnterpriseBefore::new(Some(3), Some(false)));
        e.seal();
        assert!(e.bits > 8, "{} bits for {} reports", e.bits, e.len());
        for k in 0..10_000i64 {
            let found = e.get(h.of(&format!("91370102MA{k:07}")));
            assert_eq!(found.and_then(|r| r.employees()), Some(k));
        }
        assert_eq!(e.get(0).and_then(|r| r.resumed()), Some(true));
        assert_eq!(e.get(u128::MAX).and_then(|r| r.employees()), Some(3));
        assert!(e.get(h.of("91370102MA0010000X")).is_none());
        assert!(e.get(1).is_none());
    }

    #[test]
    fn keys_hash_alike_only_when_equal() {
        let h = KeyHasher::default();
        assert_eq!(h.of("91370102MA0000102M"), h.of("91370102MA0000102M"));
        let all: std::collections::HashSet<u128> = (0..100_000u32)
            .map(|k| h.of(&format!("91370102MA{k:07}")))
            .collect();
        assert_eq!(all.len(), 100_000);
    }
}
