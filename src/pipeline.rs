//! One job, one date: pull every district in parallel, read and validate each at the submission
//! boundary, mark duplicates across districts, compare, build the tables and publish them atomically.
//! Every way a date gets processed (`run`, and later `backfill` and `serve`) goes through `run_job`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rayon::prelude::*;
use tracing::{debug, info, info_span, warn};

use crate::compare::{self, Comparison};
use crate::config::job::Source;
use crate::config::{District, Job};
use crate::day::{DayResult, DistrictResult, SourceInfo, SubmissionStatus};
use crate::publish::manifest::ManifestDistrict;
use crate::publish::{self, FailPoint, Manifest, OutputLock, PublishError};
use crate::pull::{self, Pulled};
use crate::records;
use crate::validate::{
    Code, Finding, KnownDistrict, Severity, SubmissionContext, SubmissionOutcome, Value,
};
use crate::worker::{Isolation, Reader};

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub isolation: Isolation,
    /// Overrides the job's `output`.
    pub output: Option<PathBuf>,
    /// How long to wait for another writer of the same warehouse.
    pub lock_wait: Duration,
    /// Test hook for interrupted publishes.
    pub fail: FailPoint,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            isolation: Isolation::InProcess,
            output: None,
            lock_wait: Duration::from_secs(0),
            fail: FailPoint::default(),
        }
    }
}

/// Why a date could not be published.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Lock(#[from] publish::lock::LockError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("cannot build the tables: {0}")]
    Records(#[from] arrow::error::ArrowError),
    #[error("the job's source kind `http` is not supported by this build yet; use kind = \"dir\"")]
    UnsupportedSource,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub report_date: NaiveDate,
    pub output: PathBuf,
    pub districts: Vec<DistrictSummary>,
    pub comparison: Comparison,
    pub rows_published: u64,
    pub elapsed: Duration,
    /// Peak RSS of this process so far (bytes).
    pub peak_rss_bytes: u64,
    /// Largest peak RSS of a reader worker process (bytes; 0 when reading in process).
    pub peak_rss_reader_bytes: u64,
}

/// One line of the per-district summary.
#[derive(Debug, Clone)]
pub struct DistrictSummary {
    pub district: District,
    pub status: SubmissionStatus,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub warnings: u64,
    /// The first error, for the summary line.
    pub first_error: Option<String>,
}

/// Process one date of a job and publish its snapshot.
pub fn run_job(job: &Job, date: NaiveDate, options: &RunOptions) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let span = info_span!("run", job = %job.name, date = %date);
    let _enter = span.enter();
    let output = options.output.clone().unwrap_or_else(|| job.output.clone());
    let _lock = OutputLock::acquire(&output, options.lock_wait)?;
    debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "output locked"
    );
    let rolled = publish::recover(&output)?;
    if !rolled.is_empty() {
        warn!(dates = ?rolled, "completed publishes interrupted earlier");
    }
    let Source::Dir { pattern } = &job.source else {
        return Err(RunError::UnsupportedSource);
    };

    let known: Vec<KnownDistrict> = job
        .districts
        .iter()
        .map(|d| KnownDistrict {
            code: d.code.clone(),
            name: d.name.clone(),
            city_name: d.city_name.clone(),
        })
        .collect();
    let reader = Reader::new(&options.isolation, &job.schema);
    let mut districts: Vec<DistrictResult> = job
        .districts
        .par_iter()
        .map(|district| {
            let _span =
                info_span!("district", code = %district.code, name = %district.name).entered();
            let ctx = SubmissionContext {
                district_code: district.code.clone(),
                report_date: date,
                limits: job.limits.read,
                districts: known.clone(),
            };
            let (source, outcome) = match pull::dir::pull(
                pattern,
                &district.code,
                date,
                job.limits.read.max_file_bytes,
            ) {
                Pulled::Missing => (None, SubmissionOutcome::default()),
                Pulled::Problem { info, finding } => (
                    info,
                    SubmissionOutcome {
                        findings: vec![finding],
                        ..SubmissionOutcome::default()
                    },
                ),
                Pulled::Found { info, bytes } => {
                    let outcome = reader.validate(&bytes, &ctx);
                    (Some(info), outcome)
                }
            };
            let result = DistrictResult {
                district: district.clone(),
                source,
                outcome,
            };
            info!(
                status = result.status().as_str(),
                rows = result.outcome.rows.len(),
                rows_rejected = result.outcome.rows_rejected,
                "district read"
            );
            result
        })
        .collect();
    let peak_rss_reader_bytes = reader.finish();
    districts.sort_by(|a, b| a.district.code.cmp(&b.district.code));
    mark_duplicates_across_districts(job, &mut districts);
    let day = DayResult {
        report_date: date,
        districts,
    };

    let stage = |name: &str| {
        debug!(
            stage = name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "stage done"
        )
    };
    stage("read and validate");
    let previous = previous_rates(&output, date);
    let comparison = compare::aggregate(&job.schema, &day, &previous);
    stage("compare");
    let batches = records::build(&job.schema, &day, &comparison)?;
    stage("records");
    let manifest = manifest(job, &day);
    publish::publish_day(&output, date, &batches, &manifest, options.fail)?;
    stage("publish");
    refresh_following_change(&output, date, &comparison)?;
    let rows_published = batches.enterprise_daily.num_rows() as u64;
    info!(
        rows = rows_published,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "published"
    );
    Ok(RunReport {
        report_date: date,
        output,
        districts: summaries(&day),
        comparison,
        rows_published,
        elapsed: started.elapsed(),
        peak_rss_bytes: crate::worker::peak_rss_bytes(None).unwrap_or(0),
        peak_rss_reader_bytes,
    })
}

/// The same key submitted by two districts on one date: a warning on every row involved, in each
/// district's own rejects (contract §7). Rows are kept.
fn mark_duplicates_across_districts(job: &Job, districts: &mut [DistrictResult]) {
    let key = job.schema.key_field;
    let reported: Vec<usize> = (0..districts.len())
        .filter(|&i| districts[i].status().is_reported())
        .collect();
    if reported.len() < 2 {
        return;
    }
    // key → the (district, row) places it appears in; keys borrowed from the rows.
    let mut owners: HashMap<&str, Vec<(usize, u32)>, ahash::RandomState> = HashMap::default();
    for &di in &reported {
        for row in &districts[di].outcome.rows {
            if let Some(Some(Value::Text(k))) = row.values.get(key) {
                owners
                    .entry(k.as_str())
                    .or_default()
                    .push((di, row.source_row));
            }
        }
    }
    let label = &job.schema.fields[key].label;
    let mut extra: Vec<(usize, Finding)> = Vec::new();
    for (k, places) in &owners {
        if places.iter().all(|(d, _)| *d == places[0].0) {
            continue;
        }
        for &(di, row) in places {
            let others: Vec<String> = places
                .iter()
                .filter(|(d, _)| *d != di)
                .map(|(d, r)| {
                    let o = &districts[*d].district;
                    format!("{}{}（{}）第 {r} 行", o.city_name, o.name, o.code)
                })
                .collect();
            extra.push((
                di,
                Finding {
                    code: Code::DuplicateAcrossDistricts,
                    severity: Severity::Warning,
                    row: Some(row),
                    column: districts[di].outcome.key_header.clone(),
                    field: Some(job.schema.fields[key].name.clone()),
                    value: Some(k.to_string()),
                    message: format!(
                        "第 {row} 行的{label} {k} 同时出现在{}的报表中：请与对方核实企业归属，只由所在区县填报",
                        others.join("、")
                    ),
                },
            ));
        }
    }
    drop(owners);
    extra.sort_by_key(|(district, finding)| (*district, finding.row));
    for (di, finding) in extra {
        districts[di].outcome.findings.push(finding);
    }
}

/// `resumption_rate_change` of the next published date compares with its nearest earlier published
/// date, which may just have become this one (dates processed out of order, or republished with other
/// figures). Rewrite that date's `city_daily` when its change differs.
fn refresh_following_change(
    output: &std::path::Path,
    date: NaiveDate,
    comparison: &Comparison,
) -> Result<(), RunError> {
    let Some(next) = publish::published_dates(output)
        .into_iter()
        .find(|d| *d > date)
    else {
        return Ok(());
    };
    let mut cities = match compare::table::read_cities(output, next) {
        Ok(c) => c,
        Err(e) => {
            warn!(next = %next, error = %e, "cannot read the next snapshot to refresh its change");
            return Ok(());
        }
    };
    let now: BTreeMap<&str, Option<f64>> = comparison
        .cities
        .iter()
        .map(|c| (c.city_code.as_str(), c.resumption_rate))
        .collect();
    let mut changed = false;
    for c in &mut cities {
        let change = match (c.resumption_rate, now.get(c.city_code.as_str())) {
            (Some(later), Some(Some(earlier))) => Some(compare::round_rate(later - earlier)),
            _ => None,
        };
        if change != c.resumption_rate_change {
            c.resumption_rate_change = change;
            changed = true;
        }
    }
    if !changed {
        return Ok(());
    }
    info!(next = %next, "refreshing the day-over-day change of the next published date");
    let batch = records::city_daily_batch(&cities, next)?;
    let manifest = publish::read_manifest(output, next)?;
    publish::publish_tables(
        output,
        next,
        &[("city_daily", &batch)],
        &manifest,
        FailPoint::default(),
    )?;
    Ok(())
}

/// city_code → `resumption_rate` of the nearest earlier published date.
fn previous_rates(output: &std::path::Path, date: NaiveDate) -> BTreeMap<String, Option<f64>> {
    let Some(previous) = publish::published_dates(output)
        .into_iter()
        .rev()
        .find(|d| *d < date)
    else {
        return BTreeMap::new();
    };
    match compare::table::read_cities(output, previous) {
        Ok(cities) => cities
            .into_iter()
            .map(|c| (c.city_code, c.resumption_rate))
            .collect(),
        Err(e) => {
            warn!(previous = %previous, error = %e, "cannot read the previous snapshot; resumption_rate_change left empty");
            BTreeMap::new()
        }
    }
}

fn manifest(job: &Job, day: &DayResult) -> Manifest {
    Manifest {
        job: job.name.clone(),
        report_date: day.report_date,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_id: job.schema.id.clone(),
        schema_version: job.schema.version,
        districts: day
            .districts
            .iter()
            .map(|d| {
                let source: Option<&SourceInfo> = d.source.as_ref();
                ManifestDistrict {
                    district_code: d.district.code.clone(),
                    district_name: d.district.name.clone(),
                    city_name: d.district.city_name.clone(),
                    source: source.map(|s| s.location.clone()),
                    sha256: source.map(|s| s.sha256.clone()).filter(|s| !s.is_empty()),
                    bytes: source.map(|s| s.bytes),
                    status: d.status().as_str().to_string(),
                    rows_accepted: if d.status().is_reported() {
                        d.outcome.rows.len() as u64
                    } else {
                        0
                    },
                    rows_rejected: u64::from(d.outcome.rows_rejected),
                    warnings: u64::from(d.outcome.warnings()),
                }
            })
            .collect(),
        tables: BTreeMap::new(),
    }
}

fn summaries(day: &DayResult) -> Vec<DistrictSummary> {
    day.districts
        .iter()
        .map(|d| DistrictSummary {
            district: d.district.clone(),
            status: d.status(),
            rows_accepted: if d.status().is_reported() {
                d.outcome.rows.len() as u64
            } else {
                0
            },
            rows_rejected: u64::from(d.outcome.rows_rejected),
            warnings: u64::from(d.outcome.warnings()),
            first_error: d
                .outcome
                .findings
                .iter()
                .find(|f| f.is_error())
                .map(|f| f.message.clone()),
        })
        .collect()
}
