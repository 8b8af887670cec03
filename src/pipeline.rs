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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use tracing::{debug, info, info_span, warn};

use crate::compare::{self, CityAggregate, Comparison};
use crate::config::job::Output;
use crate::config::{District, Job};
use crate::day::{DayResult, DistrictResult, Origin, SourceInfo, SubmissionStatus};
use crate::intake::{Intake, IntakeError, Isolation};
use crate::ledger::{Ledger, LedgerError, RunCounts, RunStatus, SubmissionRecord, Trigger};
use crate::problems;
use crate::publish::manifest::{
    ManifestDistrict, SUBMISSION_KEPT_PREVIOUS, SUBMISSION_NONE, SUBMISSION_PULLED,
};
use crate::publish::{self, Manifest, OutputLock, Publication, PublishError, Warehouse};
use crate::pull::blobs::BlobStore;
use crate::pull::{JobSource, Pulled, Source as _, SourceError};
use crate::records;
use crate::validate::{Code, Finding, Severity, SubmissionOutcome};

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
    /// Publish a date on which no district submitted anything (all `missing`); without it such a run
    /// fails and publishes nothing.
    pub allow_empty: bool,
    /// Send the `published` and `failed` notices of the job's `[[notify]]` (`--no-notify`: not).
    pub notify: bool,
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
            allow_empty: false,
            notify: true,
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
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    SchemaChange(#[from] crate::records::evolution::SchemaChangeError),
    #[error(transparent)]
    Problems(#[from] crate::problems::ProblemsError),
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
    #[error(transparent)]
    Intake(#[from] IntakeError),
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
    #[error(
        "no district submitted for {date} (looked for {looked_for}); nothing was published. Check the source, or publish a day of only missing districts with --allow-empty"
    )]
    NothingSubmitted { date: NaiveDate, looked_for: String },
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub report_date: NaiveDate,
    /// Where it was published (a folder or a URL).
    pub output: String,
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
    /// The date's new tables were byte for byte the live version's (and so were its submissions):
    /// nothing was published and `version` is the live version, kept.
    pub unchanged: bool,
}

impl RunReport {
    pub fn counts(&self) -> RunCounts {
        let mut c = RunCounts {
            rows_published: if self.unchanged {
                0
            } else {
                self.rows_published
            },
            version: Some(self.version),
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

/// How a run ended, as the ledger and the metrics record it.
pub fn run_status(result: &Result<RunReport, RunError>) -> RunStatus {
    match result {
        Ok(report) if report.unchanged => RunStatus::Unchanged,
        Ok(_) => RunStatus::Published,
        Err(RunError::Abandoned { .. }) => RunStatus::Abandoned,
        Err(RunError::Regression { .. }) => RunStatus::Refused,
        Err(_) => RunStatus::Failed,
    }
}

/// A job's open warehouse: the lock (one writer per local warehouse), the ledger, the source and the
/// blobs.
pub struct Session<'j> {
    pub job: &'j Job,
    pub output: Output,
    pub warehouse: Arc<dyn Warehouse>,
    pub ledger: Arc<Ledger>,
    source: JobSource,
    blobs: BlobStore,
    /// Comparing and publishing happen one date at a time, so each date compares with the snapshot
    /// published before it.
    publishing: Mutex<()>,
    /// The notices of this session's runs, delivered in the background.
    pub notifier: crate::notify::Notifier,
    _lock: Option<OutputLock>,
}

impl<'j> Session<'j> {
    /// Lock the warehouse (waiting up to `options.lock_wait`), repair an interrupted publish, open the
    /// ledger and the source.
    pub fn open(job: &'j Job, options: &RunOptions) -> Result<Session<'j>, RunError> {
        let output = job.output_or(
            options
                .output
                .as_deref()
                .map(|p| p.to_string_lossy())
                .as_deref(),
        )?;
        let warehouse = crate::publish::open(&output)?;
        let lock = warehouse.lock(options.lock_wait)?;
        let rolled = warehouse.recover()?;
        if !rolled.is_empty() {
            warn!(dates = ?rolled, "completed publishes interrupted earlier");
        }
        let published = warehouse.published_schema()?;
        let added = crate::records::evolution::check(published.as_ref(), &job.schema)?;
        if !added.is_empty() {
            info!(columns = ?added, schema_version = job.schema.version, "the schema adds columns to enterprise_daily; dates published before read them as null");
        }
        let ledger = Arc::new(Ledger::open(&job.ledger_path(&output))?);
        ledger.close_interrupted_runs(&job.name)?;
        let blobs = warehouse.blobs();
        let source = crate::pull::open(job, Arc::clone(&ledger), blobs.clone())?;
        Ok(Session {
            job,
            output,
            warehouse,
            ledger,
            source,
            blobs,
            publishing: Mutex::new(()),
            notifier: if options.notify {
                crate::notify::Notifier::default()
            } else {
                crate::notify::Notifier::off()
            },
            _lock: lock,
        })
    }

    /// The job's sources (uploads, then its `dir` or `http` source).
    pub fn source(&self) -> &JobSource {
        &self.source
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
        let status = run_status(&result);
        let (counts, error) = match &result {
            Ok(report) => (report.counts(), None),
            Err(RunError::Abandoned { .. }) => (RunCounts::default(), None),
            Err(e) => (RunCounts::default(), Some(e.to_string())),
        };
        if let Err(e) = self
            .ledger
            .finish_run(run_id, status, counts, error.as_deref())
        {
            warn!(error = %e, status = status.as_str(), "cannot record the end of the run in the ledger");
        }
        if let Some(notice) = self.notice_of(date, &result) {
            self.notifier
                .send(job, Some(Arc::clone(&self.ledger)), notice);
        }
        result
    }

    /// The notice a run's end calls for: `published` for a new version, `failed` when the date could
    /// not be published (not for an unchanged or abandoned run).
    fn notice_of(
        &self,
        date: NaiveDate,
        result: &Result<RunReport, RunError>,
    ) -> Option<crate::notify::Notice> {
        use crate::notify::{DistrictRef, Event, Notice, message::Counts};
        let job = self.job;
        match result {
            Ok(r) if r.unchanged => None,
            Ok(r) => {
                let mut n = Notice::new(Event::Published, &job.name, date);
                let c = r.counts();
                n.version = Some(r.version);
                n.headline = Some(compare::table::headline(&r.comparison.cities));
                n.counts = Some(Counts {
                    accepted: c.accepted,
                    partial: c.partial,
                    rejected: c.rejected,
                    missing: c.missing,
                });
                for d in &r.comparison.districts {
                    if d.status == SubmissionStatus::Missing {
                        n.districts.push(DistrictRef::of(&d.district));
                    } else if d.on_time == Some(false) {
                        n.late.push(DistrictRef::of(&d.district));
                    }
                }
                n.link = job.public_link(&format!("/jobs/{}/dates/{date}/report", job.name));
                Some(n)
            }
            Err(RunError::Abandoned { .. }) => None,
            Err(e) => {
                let mut n = Notice::new(Event::Failed, &job.name, date);
                n.reason = Some(e.to_string());
                Some(n)
            }
        }
    }

    fn cancelled(options: &RunOptions) -> bool {
        options
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    }

    /// Pull one district's submission and take it in; in an automatic run, keep the published
    /// version's submission of a district whose pull failed or whose file vanished.
    fn read_district(
        &self,
        district: &District,
        date: NaiveDate,
        intake: &Intake<'_>,
        keep_from: Option<&Manifest>,
    ) -> Result<(DistrictResult, u32), RunError> {
        let job = self.job;
        // Only HTTP pulls use the previous submission (conditional GET).
        let previous = if self.source.conditional() {
            self.ledger
                .submission(&job.name, date, &district.code)
                .ok()
                .flatten()
        } else {
            None
        };
        let (pulled, tries) = self.source.pull(
            &district.code,
            date,
            job.limits.read.max_file_bytes,
            previous.as_ref(),
        )?;
        let mut result = intake.take(district, date, pulled)?;
        if let Some(live) = keep_from {
            self.keep_previous(date, &mut result, live, intake)?;
        }
        Ok((result, tries))
    }

    /// A district whose pull failed or whose file vanished keeps the submission of the published
    /// version, re-read from its blob.
    fn keep_previous(
        &self,
        date: NaiveDate,
        d: &mut DistrictResult,
        live: &Manifest,
        intake: &Intake<'_>,
    ) -> Result<(), RunError> {
        let vanished = d.source.is_none() && d.outcome.findings.is_empty();
        let reason = match (&d.pull_failure, vanished) {
            (Some(failure), _) => format!("the pull failed: {failure}"),
            (None, true) => "its file is no longer at the source".to_string(),
            (None, false) => return Ok(()),
        };
        let Some(before) = live
            .districts
            .iter()
            .find(|m| m.district_code == d.district.code)
        else {
            return Ok(());
        };
        let (Some(sha256), Some(location)) = (&before.sha256, &before.source) else {
            return Ok(());
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
        let info = SourceInfo {
            location: location.clone(),
            file_name: before
                .source_file
                .clone()
                .unwrap_or_else(|| crate::pull::file_name_of(location)),
            sha256: sha256.clone(),
            bytes: bytes.len() as u64,
            etag: None,
            last_modified: None,
            submitted_at: before
                .submitted_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
            kind: before.source_kind.clone().unwrap_or_default(),
        };
        let pull_failure = d.pull_failure.take();
        *d = intake.take(&d.district, date, Pulled::Found { info, bytes })?;
        d.pull_failure = pull_failure;
        d.origin = Origin::KeptPrevious { reason };
        Ok(())
    }

    fn process(&self, date: NaiveDate, options: &RunOptions) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let job = self.job;
        self.source.check()?;
        // Automatic runs keep what a failed pull cannot replace: the published version's submission.
        let live = self.warehouse.manifest(date)?;
        let keep_from = live.as_ref().filter(|_| options.trigger.is_automatic());
        let intake = Intake::for_run(job, &options.isolation, self.blobs.clone());
        let tx = self.warehouse.begin(job.keep_versions)?;
        let mut districts: Vec<DistrictResult> = Vec::with_capacity(job.districts.len());
        let mut retries = 0u32;
        // Districts are read a few at a time, in code order; each one's accepted rows are handed to the
        // `enterprise_daily` writer as soon as the districts before it are done, then dropped: memory is
        // set by the workbooks in flight, not by the size of the day. The writer has a thread of its
        // own (holding the transaction until it is done), so the parts are built and encoded while the
        // next districts are read and, after the last one, while the date is compared and its ledger
        // advanced.
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut writer_stopped = false;
        std::thread::scope(|scope| {
            let (hand_over, handed) = std::sync::mpsc::sync_channel::<Handed>(1);
            let parent = tracing::Span::current();
            let writing = scope
                .spawn(move || parent.in_scope(|| write_enterprise_daily(job, date, tx, handed)));
            let read = for_each_in_order(
                &job.districts,
                threads,
                threads * 2,
                |district| {
                    let _span = info_span!(
                        "district",
                        district_code = %district.code,
                        district_name = %district.name
                    )
                    .entered();
                    if Self::cancelled(options) {
                        let empty = SubmissionOutcome::default();
                        return Ok((DistrictResult::new(district.clone(), None, empty, None), 0));
                    }
                    let (result, tries) = self.read_district(district, date, &intake, keep_from)?;
                    info!(
                        status = result.status().as_str(),
                        rows = result.outcome.rows.len(),
                        rows_rejected = result.outcome.rows_rejected,
                        "district read"
                    );
                    Ok((result, tries))
                },
                |index, read: Result<(DistrictResult, u32), RunError>| {
                    let (mut d, tries) = read?;
                    retries += tries;
                    let status = d.status();
                    // The writer sorts and writes the rows while their tally and keys are taken here.
                    let rows = Arc::new(d.take_rows());
                    if status.is_reported() {
                        let file_name = d.source.as_ref().map(|s| s.file_name.clone());
                        let handed = Handed {
                            district: index,
                            file_name: file_name.unwrap_or_default(),
                            rows: Arc::clone(&rows),
                        };
                        if hand_over.send(handed).is_err() {
                            // The writer stopped on an error (a full disk): that error is the run's.
                            writer_stopped = true;
                            return Err(RunError::Records(arrow::error::ArrowError::ComputeError(
                                "the enterprise_daily writer stopped before the last district"
                                    .into(),
                            )));
                        }
                    }
                    d.seal(&job.schema, &rows);
                    districts.push(d);
                    Ok::<(), RunError>(())
                },
            );
            drop(hand_over);
            if let Err(e) = read {
                let (_, written) = joined(writing);
                return Err(written.err().filter(|_| writer_stopped).unwrap_or(e));
            }
            if Self::cancelled(options) {
                warn!("abandoning the run before publishing");
                return Err(RunError::Abandoned { date });
            }
            if self.source.pulled_kind() == "http"
                && !districts.is_empty()
                && districts.iter().all(|d| d.pull_failure.is_some())
            {
                return Err(SourceError::HttpUnreachable {
                    districts: districts.len(),
                    example: districts[0].pull_failure.clone().unwrap_or_default(),
                }
                .into());
            }
            if !options.allow_empty
                && !districts.is_empty()
                && districts
                    .iter()
                    .all(|d| d.status() == SubmissionStatus::Missing)
            {
                let looked_for = crate::pull::describe(job, &districts[0].district.code, date);
                warn!(%looked_for, "no district submitted; nothing is published");
                return Err(RunError::NothingSubmitted { date, looked_for });
            }
            // Every blob the manifest will name is made durable (one flush of the file system) while
            // the date is compared and its ledger advanced, and joined before anything is staged.
            let (peak_rss_reader_bytes, blobs) = intake.finish_run();
            let sealing = scope.spawn(move || blobs.seal());
            let stage = |name: &str| {
                debug!(
                    stage = name,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    rss_mib = crate::intake::boundary::rss_bytes().unwrap_or(0) / (1 << 20),
                    "stage done"
                )
            };
            stage("read and validate");
            mark_duplicates_across_districts(job, &mut districts);
            let mut day = DayResult {
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

            let _publishing = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
            // Under the publishing lock, like the change and the ledger: the previous published date is
            // the one this date's publish follows.
            let before = compare::anomaly::before(job, &*self.warehouse, date)?;
            for d in &mut day.districts {
                let found = compare::anomaly::findings(job, &job.anomaly, &before, date, d);
                if !found.is_empty() {
                    warn!(district = %d.district.code, anomalies = found.len(), "figures far from the previous published date");
                }
                d.outcome.findings.extend(found);
            }
            drop(before);
            let previous = previous_rates(&*self.warehouse, date);
            let comparison = compare::aggregate(&day, &previous, job.deadline_of(date));
            stage("compare");
            let district_daily =
                compare::table::district_daily_batch(&comparison, day.report_date)?;
            let city_daily = compare::table::city_daily_batch(&comparison.cities, day.report_date)?;
            let rejects = records::rejects_batch(&day)?;
            // Refreshing later dates (rare: a republished or out-of-order date) needs the day's keys after
            // the ledger; otherwise they go before the previous ledger is read.
            let refresh_later = self.warehouse.published_dates()?.iter().any(|d| *d > date);
            let reports = day_reports(&mut day, refresh_later);
            // The ledger is advanced as a merge with the previous date's, read part by part; refreshing
            // later dates needs it whole, in memory, and so does a previous ledger not in the ledger's order.
            let merged = match refresh_later {
                false => problems::advance_published(
                    &*self.warehouse,
                    date,
                    &reports,
                    job,
                    problems::tables::LEDGER_PART_ROWS,
                )?,
                true => None,
            };
            let (problem_ledger, counts, ledger) = match merged {
                Some((table, counts)) => (table, counts, None),
                None => {
                    // The previous date's closed problems are carried over part by part; only its open
                    // ones are advanced in memory.
                    let mut ledger_parts = problems::tables::LedgerParts::new(
                        date,
                        problems::tables::LEDGER_PART_ROWS,
                    );
                    let open_before = problems::split_before(&*self.warehouse, date, &mut |b| {
                        ledger_parts.carry(b)
                    })?;
                    stage("the previous ledger read");
                    let ledger = problems::ledger::advance_owned(
                        open_before,
                        date,
                        &reports,
                        job.problem_close_days,
                    );
                    let counts = problems::ledger::daily_counts(
                        &ledger,
                        date,
                        &job.districts,
                        &job.schema.problems,
                    );
                    (ledger_parts.finish(&ledger)?, counts, Some(ledger))
                }
            };
            drop(reports);
            let problem_daily = publish::encode_table(
                records::TABLES[5],
                &[&problems::tables::daily_batch(&counts, date)?],
            )?;
            stage("problem ledger");
            if Self::cancelled(options) {
                warn!("abandoning the run before publishing");
                return Err(RunError::Abandoned { date });
            }
            let (mut tx, written) = joined(writing);
            let (rows_published, parts) = written?;
            sealing
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            let enterprise = publish::StagedTable {
                table: records::TABLES[0].to_string(),
                files: parts,
                rows: rows_published,
            };
            let mut tables = vec![enterprise];
            for (table, batch) in [
                (records::TABLES[1], &district_daily),
                (records::TABLES[2], &city_daily),
                (records::TABLES[3], &rejects),
            ] {
                tables.push(publish::encode_table(table, &[batch])?);
            }
            tables.push(problem_ledger);
            tables.push(problem_daily);
            let manifest = manifest(job, &day, options.trigger);
            if let Some(live) = live
                .as_ref()
                .filter(|live| same_as_live(live, &tables, &manifest))
            {
                // A re-run on the same bytes: a new version would only evict a real earlier one.
                tx.discard();
                let version = live.effective_version();
                info!(
                    version,
                    "unchanged: the date's tables are the live version's, nothing published"
                );
                return Ok(RunReport {
                    report_date: date,
                    output: self.warehouse.location(),
                    districts: summaries(&day),
                    comparison,
                    rows_published,
                    elapsed: started.elapsed(),
                    peak_rss_bytes: crate::intake::boundary::peak_rss_bytes(None).unwrap_or(0),
                    peak_rss_reader_bytes,
                    pull_retries: retries,
                    version,
                    regressions,
                    trigger: options.trigger,
                    unchanged: true,
                });
            }
            let version = tx.stage(date, tables, manifest)?;
            // Refreshing later dates (rare: a republished or out-of-order date) needs the whole ledger.
            let (whole_ledger, anomaly_before) = if refresh_later {
                let mut whole = problems::ledger_before(&*self.warehouse, date)?;
                whole.retain(|p| !p.is_open());
                whole.extend(ledger.iter().flatten().cloned());
                problems::ledger::sort(&mut whole);
                (Some(whole), Some(compare::anomaly::Before::of_day(&day)))
            } else {
                (None, None)
            };
            stage_refresh(
                tx.as_mut(),
                &*self.warehouse,
                Some(job),
                date,
                &comparison.cities,
                whole_ledger.as_deref().or(ledger.as_deref()),
                anomaly_before.as_ref(),
            )?;
            tx.commit()?;
            stage("publish");

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
                    submitted_at: d.source.as_ref().and_then(|s| s.submitted_at).map(rfc3339),
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
                output: self.warehouse.location(),
                districts: summaries(&day),
                comparison,
                rows_published,
                elapsed: started.elapsed(),
                peak_rss_bytes: crate::intake::boundary::peak_rss_bytes(None).unwrap_or(0),
                peak_rss_reader_bytes,
                pull_retries: retries,
                version,
                regressions,
                trigger: options.trigger,
                unchanged: false,
            })
        })
    }
}

/// One district's accepted rows handed to the `enterprise_daily` writer.
struct Handed {
    /// The district's index in the job's districts.
    district: usize,
    file_name: String,
    rows: Arc<Vec<crate::validate::AcceptedRow>>,
}

/// What the `enterprise_daily` writer hands back: the transaction, and the rows and parts it wrote.
type Written<'w> = (
    Box<dyn Publication + 'w>,
    Result<(u64, Vec<publish::StagedFile>), RunError>,
);

/// Write `enterprise_daily`'s parts from the districts handed over (in code order) until the sender is
/// dropped, then its last part; stops at the first error. The transaction is handed back either way.
fn write_enterprise_daily<'w>(
    job: &Job,
    date: NaiveDate,
    mut tx: Box<dyn Publication + 'w>,
    handed: std::sync::mpsc::Receiver<Handed>,
) -> Written<'w> {
    let mut writer = records::EnterpriseWriter::new(&job.schema, date);
    let mut parts = Vec::new();
    // A district's full parts are gathered, then encoded together.
    fn gather(
        full: &mut Vec<(usize, RecordBatch)>,
    ) -> impl FnMut(usize, RecordBatch) -> Result<(), RunError> + '_ {
        move |part, batch| {
            full.push((part, batch));
            Ok(())
        }
    }
    let write = || {
        for h in handed {
            let mut full = Vec::new();
            let district = &job.districts[h.district];
            writer.push_district(district, &h.file_name, &h.rows, &mut gather(&mut full))?;
            drop(h);
            stage_parts(tx.as_mut(), date, &mut parts, full)?;
        }
        let mut full = Vec::new();
        let rows = writer.finish(&mut gather(&mut full))?;
        stage_parts(tx.as_mut(), date, &mut parts, full)?;
        Ok(rows)
    };
    let written = write();
    (tx, written.map(|rows| (rows, parts)))
}

/// The writer's result; a panic on its thread is raised again here.
fn joined<'w>(writing: std::thread::ScopedJoinHandle<'_, Written<'w>>) -> Written<'w> {
    writing
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Whether a publish would change nothing: every table's files are the live version's (file names
/// carry a hash of their bytes; a Delta table's add a per-publish suffix after it) and every district's
/// line in the manifest (source, sha256, status, counts) is the same.
fn same_as_live(live: &Manifest, tables: &[publish::StagedTable], new: &Manifest) -> bool {
    /// `part-00000-<16 hex digits>`: the part of a file name that names its content.
    fn content(name: &str) -> &str {
        name.get(..27).unwrap_or(name)
    }
    live.districts == new.districts
        && live.tables.len() == tables.len()
        && tables.iter().all(|t| {
            live.tables.get(&t.table).is_some_and(|l| {
                l.rows == t.rows
                    && l.files.len() == t.files.len()
                    && l.files
                        .iter()
                        .zip(&t.files)
                        .all(|(a, b)| content(a) == content(&b.name))
            })
        })
}

/// Encode `enterprise_daily` parts (on rayon's threads: a large workbook fills several) and write them
/// to the transaction's staging at once, in order.
fn stage_parts(
    tx: &mut dyn Publication,
    date: NaiveDate,
    parts: &mut Vec<publish::StagedFile>,
    batches: Vec<(usize, RecordBatch)>,
) -> Result<(), RunError> {
    use rayon::prelude::*;
    let encoded: Vec<_> = batches
        .into_par_iter()
        .map(|(part, batch)| (part, publish::parquet_io::encode(&batch)))
        .collect();
    for (part, bytes) in encoded {
        let bytes = bytes.map_err(|source| PublishError::Parquet {
            table: records::TABLES[0].into(),
            source,
        })?;
        let name = publish::parquet_io::file_name(part, &bytes);
        tx.write_part(date, records::TABLES[0], &name, &bytes)?;
        parts.push(publish::StagedFile {
            name,
            content: publish::FileContent::InStaging,
        });
    }
    Ok(())
}

/// Run `work` on every item with `threads` threads, at most `window` items ahead of the oldest one not
/// yet handed over, and hand the results to `emit` in the items' order. An error from `emit` stops the
/// work and is returned.
pub fn for_each_in_order<T, R, E>(
    items: &[T],
    threads: usize,
    window: usize,
    work: impl Fn(&T) -> R + Sync,
    mut emit: impl FnMut(usize, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    struct State<R> {
        next_to_start: usize,
        next_to_emit: usize,
        done: std::collections::BTreeMap<usize, R>,
        stop: bool,
    }
    let state = Mutex::new(State {
        next_to_start: 0,
        next_to_emit: 0,
        done: std::collections::BTreeMap::new(),
        stop: false,
    });
    let changed = std::sync::Condvar::new();
    let window = window.max(1);
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut s = lock();
                        while !s.stop
                            && s.next_to_start < items.len()
                            && s.next_to_start >= s.next_to_emit + window
                        {
                            s = changed.wait(s).unwrap_or_else(|p| p.into_inner());
                        }
                        if s.stop || s.next_to_start >= items.len() {
                            return;
                        }
                        s.next_to_start += 1;
                        s.next_to_start - 1
                    };
                    let result = work(&items[index]);
                    lock().done.insert(index, result);
                    changed.notify_all();
                }
            });
        }
        let outcome = (|| {
            for index in 0..items.len() {
                let result = {
                    let mut s = lock();
                    loop {
                        if let Some(r) = s.done.remove(&index) {
                            s.next_to_emit = index + 1;
                            break r;
                        }
                        s = changed.wait(s).unwrap_or_else(|p| p.into_inner());
                    }
                };
                changed.notify_all();
                emit(index, result)?;
            }
            Ok(())
        })();
        lock().stop = true;
        changed.notify_all();
        outcome
    })
}

/// Districts the new day makes worse than the published version: a worse status (accepted > partial >
/// rejected > missing) or fewer accepted rows.
pub fn find_regressions(live: &Manifest, day: &DayResult) -> Vec<Regression> {
    let mut out = Vec::new();
    // Looked up by code (a search of the list for each district was quadratic on a republished
    // national day); the first entry of a code wins, as the search found it.
    let mut published: std::collections::HashMap<&str, &ManifestDistrict> =
        std::collections::HashMap::with_capacity(live.districts.len());
    for m in &live.districts {
        published.entry(m.district_code.as_str()).or_insert(m);
    }
    for d in &day.districts {
        let Some(before) = published.get(d.district.code.as_str()) else {
            continue;
        };
        let Some(before_status) = SubmissionStatus::parse(&before.status) else {
            continue;
        };
        let after = d.status();
        let rows_after = d.rows_accepted();
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
    let session = Session::open(job, options)?;
    let result = session.run_date(date, options);
    // A command that is about to exit lets its notices be delivered (each bounded by its tries).
    session.notifier.wait();
    result
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
    // Every key as (hash, district, index in its district's keys), sorted: a key's places are one run.
    // 32 bytes a row, where a map of key → places took about 160.
    let hasher = crate::keys::KeyHasher::default();
    let mut all: Vec<(u128, u32, u32)> =
        Vec::with_capacity(reported.iter().map(|&di| districts[di].keys.len()).sum());
    for &di in &reported {
        for (ki, k) in districts[di].keys.iter().enumerate() {
            all.push((hasher.of(&k.key), di as u32, ki as u32));
        }
    }
    all.sort_unstable();
    let label = &job.schema.fields[key].label;
    let mut extra: Vec<(usize, Finding)> = Vec::new();
    for run in all.chunk_by(|a, b| a.0 == b.0) {
        if run.iter().all(|(_, d, _)| *d == run[0].1) {
            continue;
        }
        // The places of one key (a run of equal hashes is one key unless two keys collide in 128 bits;
        // the texts are compared all the same).
        let place = |&(_, d, i): &(u128, u32, u32)| {
            let k = &districts[d as usize].keys[i as usize];
            (d as usize, k.row, &*k.key)
        };
        let mut places: Vec<(usize, u32, &str)> = run.iter().map(place).collect();
        places.sort_by(|a, b| (a.2, a.0, a.1).cmp(&(b.2, b.0, b.1)));
        for same in places.chunk_by(|a, b| a.2 == b.2) {
            if same.iter().all(|(d, _, _)| *d == same[0].0) {
                continue;
            }
            let k = same[0].2;
            let places: Vec<(usize, u32)> = same.iter().map(|(d, r, _)| (*d, *r)).collect();
            for &(di, row) in &places {
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
    }
    drop(all);
    extra.sort_by_key(|(district, finding)| (*district, finding.row));
    for (di, finding) in extra {
        districts[di].outcome.findings.push(finding);
    }
}

/// What a date's reporting enterprises said: every enterprise of an `accepted` or `partial` district,
/// and the problems they named. The districts' keys are let go unless `keep_keys`.
fn day_reports(day: &mut DayResult, keep_keys: bool) -> problems::ledger::Reports {
    let mut reports = problems::ledger::Reports::default();
    reports.problems.reserve(
        day.districts
            .iter()
            .filter(|d| d.status().is_reported())
            .map(|d| d.problem_reports.len())
            .sum(),
    );
    reports.reserve_reported(
        day.districts
            .iter()
            .filter(|d| d.status().is_reported())
            .map(|d| d.keys.len())
            .sum(),
    );
    for d in day
        .districts
        .iter_mut()
        .filter(|d| d.status().is_reported())
    {
        for k in &d.keys {
            reports.add_reported(&k.key);
        }
        if !keep_keys {
            d.keys = Vec::new();
        }
        reports
            .problems
            .extend(std::mem::take(&mut d.problem_reports));
    }
    reports.seal();
    reports
}

/// `problem_ledger` and `problem_daily` of a date.
fn ledger_tables(
    job: &Job,
    ledger: &[problems::ledger::Problem],
    date: NaiveDate,
) -> Result<(publish::StagedTable, publish::StagedTable), RunError> {
    let counts = problems::ledger::daily_counts(ledger, date, &job.districts, &job.schema.problems);
    let ledger_table =
        problems::tables::ledger_table(ledger, date, problems::tables::LEDGER_PART_ROWS)?;
    let daily = problems::tables::daily_batch(&counts, date)?;
    Ok((
        ledger_table,
        publish::encode_table(records::TABLES[5], &[&daily])?,
    ))
}

/// After `date` is published anew, refresh what later published dates derive from it, in the same
/// transaction: the next date's day-over-day change (`city_daily`), and, given the job and `date`'s new
/// ledger, the problem ledgers of the later dates, one after another until one comes out as it was
/// published (the dates after it are then unchanged too). Each refreshed date is a new version with
/// trigger `refresh`.
pub fn stage_refresh(
    tx: &mut dyn Publication,
    output: &dyn Warehouse,
    job: Option<&Job>,
    date: NaiveDate,
    cities_now: &[CityAggregate],
    ledger_now: Option<&[problems::ledger::Problem]>,
    anomaly_before: Option<&compare::anomaly::Before>,
) -> Result<(), RunError> {
    let later: Vec<NaiveDate> = output
        .published_dates()?
        .into_iter()
        .filter(|d| *d > date)
        .collect();
    if later.is_empty() {
        return Ok(());
    }
    let mut previous_ledger: Option<Vec<problems::ledger::Problem>> = ledger_now.map(<[_]>::to_vec);
    for (i, next) in later.into_iter().enumerate() {
        let mut tables = Vec::new();
        let mut notes = Vec::new();
        if i == 0
            && let Some(batch) = refreshed_change(output, next, cities_now)?
        {
            tables.push(publish::encode_table("city_daily", &[&batch])?);
            notes.push("resumption_rate_change");
        }
        let mut warnings_now: Option<std::collections::HashMap<String, i64>> = None;
        if i == 0
            && let (Some(job), Some(before)) = (job, anomaly_before)
        {
            // The next date's anomaly warnings compare it with this date: recompute them. A date that
            // cannot be recomputed (published in an older layout) keeps its warnings, with a log line.
            match compare::anomaly::refresh(job, output, next, before) {
                Ok(Some(r)) => {
                    tables.push(publish::encode_table("rejects", &[&r.rejects])?);
                    tables.push(publish::encode_table(
                        "district_daily",
                        &[&r.district_daily],
                    )?);
                    notes.push("anomaly warnings");
                    warnings_now = Some(r.warnings);
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(next = %next, error = %e, "cannot recompute the next date's anomaly warnings; they stay as published");
                }
            }
        }
        let mut ledger_changed = false;
        if let (Some(job), Some(before)) = (job, previous_ledger.as_deref()) {
            let reports = problems::published_reports(job, output, next)?;
            let ledger = problems::ledger::advance(before, next, &reports, job.problem_close_days);
            if problems::published_ledger(output, next)?.as_ref() != Some(&ledger) {
                let (problem_ledger, problem_daily) = ledger_tables(job, &ledger, next)?;
                tables.push(problem_ledger);
                tables.push(problem_daily);
                notes.push("problem ledger");
                ledger_changed = true;
            }
            previous_ledger = Some(ledger);
        }
        if !tables.is_empty() {
            let Some(mut manifest) = output.manifest(next)? else {
                break;
            };
            info!(next = %next, refreshed = ?notes, "refreshing a later published date");
            if let Some(warnings) = &warnings_now {
                for d in &mut manifest.districts {
                    if let Some(w) = warnings.get(&d.district_code) {
                        d.warnings = u64::try_from(*w).unwrap_or(0);
                    }
                }
            }
            manifest.trigger = Some("refresh".into());
            manifest.restored_version = None;
            manifest.note = Some(format!(
                "{} recomputed after {date} was published anew",
                notes.join(" and ")
            ));
            tx.stage(next, tables, manifest)?;
        }
        if !ledger_changed {
            break;
        }
    }
    Ok(())
}

/// The next published date's cities with their change recomputed against `cities_now`, if it changes.
fn refreshed_change(
    output: &dyn Warehouse,
    next: NaiveDate,
    cities_now: &[CityAggregate],
) -> Result<Option<RecordBatch>, RunError> {
    let mut cities = match compare::table::read_cities(output, next) {
        Ok(c) => c,
        Err(e) => {
            warn!(next = %next, error = %e, "cannot read the next snapshot to refresh its change");
            return Ok(None);
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
        return Ok(None);
    }
    Ok(Some(compare::table::city_daily_batch(&cities, next)?))
}

/// city_code → the exact 开工率 of the nearest earlier published date.
fn previous_rates(output: &dyn Warehouse, date: NaiveDate) -> compare::PreviousRates {
    let Some(previous) = output.published_before(date).unwrap_or_default() else {
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
        publish_stamp: None,
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
                    rows_accepted: d.rows_accepted(),
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
                    looked_for: (d.status() == SubmissionStatus::Missing)
                        .then(|| crate::pull::describe(job, &d.district.code, day.report_date)),
                    sheet: d.outcome.sheet.clone(),
                    source_file: source.map(|s| s.file_name.clone()),
                    submitted_at: source.and_then(|s| s.submitted_at).map(rfc3339),
                    source_kind: source.map(|s| s.kind.clone()).filter(|k| !k.is_empty()),
                }
            })
            .collect(),
        tables: std::collections::BTreeMap::new(),
    }
}

/// A time as the manifest and the ledger write it: RFC 3339, UTC, milliseconds.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn summaries(day: &DayResult) -> Vec<DistrictSummary> {
    day.districts
        .iter()
        .map(|d| DistrictSummary {
            district: d.district.clone(),
            status: d.status(),
            rows_accepted: d.rows_accepted(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_with_at_most_a_window_in_flight() {
        let items: Vec<u64> = (0..200).collect();
        let in_flight = std::sync::atomic::AtomicUsize::new(0);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        let mut seen = Vec::new();
        let result: Result<(), ()> = for_each_in_order(
            &items,
            4,
            6,
            |i| {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                // Later items finish sooner: the order must still hold.
                std::thread::sleep(Duration::from_micros(200 * (200 - i) / 50));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                i * 2
            },
            |index, value| {
                seen.push((index, value));
                Ok(())
            },
        );
        assert!(result.is_ok());
        assert_eq!(
            seen,
            (0..200).map(|i| (i as usize, i * 2)).collect::<Vec<_>>()
        );
        assert!(peak.load(Ordering::SeqCst) <= 4);
    }

    #[test]
    fn an_error_stops_the_work() {
        let items: Vec<u32> = (0..1000).collect();
        let started = std::sync::atomic::AtomicUsize::new(0);
        let result = for_each_in_order(
            &items,
            2,
            4,
            |i| {
                started.fetch_add(1, Ordering::SeqCst);
                *i
            },
            |_, value| if value == 10 { Err(value) } else { Ok(()) },
        );
        assert_eq!(result, Err(10));
        assert!(started.load(Ordering::SeqCst) < 20, "stopped early");
    }
}
