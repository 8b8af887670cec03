//! One job, one date: pull every district in parallel, read and validate each at the submission
//! boundary, keep what a failed pull cannot replace, mark duplicates across districts, refuse or report a
//! regression, compare, build the tables and publish them atomically as a new version of the date.
//! Every way a date gets processed (`run`, `backfill`, `serve`) goes through a `Session`: it holds the
//! warehouse lock and the ledger, and `Session::run_date` processes one date. `run_job` is the one-date
//! shorthand.
//!
//! Never silently worse (contract §9): a source that cannot be reached as a whole fails the run before
//! anything is published; a district whose pull failed or whose file vanished keeps its previous
//! submission in automatic runs; a manual run refuses to publish a regression unless the operator says
//! `--allow-regression`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rayon::prelude::*;
use tracing::{debug, info, info_span, warn};

use crate::compare::{self, CityAggregate, Comparison};
use crate::config::job::Source;
use crate::config::{District, Job};
use crate::day::{DayResult, DistrictResult, Origin, SourceInfo, SubmissionStatus};
use crate::ledger::{Ledger, LedgerError, RunCounts, RunStatus, SubmissionRecord, Trigger};
use crate::publish::manifest::{
    ManifestDistrict, SUBMISSION_KEPT_PREVIOUS, SUBMISSION_NONE, SUBMISSION_PULLED,
};
use crate::publish::{self, Manifest, OutputLock, PublishError, Transaction};
use crate::pull::blobs::BlobStore;
use crate::pull::dir::DirSource;
use crate::pull::{Pulled, Puller, SourceError};
use crate::read::boundary::{Isolation, Reader};
use crate::records;
use crate::validate::{
    Code, Finding, KnownDistrict, Severity, SubmissionContext, SubmissionOutcome, Value,
};

/// How runs are carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub isolation: Isolation,
    /// Overrides the job's `output`.
    pub output: Option<PathBuf>,
    /// How long to wait for another writer of the same warehouse.
    pub lock_wait: Duration,
    /// What started the run (recorded in the ledger; automatic triggers keep previous submissions).
    pub trigger: Trigger,
    /// Set by a shutdown or an interrupt: a run that has not started publishing is abandoned.
    pub cancel: Option<Arc<AtomicBool>>,
    /// The operator's explicit word that a regression may be published (manual runs only).
    pub allow_regression: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            isolation: Isolation::InProcess,
            output: None,
            lock_wait: Duration::from_secs(0),
            trigger: Trigger::Manual,
            cancel: None,
            allow_regression: false,
        }
    }
}

/// One district that a publish would make worse (contract §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regression {
    pub district_code: String,
    pub district_name: String,
    pub before: SubmissionStatus,
    pub rows_before: u64,
    pub after: SubmissionStatus,
    pub rows_after: u64,
    /// Why, in the operator's words.
    pub why: String,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} ({} rows) -> {} ({} rows): {}",
            self.district_code,
            self.district_name,
            self.before.as_str(),
            self.rows_before,
            self.after.as_str(),
            self.rows_after,
            self.why
        )
    }
}

/// The regressions, one per line.
fn lines(regressions: &[Regression]) -> String {
    regressions
        .iter()
        .map(|r| format!("  {r}"))
        .collect::<Vec<_>>()
        .join("\n")
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
    HttpSetup(#[from] crate::pull::http::HttpSetupError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(
        "cannot keep the raw submission in {path}: {source} (check that the disk is not full; nothing was published)"
    )]
    Blob {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{date}: the pull of {district} failed ({reason}) and its previous submission (blob {sha256}) is no longer kept, so the published version stays as it is"
    )]
    CannotKeepPrevious {
        date: NaiveDate,
        district: String,
        reason: String,
        sha256: String,
    },
    #[error(
        "{date} was not published: it would make {} district(s) worse than the published version {version}:\n{}\nFix the source, or publish it anyway with --allow-regression",
        regressions.len(),
        lines(regressions)
    )]
    Regression {
        date: NaiveDate,
        version: u32,
        regressions: Vec<Regression>,
    },
    #[error(
        "the run for {date} was abandoned by a shutdown or an interrupt before publishing; nothing was changed"
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
    /// The version of the date this run published.
    pub version: u32,
    /// Regressions published (an automatic run's newly pulled, worse files; or allowed by the operator).
    pub regressions: Vec<Regression>,
    /// What started the run.
    pub trigger: Trigger,
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
    /// Kept from the previous version because the pull failed or the file vanished.
    pub kept_previous: bool,
}

/// A job's open warehouse: the lock (one writer per warehouse), the ledger, the source and the blobs.
pub struct Session<'j> {
    pub job: &'j Job,
    pub output: PathBuf,
    pub ledger: Ledger,
    puller: Puller,
    blobs: BlobStore,
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
        let blobs = BlobStore::for_output(&output);
        let puller = match &job.source {
            Source::Dir { base, template } => {
                Puller::Dir(DirSource::new(base.clone(), template.clone()))
            }
            Source::Http(settings) => Puller::Http(crate::pull::http::HttpSource::new(
                settings.clone(),
                blobs.clone(),
            )?),
        };
        Ok(Session {
            job,
            output,
            ledger,
            puller,
            blobs,
            publishing: Mutex::new(()),
            _lock: lock,
        })
    }

    pub fn puller(&self) -> &Puller {
        &self.puller
    }

    /// Process one date and publish its snapshot, recording the run in the ledger. Once the snapshot is
    /// published the run is a success, whatever happens to the bookkeeping after it.
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
            Err(e @ RunError::Regression { .. }) => (
                RunStatus::Refused,
                RunCounts::default(),
                Some(e.to_string()),
            ),
            Err(e) => (RunStatus::Failed, RunCounts::default(), Some(e.to_string())),
        };
        if let Err(e) = self
            .ledger
            .finish_run(run_id, status, counts, error.as_deref())
        {
            warn!(error = %e, status = status.as_str(), "cannot record the end of the run in the ledger");
        }
        crate::metrics::record_run(&job.name, status, &result);
        result
    }

    fn cancelled(options: &RunOptions) -> bool {
        options
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    }

    fn context(
        &self,
        district: &District,
        date: NaiveDate,
        known: &Arc<Vec<KnownDistrict>>,
    ) -> SubmissionContext {
        SubmissionContext {
            district_code: district.code.clone(),
            report_date: date,
            date_known: true,
            limits: self.job.limits.read,
            districts: Arc::clone(known),
        }
    }

    /// Pull, keep and validate one district's submission.
    fn read_district(
        &self,
        district: &District,
        date: NaiveDate,
        known: &Arc<Vec<KnownDistrict>>,
        reader: &Reader<'_>,
    ) -> Result<(DistrictResult, u32), RunError> {
        let job = self.job;
        // Only HTTP pulls use the previous submission (conditional GET).
        let previous = match self.puller {
            Puller::Http(_) => self
                .ledger
                .submission(&job.name, date, &district.code)
                .ok()
                .flatten(),
            Puller::Dir(_) => None,
        };
        let (pulled, tries) = self.puller.pull(
            &district.code,
            date,
            job.limits.read.max_file_bytes,
            previous.as_ref(),
        )?;
        let only = |finding: Finding| SubmissionOutcome {
            findings: vec![finding],
            ..SubmissionOutcome::default()
        };
        let (source, outcome, pull_failure) = match pulled {
            Pulled::Missing => (None, SubmissionOutcome::default(), None),
            Pulled::Problem { info, finding } => (info, only(finding), None),
            Pulled::Unreachable { location, finding } => {
                let reason = format!(
                    "{location}: {}",
                    finding
                        .detail
                        .clone()
                        .unwrap_or_else(|| finding.message.clone())
                );
                (None, only(finding), Some(reason))
            }
            Pulled::Found { info, bytes } => {
                self.blobs
                    .put(&info.sha256, &bytes)
                    .map_err(|source| RunError::Blob {
                        path: self.blobs.dir().to_path_buf(),
                        source,
                    })?;
                let outcome = reader.validate(&bytes, &self.context(district, date, known));
                (Some(info), outcome, None)
            }
        };
        Ok((
            DistrictResult {
                district: district.clone(),
                source,
                outcome,
                origin: Origin::Pulled,
                pull_failure,
            },
            tries,
        ))
    }

    /// Automatic runs: a district whose pull failed or whose file vanished keeps the submission of the
    /// published version, re-read from its blob.
    fn keep_previous(
        &self,
        date: NaiveDate,
        districts: &mut [DistrictResult],
        live: &Manifest,
        known: &Arc<Vec<KnownDistrict>>,
        reader: &Reader<'_>,
    ) -> Result<(), RunError> {
        for d in districts.iter_mut() {
            let vanished = d.source.is_none() && d.outcome.findings.is_empty();
            let reason = match (&d.pull_failure, vanished) {
                (Some(failure), _) => format!("the pull failed: {failure}"),
                (None, true) => "its file is no longer at the source".to_string(),
                (None, false) => continue,
            };
            let Some(before) = live
                .districts
                .iter()
                .find(|m| m.district_code == d.district.code)
            else {
                continue;
            };
            let (Some(sha256), Some(location)) = (&before.sha256, &before.source) else {
                continue;
            };
            let bytes = match self.blobs.get(sha256) {
                Ok(Some(bytes)) => bytes,
                Ok(None) | Err(_) => {
                    return Err(RunError::CannotKeepPrevious {
                        date,
                        district: format!("{} {}", d.district.code, d.district.name),
                        reason,
                        sha256: sha256.clone(),
                    });
                }
            };
            warn!(district_code = %d.district.code, %reason, "keeping the previous submission");
            d.outcome = reader.validate(&bytes, &self.context(&d.district, date, known));
            d.source = Some(SourceInfo {
                location: location.clone(),
                file_name: crate::pull::file_name_of(location),
                sha256: sha256.clone(),
                bytes: bytes.len() as u64,
                etag: None,
                last_modified: None,
            });
            d.origin = Origin::KeptPrevious { reason };
        }
        Ok(())
    }

    fn process(&self, date: NaiveDate, options: &RunOptions) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let job = self.job;
        self.puller.check()?;
        let known: Arc<Vec<KnownDistrict>> = Arc::new(
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
        let results: Vec<(DistrictResult, u32)> = job
            .districts
            .par_iter()
            .map(|district| {
                let _span = info_span!(
                    "district",
                    district_code = %district.code,
                    district_name = %district.name
                )
                .entered();
                if Self::cancelled(options) {
                    return Ok((
                        DistrictResult {
                            district: district.clone(),
                            source: None,
                            outcome: SubmissionOutcome::default(),
                            origin: Origin::Pulled,
                            pull_failure: None,
                        },
                        0,
                    ));
                }
                let (result, tries) = self.read_district(district, date, &known, &reader)?;
                info!(
                    status = result.status().as_str(),
                    rows = result.outcome.rows.len(),
                    rows_rejected = result.outcome.rows_rejected,
                    "district read"
                );
                Ok((result, tries))
            })
            .collect::<Result<_, RunError>>()?;
        let retries: u32 = results.iter().map(|(_, t)| t).sum();
        let mut districts: Vec<DistrictResult> = results.into_iter().map(|(d, _)| d).collect();
        if Self::cancelled(options) {
            warn!("abandoning the run before publishing");
            return Err(RunError::Abandoned { date });
        }
        if matches!(self.puller, Puller::Http(_))
            && !districts.is_empty()
            && districts.iter().all(|d| d.pull_failure.is_some())
        {
            return Err(SourceError::HttpUnreachable {
                districts: districts.len(),
                example: districts[0].pull_failure.clone().unwrap_or_default(),
            }
            .into());
        }
        districts.sort_by(|a, b| a.district.code.cmp(&b.district.code));
        let stage = |name: &str| {
            debug!(
                stage = name,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "stage done"
            )
        };
        stage("read and validate");

        let _publishing = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let live = publish::read_manifest_if_published(&self.output, date)?;
        if options.trigger.is_automatic()
            && let Some(live) = &live
        {
            self.keep_previous(date, &mut districts, live, &known, &reader)?;
        }
        let peak_rss_reader_bytes = reader.finish();
        mark_duplicates_across_districts(job, &mut districts);
        let day = DayResult {
            report_date: date,
            districts,
        };
        let regressions = live
            .as_ref()
            .map(|live| find_regressions(live, &day))
            .unwrap_or_default();
        if !regressions.is_empty() {
            let version = live.as_ref().map(Manifest::effective_version).unwrap_or(0);
            if options.trigger.is_automatic() || options.allow_regression {
                for r in &regressions {
                    warn!(regression = %r, "publishing a regression");
                }
            } else {
                return Err(RunError::Regression {
                    date,
                    version,
                    regressions,
                });
            }
        }
        let previous = previous_rates(&self.output, date);
        stage("previous rates");
        let comparison = compare::aggregate(&job.schema, &day, &previous);
        stage("compare");
        let batches = records::build(&job.schema, &day, &comparison)?;
        stage("records");
        if Self::cancelled(options) {
            warn!("abandoning the run before publishing");
            return Err(RunError::Abandoned { date });
        }
        let mut tx = Transaction::begin(&self.output, job.keep_versions)?;
        let mut tables = Vec::new();
        for (table, parts) in batches.tables() {
            tables.push(publish::encode_table(table, &parts)?);
        }
        let version = tx.stage(date, tables, manifest(job, &day, options.trigger))?;
        stage_change_refresh(&mut tx, &self.output, date, &comparison.cities)?;
        tx.commit()?;
        stage("publish");
        let rows_published = batches.enterprise_rows() as u64;

        // Published. What follows is bookkeeping: it is logged when it fails, never fails the run.
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
                origin: match d.origin {
                    Origin::Pulled => SUBMISSION_PULLED.into(),
                    Origin::KeptPrevious { .. } => SUBMISSION_KEPT_PREVIOUS.into(),
                },
            })
            .collect();
        if let Err(e) = self.ledger.record_submissions(&job.name, date, &records) {
            warn!(error = %e, "published, but the submissions could not be recorded in the ledger");
        }
        match self.blobs.prune_if_due(job.keep_blob_days) {
            Ok(Some(n)) if n > 0 => {
                info!(removed = n, "removed raw submissions past keep_blob_days")
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cannot prune the raw submissions"),
        }
        info!(
            rows = rows_published,
            version,
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
            peak_rss_bytes: crate::read::boundary::peak_rss_bytes(None).unwrap_or(0),
            peak_rss_reader_bytes,
            pull_retries: retries,
            version,
            regressions,
            trigger: options.trigger,
        })
    }
}

/// Districts the new day makes worse than the published version: a worse status (accepted > partial >
/// rejected > missing) or fewer accepted rows.
pub fn find_regressions(live: &Manifest, day: &DayResult) -> Vec<Regression> {
    let mut out = Vec::new();
    for d in &day.districts {
        let Some(before) = live
            .districts
            .iter()
            .find(|m| m.district_code == d.district.code)
        else {
            continue;
        };
        let Some(before_status) = SubmissionStatus::parse(&before.status) else {
            continue;
        };
        let after = d.status();
        let rows_after = if after.is_reported() {
            d.outcome.rows.len() as u64
        } else {
            0
        };
        let worse = after.rank() < before_status.rank();
        let fewer = rows_after < before.rows_accepted;
        if !worse && !fewer {
            continue;
        }
        let why = if let Some(failure) = &d.pull_failure {
            format!("the pull failed: {failure}")
        } else if after == SubmissionStatus::Missing {
            "its file is no longer at the source".to_string()
        } else if let Some(e) = d.outcome.findings.iter().find(|f| f.is_error()) {
            format!("the new file is worse ({}: {})", e.code, e.message)
        } else {
            "the new file has fewer accepted rows".to_string()
        };
        out.push(Regression {
            district_code: d.district.code.clone(),
            district_name: d.district.name.clone(),
            before: before_status,
            rows_before: before.rows_accepted,
            after,
            rows_after,
            why,
        });
    }
    out
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
                    detail: None,
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
/// date, which may just have become this one (dates processed out of order, republished or rolled back
/// with other figures). When that change differs, the next date's `city_daily` is staged in the same
/// transaction as a new version of it (trigger `refresh`), so both land together or neither does.
pub fn stage_change_refresh(
    tx: &mut Transaction,
    output: &Path,
    date: NaiveDate,
    cities_now: &[CityAggregate],
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
    let now: compare::PreviousRates = cities_now
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
    let mut manifest = publish::read_manifest(output, next)?;
    manifest.trigger = Some("refresh".into());
    manifest.restored_version = None;
    manifest.note = Some(format!(
        "resumption_rate_change recomputed against {date}, which was published anew"
    ));
    tx.stage(
        next,
        vec![publish::encode_table("city_daily", &[&batch])?],
        manifest,
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

fn manifest(job: &Job, day: &DayResult, trigger: Trigger) -> Manifest {
    Manifest {
        job: job.name.clone(),
        report_date: day.report_date,
        version: 0,
        published_at: None,
        trigger: Some(trigger.as_str().to_string()),
        restored_version: None,
        note: None,
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
                    submission: match (&d.origin, &d.source) {
                        (Origin::KeptPrevious { .. }, _) => SUBMISSION_KEPT_PREVIOUS.into(),
                        (Origin::Pulled, Some(_)) => SUBMISSION_PULLED.into(),
                        (Origin::Pulled, None) => SUBMISSION_NONE.into(),
                    },
                    kept_reason: match &d.origin {
                        Origin::KeptPrevious { reason } => Some(reason.clone()),
                        Origin::Pulled => None,
                    },
                }
            })
            .collect(),
        tables: std::collections::BTreeMap::new(),
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
            kept_previous: matches!(d.origin, Origin::KeptPrevious { .. }),
        })
        .collect()
}
