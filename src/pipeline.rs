//! One job, one date: pull every district in parallel, read and validate each at the submission
//! boundary, mark duplicates across districts, compare, build the tables and publish them atomically.
//! Every way a date gets processed (`run`, `backfill`, `serve`) goes through a `Session`: it holds the
//! warehouse lock and the ledger, and `Session::run_date` processes one date. `run_job` is the one-date
//! shorthand.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rayon::prelude::*;
use tracing::{debug, info, info_span, warn};

use crate::compare::{self, Comparison};
use crate::config::job::Source;
use crate::config::{District, Job};
use crate::day::{DayResult, DistrictResult, SourceInfo, SubmissionStatus};
use crate::ledger::{Ledger, LedgerError, RunCounts, RunStatus, SubmissionRecord, Trigger};
use crate::publish::manifest::ManifestDistrict;
use crate::publish::{self, FailPoint, Manifest, OutputLock, PublishError};
use crate::pull::{Pulled, Puller};
use crate::records;
use crate::validate::{
    Code, Finding, KnownDistrict, Severity, SubmissionContext, SubmissionOutcome, Value,
};
use crate::worker::{Isolation, Reader};

/// How runs are carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub isolation: Isolation,
    /// Overrides the job's `output`.
    pub output: Option<PathBuf>,
    /// How long to wait for another writer of the same warehouse.
    pub lock_wait: Duration,
    /// Test hook for interrupted publishes.
    pub fail: FailPoint,
    /// What started the run (recorded in the ledger).
    pub trigger: Trigger,
    /// Set when the service shuts down: a run that has not started publishing is abandoned.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            isolation: Isolation::InProcess,
            output: None,
            lock_wait: Duration::from_secs(0),
            fail: FailPoint::default(),
            trigger: Trigger::Manual,
            cancel: None,
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
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Source(#[from] crate::pull::http::HttpSetupError),
    #[error(
        "the run for {date} was abandoned by a shutdown before publishing; nothing was changed"
    )]
    Abandoned { date: NaiveDate },
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
    /// HTTP retries this run needed.
    pub pull_retries: u32,
}

impl RunReport {
    pub fn counts(&self) -> RunCounts {
        let mut c = RunCounts {
            rows_published: self.rows_published,
            ..RunCounts::default()
        };
        for d in &self.districts {
            match d.status {
                SubmissionStatus::Accepted => c.accepted += 1,
                SubmissionStatus::Partial => c.partial += 1,
                SubmissionStatus::Rejected => c.rejected += 1,
                SubmissionStatus::Missing => c.missing += 1,
            }
        }
        c
    }
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

/// A job's open warehouse: the lock (one writer per warehouse), the ledger, and the source.
pub struct Session<'j> {
    pub job: &'j Job,
    pub output: PathBuf,
    pub ledger: Ledger,
    puller: Puller,
    /// Comparing and publishing happen one date at a time, so each date compares with the snapshot
    /// published before it.
    publishing: Mutex<()>,
    _lock: OutputLock,
}

impl<'j> Session<'j> {
    /// Lock the warehouse (waiting up to `options.lock_wait`), repair an interrupted publish, open the
    /// ledger and the source.
    pub fn open(job: &'j Job, options: &RunOptions) -> Result<Session<'j>, RunError> {
        let output = options.output.clone().unwrap_or_else(|| job.output.clone());
        let lock = OutputLock::acquire(&output, options.lock_wait)?;
        let rolled = publish::recover(&output)?;
        if !rolled.is_empty() {
            warn!(dates = ?rolled, "completed publishes interrupted earlier");
        }
        let ledger = Ledger::open(&job.ledger_path(&output))?;
        ledger.close_interrupted_runs(&job.name)?;
        let puller = match &job.source {
            Source::Dir { pattern } => Puller::Dir {
                pattern: pattern.clone(),
            },
            Source::Http(settings) => Puller::Http(crate::pull::http::HttpSource::new(
                settings.clone(),
                output.join("_state").join("blobs"),
            )?),
        };
        Ok(Session {
            job,
            output,
            ledger,
            puller,
            publishing: Mutex::new(()),
            _lock: lock,
        })
    }

    pub fn puller(&self) -> &Puller {
        &self.puller
    }

    /// Process one date and publish its snapshot, recording the run in the ledger.
    pub fn run_date(&self, date: NaiveDate, options: &RunOptions) -> Result<RunReport, RunError> {
        let job = self.job;
        let span =
            info_span!("run", job = %job.name, date = %date, trigger = options.trigger.as_str());
        let _enter = span.enter();
        let run_id = self.ledger.start_run(&job.name, date, options.trigger)?;
        let result = self.process(date, options);
        let (status, counts, error) = match &result {
            Ok(report) => (RunStatus::Published, report.counts(), None),
            Err(RunError::Abandoned { .. }) => (RunStatus::Abandoned, RunCounts::default(), None),
            Err(e) => (RunStatus::Failed, RunCounts::default(), Some(e.to_string())),
        };
        self.ledger
            .finish_run(run_id, status, counts, error.as_deref())?;
        crate::metrics::record_run(&job.name, status, &result);
        result
    }

    fn cancelled(options: &RunOptions) -> bool {
        options
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    }

    fn process(&self, date: NaiveDate, options: &RunOptions) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let job = self.job;
        let known: std::sync::Arc<Vec<KnownDistrict>> = std::sync::Arc::new(
            job.districts
                .iter()
                .map(|d| KnownDistrict {
                    code: d.code.clone(),
                    name: d.name.clone(),
                    city_name: d.city_name.clone(),
                })
                .collect(),
        );
        let reader = Reader::new(&options.isolation, &job.schema);
        let retries = std::sync::atomic::AtomicU32::new(0);
        let mut districts: Vec<DistrictResult> = job
            .districts
            .par_iter()
            .map(|district| {
                let _span =
                    info_span!("district", code = %district.code, name = %district.name).entered();
                if Self::cancelled(options) {
                    return DistrictResult {
                        district: district.clone(),
                        source: None,
                        outcome: SubmissionOutcome::default(),
                    };
                }
                let ctx = SubmissionContext {
                    district_code: district.code.clone(),
                    report_date: date,
                    limits: job.limits.read,
                    districts: std::sync::Arc::clone(&known),
                };
                // Only HTTP pulls use the previous submission (conditional GET).
                let previous = match self.puller {
                    Puller::Http(_) => self
                        .ledger
                        .submission(&job.name, date, &district.code)
                        .ok()
                        .flatten(),
                    Puller::Dir { .. } => None,
                };
                let (pulled, tries) = self.puller.pull(
                    &district.code,
                    date,
                    job.limits.read.max_file_bytes,
                    previous.as_ref(),
                );
                retries.fetch_add(tries, Ordering::Relaxed);
                let (source, outcome) = match pulled {
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
        if Self::cancelled(options) {
            warn!("shutting down: abandoning the run before publishing");
            return Err(RunError::Abandoned { date });
        }
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

        let (comparison, rows_published) = {
            let _publishing = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
            let previous = previous_rates(&self.output, date);
            stage("previous rates");
            let comparison = compare::aggregate(&job.schema, &day, &previous);
            stage("compare");
            let batches = records::build(&job.schema, &day, &comparison)?;
            stage("records");
            let manifest = manifest(job, &day);
            publish::publish_day(&self.output, date, &batches, &manifest, options.fail)?;
            stage("publish");
            refresh_following_change(&self.output, date, &comparison)?;
            (comparison, batches.enterprise_rows() as u64)
        };
        let records: Vec<SubmissionRecord> = day
            .districts
            .iter()
            .map(|d| SubmissionRecord {
                district_code: d.district.code.clone(),
                source: d.source.as_ref().map(|s| s.location.clone()),
                etag: d.source.as_ref().and_then(|s| s.etag.clone()),
                last_modified: d.source.as_ref().and_then(|s| s.last_modified.clone()),
                sha256: d
                    .source
                    .as_ref()
                    .map(|s| s.sha256.clone())
                    .filter(|s| !s.is_empty()),
                bytes: d.source.as_ref().map(|s| s.bytes),
                status: d.status().as_str().to_string(),
            })
            .collect();
        self.ledger.record_submissions(&job.name, date, &records)?;
        info!(
            rows = rows_published,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "published"
        );
        Ok(RunReport {
            report_date: date,
            output: self.output.clone(),
            districts: summaries(&day),
            comparison,
            rows_published,
            elapsed: started.elapsed(),
            peak_rss_bytes: crate::worker::peak_rss_bytes(None).unwrap_or(0),
            peak_rss_reader_bytes,
            pull_retries: retries.load(Ordering::Relaxed),
        })
    }
}

/// Process one date of a job and publish its snapshot (lock, recover, run, record).
pub fn run_job(job: &Job, date: NaiveDate, options: &RunOptions) -> Result<RunReport, RunError> {
    Session::open(job, options)?.run_date(date, options)
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
                    cell: districts[di].outcome.key_column.map(|c| crate::read::cell_ref(row - 1, c)),
                    expected: Some("每家企业只由所在区县填报".into()),
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
    output: &Path,
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
    let now: compare::PreviousRates = comparison
        .cities
        .iter()
        .map(|c| (c.city_code.clone(), compare::city_resumption(c)))
        .collect();
    let mut changed = false;
    for c in &mut cities {
        let change = compare::resumption_change(compare::city_resumption(c), now.get(&c.city_code));
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
        &[("city_daily", vec![&batch])],
        &manifest,
        FailPoint::default(),
    )?;
    Ok(())
}

/// city_code → the exact 开工率 of the nearest earlier published date.
fn previous_rates(output: &Path, date: NaiveDate) -> compare::PreviousRates {
    let Some(previous) = publish::published_dates(output)
        .into_iter()
        .rev()
        .find(|d| *d < date)
    else {
        return compare::PreviousRates::new();
    };
    match compare::table::read_cities(output, previous) {
        Ok(cities) => cities
            .into_iter()
            .map(|c| (c.city_code.clone(), compare::city_resumption(&c)))
            .collect(),
        Err(e) => {
            warn!(previous = %previous, error = %e, "cannot read the previous snapshot; resumption_rate_change left empty");
            compare::PreviousRates::new()
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
