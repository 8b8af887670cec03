//! The ledger of a date advanced without holding the previous one in memory: the previous ledger is
//! read twice, part by part. The first reading carries its closed problems over (they never change)
//! and keeps of each open problem only a few bytes (key hashes, a category number, dates and the
//! counter); the date's reports advance those. The second reading writes the date's ledger as a merge
//! of the previous open problems (in the ledger's order, as they were published) with the date's new
//! problems (sorted the same way), taking names and texts from the previous ledger's rows or from the
//! reports. Memory follows the reports and one part of rows, not the number of open problems.
//!
//! The result is the in-memory path's (`ledger::advance_owned`, `ledger::daily_counts`,
//! `tables::LedgerParts::finish`) row for row and byte for byte; when the previous ledger's open
//! problems are not in the ledger's order (not written by fugong), the caller takes that path.

use std::collections::HashMap;

use arrow::array::{Array, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray};
use arrow::error::ArrowError;
use chrono::NaiveDate;

use super::ProblemsError;
use super::ledger::{DailyCount, DailyCounter, Report, Reports};
use super::tables::{DistrictRef, LedgerParts, LedgerRow};
use crate::config::District;
use crate::config::schema::ProblemRules;
use crate::publish::{PublishError, StagedTable};
use crate::validate::row::epoch_days;

/// Hands every batch of the previous date's `problem_ledger` to the function, in its order.
pub type EachBatch<'a> = dyn FnMut(&mut dyn FnMut(RecordBatch) -> Result<(), PublishError>) -> Result<(), PublishError>
    + 'a;

/// What is kept of one open problem of the previous ledger.
struct Open {
    uscc: u128,
    category: u32,
    opened_on: i32,
    closed_on: Option<i32>,
    last_reported_on: i32,
    reports_without: u32,
    /// The report that names the problem on the date (its latest text and the enterprise's name).
    report: Option<u32>,
}

/// Category names as numbers (the schema's first, then any other the previous ledger holds).
#[derive(Default)]
struct Categories {
    index: HashMap<String, u32, ahash::RandomState>,
    names: Vec<String>,
}

impl Categories {
    fn of(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }
}

/// The columns of a `problem_ledger` batch that the merge reads.
struct Columns<'b> {
    is_closed: BooleanArray,
    province: &'b StringArray,
    city_code: &'b StringArray,
    city_name: &'b StringArray,
    district_code: &'b StringArray,
    district_name: &'b StringArray,
    uscc: &'b StringArray,
    name: &'b StringArray,
    category: &'b StringArray,
    keyword: &'b StringArray,
    first: &'b StringArray,
    latest: &'b StringArray,
    opened: &'b Date32Array,
    closed: &'b Date32Array,
    last: &'b Date32Array,
    without: &'b Int32Array,
}

impl<'b> Columns<'b> {
    fn of(b: &'b RecordBatch) -> Result<Columns<'b>, ArrowError> {
        fn col<'b, T: Array + 'static>(b: &'b RecordBatch, n: &str) -> Result<&'b T, ArrowError> {
            Ok(crate::records::column::<T>(b, n)?)
        }
        let status = col::<StringArray>(b, "status")?;
        Ok(Columns {
            is_closed: arrow::compute::kernels::cmp::eq(
                status,
                &StringArray::new_scalar("closed"),
            )?,
            province: col(b, "province_code")?,
            city_code: col(b, "city_code")?,
            city_name: col(b, "city_name")?,
            district_code: col(b, "district_code")?,
            district_name: col(b, "district_name")?,
            uscc: col(b, "uscc")?,
            name: col(b, "enterprise_name")?,
            category: col(b, "category")?,
            keyword: col(b, "keyword")?,
            first: col(b, "first_text")?,
            latest: col(b, "latest_text")?,
            opened: col(b, "opened_on")?,
            closed: col(b, "closed_on")?,
            last: col(b, "last_reported_on")?,
            without: col(b, "reports_without")?,
        })
    }

    fn is_open(&self, i: usize) -> bool {
        !self.is_closed.value(i)
    }

    fn key(&self, i: usize) -> (&'b str, &'b str, &'b str, i32) {
        (
            self.district_code.value(i),
            self.uscc.value(i),
            self.category.value(i),
            self.opened.value(i),
        )
    }
}

/// Sort the new problems (report, match) by their ledger key (district code, credit code, category,
/// date). Sorted on a key made once per problem — the district's rank among the codes and the credit
/// code's first bytes — so that most comparisons touch neither the reports nor their strings; ties
/// fall back to the whole key.
fn sort_new<'r>(
    new: &mut Vec<(u32, u32)>,
    key: &impl Fn(&(u32, u32)) -> (&'r str, &'r str, &'r str, i32),
) {
    // The reports come district by district: few distinct codes to sort.
    let mut codes: Vec<&str> = Vec::new();
    for p in new.iter() {
        let code = key(p).0;
        if codes.last() != Some(&code) {
            codes.push(code);
        }
    }
    codes.sort_unstable();
    codes.dedup();
    let mut keyed: Vec<(u32, u128, (u32, u32))> = new
        .iter()
        .map(|p| {
            let (code, uscc, _, _) = key(p);
            let rank = codes.binary_search(&code).unwrap_or(0) as u32;
            (rank, crate::text::order_prefix(uscc), *p)
        })
        .collect();
    drop(codes);
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| key(&a.2).cmp(&key(&b.2)))
    });
    new.clear();
    new.extend(keyed.into_iter().map(|(_, _, p)| p));
}

fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Days::new(days.max(0) as u64)
}

/// What advances a ledger by one date: the date, its reports and the job's rules.
pub struct Step<'a> {
    pub date: NaiveDate,
    pub reports: &'a Reports,
    pub close_days: u32,
    pub districts: &'a [District],
    pub rules: &'a ProblemRules,
    /// Rows per part of `problem_ledger`.
    pub part_rows: usize,
}

/// The ledger of `step.date` from the previous ledger (`previous`, of `previous_date`, read twice)
/// and the date's reports: the `problem_ledger` table and `problem_daily`'s counts, or None when the
/// previous ledger's open problems are not in the ledger's order.
pub fn advance(
    previous: &mut EachBatch<'_>,
    previous_date: NaiveDate,
    step: &Step<'_>,
) -> Result<Option<(StagedTable, Vec<DailyCount>)>, ProblemsError> {
    let &Step {
        date,
        reports,
        close_days,
        districts,
        rules,
        part_rows,
    } = step;
    let table_err = |source: ArrowError| ProblemsError::Table {
        table: "problem_ledger",
        date: previous_date,
        source,
    };
    let hasher = reports.hasher();
    let mut categories = Categories::default();
    for c in &rules.categories {
        categories.of(&c.name);
    }
    categories.of(&rules.other_category);

    // The first reading: closed problems carried over, the open ones kept as `Open`.
    let mut parts = LedgerParts::new(date, part_rows);
    let mut open: Vec<Open> = Vec::new();
    let mut sorted = true;
    let mut last_key: Option<(String, String, String, i32)> = None;
    let mut failed: Option<ProblemsError> = None;
    read(previous, &mut failed, &mut |batch| {
        let c = Columns::of(&batch).map_err(table_err)?;
        for i in 0..batch.num_rows() {
            if !sorted || !c.is_open(i) {
                continue;
            }
            let key = c.key(i);
            match &mut last_key {
                Some(last) if (&*last.0, &*last.1, &*last.2, last.3) >= key => {
                    sorted = false;
                    continue;
                }
                Some(last) => {
                    for (s, v) in [
                        (&mut last.0, key.0),
                        (&mut last.1, key.1),
                        (&mut last.2, key.2),
                    ] {
                        s.clear();
                        s.push_str(v);
                    }
                    last.3 = key.3;
                }
                None => last_key = Some((key.0.into(), key.1.into(), key.2.into(), key.3)),
            }
            open.push(Open {
                uscc: hasher.of(key.1),
                category: categories.of(key.2),
                opened_on: key.3,
                closed_on: c.closed.is_valid(i).then(|| c.closed.value(i)),
                last_reported_on: c.last.value(i),
                reports_without: u32::try_from(c.without.value(i)).unwrap_or(0),
                report: None,
            });
        }
        let closed =
            arrow::compute::filter_record_batch(&batch, &c.is_closed).map_err(table_err)?;
        drop(c);
        Ok(parts.carry(closed)?)
    })
    .map_err(|e| failed.take().unwrap_or(ProblemsError::Publish(e)))?;
    if !sorted {
        return Ok(None);
    }
    drop(last_key);
    // Grown by doubling while read: held exactly through the rest.
    open.shrink_to_fit();

    // The date's reports advance the open problems, and open the new ones: a merge of the open
    // problems, the reports and the reporting enterprises, each in key-hash order (sorted vectors of a
    // few bytes an entry, no hash tables).
    let today = epoch_days(date);
    let mut by_enterprise: Vec<(u128, u32)> = reports
        .problems
        .iter()
        .enumerate()
        .map(|(i, r)| (hasher.of(r.uscc()), i as u32))
        .collect();
    by_enterprise.sort_unstable();
    let mut order: Vec<u32> = (0..open.len() as u32).collect();
    order.sort_unstable_by_key(|&k| (open[k as usize].uscc, k));
    let reported = reports.reported_sorted();
    let mut new: Vec<(u32, u32)> = Vec::new();
    let (mut o, mut r, mut seen) = (0usize, 0usize, 0usize);
    let mut open_here: Vec<u32> = Vec::new();
    while o < order.len() || r < by_enterprise.len() {
        let h = match (order.get(o), by_enterprise.get(r)) {
            (Some(&k), Some(&(hr, _))) => open[k as usize].uscc.min(hr),
            (Some(&k), None) => open[k as usize].uscc,
            (None, Some(&(hr, _))) => hr,
            (None, None) => break,
        };
        let o_end = o + order[o..]
            .iter()
            .take_while(|&&k| open[k as usize].uscc == h)
            .count();
        let r_end = r + by_enterprise[r..]
            .iter()
            .take_while(|&&(hr, _)| hr == h)
            .count();
        while seen < reported.len() && reported[seen] < h {
            seen += 1;
        }
        // The report a lookup by the enterprise finds is its last one (as a map keeps the last).
        let report = by_enterprise[r..r_end].last().map(|&(_, i)| i);
        open_here.clear();
        for &k in &order[o..o_end] {
            let p = &mut open[k as usize];
            if p.closed_on.is_some() {
                continue;
            }
            if reported.get(seen) == Some(&h) {
                let name = &categories.names[p.category as usize];
                match report.filter(|&i| {
                    reports.problems[i as usize]
                        .matches
                        .iter()
                        .any(|m| *m.category == **name)
                }) {
                    Some(i) => {
                        p.report = Some(i);
                        p.last_reported_on = today;
                        p.reports_without = 0;
                    }
                    None => {
                        p.reports_without += 1;
                        if p.reports_without >= close_days.max(1) {
                            p.closed_on = Some(today);
                        }
                    }
                }
            }
            if p.closed_on.is_none() {
                open_here.push(p.category);
            }
        }
        // New problems (a problem closed before and reported again opens anew), in report order.
        for &(_, i) in &by_enterprise[r..r_end] {
            for (j, m) in reports.problems[i as usize].matches.iter().enumerate() {
                let c = categories.of(&m.category);
                if !open_here.contains(&c) {
                    open_here.push(c);
                    new.push((i, j as u32));
                }
            }
        }
        (o, r) = (o_end, r_end);
    }
    drop((order, by_enterprise, open_here));
    let new_key = |&(i, j): &(u32, u32)| {
        let r = &reports.problems[i as usize];
        (
            &*r.district.code,
            r.uscc(),
            &*r.matches[j as usize].category,
            today,
        )
    };
    sort_new(&mut new, &new_key);

    // The second reading: the open problems as advanced, merged with the new ones.
    let mut counter = DailyCounter::new(date, districts, rules);
    let mut emit = |parts: &mut LedgerParts, row: LedgerRow<'_>| {
        counter.add(
            row.district.city_code,
            row.category,
            row.opened_on,
            row.closed_on,
        );
        parts.push(&row)
    };
    let new_row = |&(i, j): &(u32, u32)| {
        let r: &Report = &reports.problems[i as usize];
        let m = &r.matches[j as usize];
        LedgerRow {
            district: DistrictRef::of(&r.district),
            uscc: r.uscc(),
            enterprise_name: r.enterprise_name(),
            category: &m.category,
            keyword: m.keyword.as_deref(),
            opened_on: date,
            closed_on: None,
            first_text: r.text(),
            latest_text: r.text(),
            last_reported_on: date,
            reports_without: 0,
        }
    };
    let mut next_open = 0usize;
    let mut next_new = new.iter().peekable();
    let changed = || {
        ArrowError::ComputeError(
            "the previous date's problem_ledger changed while it was read; run the date again"
                .into(),
        )
    };
    read(previous, &mut failed, &mut |batch| {
        let c = Columns::of(&batch).map_err(table_err)?;
        for i in (0..batch.num_rows()).filter(|&i| c.is_open(i)) {
            let p = open.get(next_open).ok_or_else(|| table_err(changed()))?;
            let key = c.key(i);
            if hasher.of(key.1) != p.uscc {
                return Err(table_err(changed()));
            }
            while let Some(n) = next_new.next_if(|n| new_key(n) < key) {
                emit(&mut parts, new_row(n))?;
            }
            let report = p.report.map(|r| &reports.problems[r as usize]);
            let row = LedgerRow {
                district: DistrictRef {
                    province_code: c.province.value(i),
                    city_code: c.city_code.value(i),
                    city_name: c.city_name.value(i),
                    code: key.0,
                    name: c.district_name.value(i),
                },
                uscc: key.1,
                enterprise_name: report.map_or(c.name.value(i), Report::enterprise_name),
                category: key.2,
                keyword: c.keyword.is_valid(i).then(|| c.keyword.value(i)),
                opened_on: from_epoch_days(p.opened_on),
                closed_on: p.closed_on.map(from_epoch_days),
                first_text: c.first.value(i),
                latest_text: report.map_or(c.latest.value(i), Report::text),
                last_reported_on: from_epoch_days(p.last_reported_on),
                reports_without: p.reports_without,
            };
            emit(&mut parts, row)?;
            next_open += 1;
        }
        Ok(())
    })
    .map_err(|e| failed.take().unwrap_or(ProblemsError::Publish(e)))?;
    if next_open != open.len() {
        return Err(table_err(changed()));
    }
    for n in next_new {
        emit(&mut parts, new_row(n))?;
    }
    Ok(Some((parts.finish_rows()?, counter.finish())))
}

/// One reading of the previous ledger; an error of `f` is kept in `failed` (the reading itself can
/// only pass a `PublishError` through).
fn read(
    previous: &mut EachBatch<'_>,
    failed: &mut Option<ProblemsError>,
    f: &mut dyn FnMut(RecordBatch) -> Result<(), ProblemsError>,
) -> Result<(), PublishError> {
    previous(&mut |batch| {
        f(batch).map_err(|e| {
            let message = e.to_string();
            *failed = Some(e);
            PublishError::Parquet {
                table: "problem_ledger".into(),
                source: parquet::errors::ParquetError::ArrowError(message),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Schema;
    use crate::problems::ledger::tests::{d, district};
    use crate::problems::ledger::{advance_owned, daily_counts, report_of};
    use crate::problems::tables::{Interner, append_problems};
    use crate::publish::FileContent;

    #[test]
    fn new_problems_sort_as_their_whole_keys_do() {
        // Codes and credit codes that share prefixes, are prefixes of each other, hold NUL bytes,
        // differ only after 16 bytes, or are empty; categories that tie everything else.
        let codes = ["370102", "370101", "37010", "370102\0", ""];
        let usccs = [
            "91370102MA0000102M",
            "91370102MA0000102N",
            "91370102MA000010",
            "91370102MA000010\0",
            "91370102MA0000102",
            "",
            "Z",
            "913701",
        ];
        let categories = ["用工", "资金", "原材料"];
        let mut keys: Vec<(&str, &str, &str, i32)> = Vec::new();
        let mut seed = 7u64;
        for _ in 0..600 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pick = |n: usize, shift: u32| (seed >> shift) as usize % n;
            keys.push((
                codes[pick(codes.len(), 11)],
                usccs[pick(usccs.len(), 23)],
                categories[pick(categories.len(), 37)],
                18_000,
            ));
        }
        let key = |&(i, _): &(u32, u32)| keys[i as usize];
        let mut new: Vec<(u32, u32)> = (0..keys.len() as u32).map(|i| (i, 0)).collect();
        sort_new(&mut new, &key);
        let got: Vec<_> = new.iter().map(key).collect();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(got, want);
        assert!(crate::text::order_prefix("AB") < crate::text::order_prefix("ABC"));
        assert_eq!(
            crate::text::order_prefix("AB"),
            crate::text::order_prefix("AB\0")
        );
    }

    fn batches(table: &StagedTable) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        for f in &table.files {
            let FileContent::Bytes(bytes) = &f.content else {
                panic!("encoded bytes");
            };
            out.extend(
                crate::publish::parquet_io::read_bytes(bytes.clone().into()).expect("parquet"),
            );
        }
        out
    }

    /// The in-memory path, as the pipeline takes it when it cannot merge.
    fn in_memory(previous: &[RecordBatch], step: &Step<'_>) -> (StagedTable, Vec<DailyCount>) {
        let date = step.date;
        let (reports, districts, rules) = (step.reports, step.districts, step.rules);
        let mut parts = LedgerParts::new(date, step.part_rows);
        let mut open = Vec::new();
        let mut shared = Interner::default();
        for b in previous {
            let status: &StringArray = crate::records::column(b, "status").expect("status");
            let closed =
                arrow::compute::kernels::cmp::eq(status, &StringArray::new_scalar("closed"))
                    .expect("eq");
            let opened = arrow::compute::not(&closed).expect("not");
            append_problems(
                &mut shared,
                &arrow::compute::filter_record_batch(b, &opened).expect("filter"),
                &mut open,
            )
            .expect("problems");
            parts
                .carry(arrow::compute::filter_record_batch(b, &closed).expect("filter"))
                .expect("carry");
        }
        crate::problems::ledger::sort(&mut open);
        let ledger = advance_owned(open, date, reports, step.close_days);
        let counts = daily_counts(&ledger, date, districts, rules);
        (parts.finish(&ledger).expect("table"), counts)
    }

    fn merged(previous: &[RecordBatch], step: &Step<'_>) -> Option<(StagedTable, Vec<DailyCount>)> {
        let mut each = |f: &mut dyn FnMut(RecordBatch) -> Result<(), PublishError>| {
            previous.iter().try_for_each(|b| f(b.clone()))
        };
        advance(&mut each, step.date, step).expect("merge")
    }

    /// A small deterministic generator (no dependency for a test's dice).
    struct Dice(u64);
    impl Dice {
        fn roll(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn the_merge_writes_what_the_in_memory_ledger_writes_byte_for_byte() {
        let rules = Schema::builtin().expect("schema").problems;
        let districts: Vec<District> = ["370102", "370103", "370202"]
            .iter()
            .map(|c| district(c))
            .collect();
        let shared: Vec<Arc<District>> = districts.iter().cloned().map(Arc::new).collect();
        let texts = [
            "无",
            "缺少口罩和消毒液，员工返岗困难",
            "口罩不足",
            "资金紧张，订单减少",
            "口罩问题已协调解决",
            "设备故障",
            "原材料供应不上；物流不畅",
            "员工不足",
            "暂无",
            "",
        ];
        let mut dice = Dice(7);
        let mut previous: Vec<RecordBatch> = Vec::new();
        let mut opened_and_closed = (0, 0);
        for day in 1..=8 {
            let mut reports = Reports::default();
            for e in 0..60u64 {
                // Some enterprises do not report on a date (their district missing, or absent).
                if dice.roll(6) == 0 {
                    continue;
                }
                let district = &shared[(e % 3) as usize];
                let uscc = format!("91{}{e:010}", district.code);
                let name = format!("企业{e}-{}", dice.roll(2));
                let text = texts[dice.roll(texts.len() as u64) as usize];
                reports.add_reported(&uscc);
                if let Some(r) = report_of(&rules, district, &uscc, &name, text) {
                    reports.problems.push(r);
                }
            }
            let step = |part_rows| Step {
                date: d(day),
                reports: &reports,
                close_days: 2,
                districts: &districts,
                rules: &rules,
                part_rows,
            };
            for part_rows in [3, 7, 1000] {
                let (want, want_counts) = in_memory(&previous, &step(part_rows));
                let (got, got_counts) = merged(&previous, &step(part_rows)).expect("sorted");
                let names = |t: &StagedTable| -> Vec<String> {
                    t.files.iter().map(|f| f.name.clone()).collect()
                };
                assert_eq!(names(&got), names(&want), "day {day}, parts of {part_rows}");
                assert_eq!(got.rows, want.rows);
                assert_eq!(got_counts, want_counts, "day {day}");
            }
            let (table, counts) = merged(&previous, &step(7)).expect("sorted");
            for c in &counts {
                opened_and_closed.0 += c.opened;
                opened_and_closed.1 += c.closed;
            }
            previous = batches(&table);
        }
        assert!(
            opened_and_closed.0 > 50 && opened_and_closed.1 > 20,
            "the dates churn: {opened_and_closed:?}"
        );

        // A previous ledger whose open problems are out of the ledger's order is not merged.
        let reversed: Vec<RecordBatch> = previous
            .iter()
            .rev()
            .map(|b| {
                let idx =
                    arrow::array::UInt32Array::from_iter_values((0..b.num_rows() as u32).rev());
                arrow::compute::take_record_batch(b, &idx).expect("take")
            })
            .collect();
        let none = Reports::default();
        let step = Step {
            date: d(9),
            reports: &none,
            close_days: 2,
            districts: &districts,
            rules: &rules,
            part_rows: 7,
        };
        assert!(merged(&reversed, &step).is_none());
    }
}
