//! Intake: one district's bytes for one date become a `DistrictResult` — the same way whether they were
//! pulled by a run (`dir`, `http`), checked by `fugong validate`, or uploaded through the portal. One
//! function does it (`Intake::take`): the size limit, the raw bytes kept in the blob store, the reader
//! boundary (in process or in a reader worker, `boundary`), validation against the job's schema,
//! district and date, and the problem texts classified.

pub mod boundary;

use std::sync::Arc;

use chrono::NaiveDate;

use crate::config::{District, Job, Schema};
use crate::day::{DistrictResult, SourceInfo};
use crate::pull::Pulled;
use crate::pull::blobs::{BlobBatch, BlobStore};
use crate::read::ReadLimits;
use crate::validate::{Finding, KnownDistrict, SubmissionContext, SubmissionOutcome};

pub use boundary::{Isolation, Reader};

/// Why a submission could not be taken in at all (not a finding: the run, or the upload, fails).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(
        "cannot keep the raw submission in {place}: {source} (check that the disk is not full; nothing was published)"
    )]
    Blob {
        place: String,
        source: std::io::Error,
    },
}

/// What a job's intake reads submissions with: its schema, limits and districts, the reader boundary,
/// and (for runs and uploads, not for `validate`) the blob store the raw bytes are kept in.
pub struct Intake<'s> {
    schema: &'s Schema,
    limits: ReadLimits,
    districts: Arc<Vec<KnownDistrict>>,
    reader: Reader<'s>,
    blobs: Option<Blobs>,
}

/// Where an intake keeps raw bytes: durably at once (an upload's receipt promises it), or in a run's
/// batch, sealed once before the run publishes.
enum Blobs {
    Durable(BlobStore),
    Batch(BlobBatch),
}

impl Blobs {
    fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Blobs::Durable(store) => store.put(sha256, bytes),
            Blobs::Batch(batch) => batch.put(sha256, bytes),
        }
    }

    fn describe(&self) -> String {
        match self {
            Blobs::Durable(store) => store.describe(),
            Blobs::Batch(batch) => batch.describe(),
        }
    }
}

/// The districts of a job as the 填报单位 check knows them.
pub fn known_districts(job: &Job) -> Vec<KnownDistrict> {
    job.districts
        .iter()
        .map(|d| KnownDistrict {
            code: d.code.clone(),
            name: d.name.clone(),
            city_name: d.city_name.clone(),
        })
        .collect()
}

impl<'s> Intake<'s> {
    /// A job's intake: its schema, limits and districts; raw bytes kept in `blobs` when given.
    pub fn for_job(job: &'s Job, isolation: &Isolation, blobs: Option<BlobStore>) -> Intake<'s> {
        Intake {
            schema: &job.schema,
            limits: job.limits.read,
            districts: Arc::new(known_districts(job)),
            reader: Reader::new(isolation, &job.schema),
            blobs: blobs.map(Blobs::Durable),
        }
    }

    /// A run's intake: as `for_job`, with the raw bytes kept in one batch (`finish_run` hands it over) made
    /// durable before the run publishes.
    pub fn for_run(job: &'s Job, isolation: &Isolation, blobs: BlobStore) -> Intake<'s> {
        let mut intake = Intake::for_job(job, isolation, None);
        intake.blobs = Some(Blobs::Batch(BlobBatch::new(blobs)));
        intake
    }

    /// An intake without a job (`fugong validate FILE` with only a schema): no 填报单位 check against
    /// other districts, default limits, nothing kept.
    pub fn for_schema(
        schema: &'s Schema,
        limits: ReadLimits,
        districts: Vec<KnownDistrict>,
        isolation: &Isolation,
    ) -> Intake<'s> {
        Intake {
            schema,
            limits,
            districts: Arc::new(districts),
            reader: Reader::new(isolation, schema),
            blobs: None,
        }
    }

    pub fn limits(&self) -> ReadLimits {
        self.limits
    }

    /// What a submission is checked against: the district, the report date (`date_known` false when
    /// the caller does not know it and dates are not checked).
    pub fn context(
        &self,
        district_code: &str,
        date: NaiveDate,
        date_known: bool,
    ) -> SubmissionContext {
        SubmissionContext {
            district_code: district_code.to_string(),
            report_date: date,
            date_known,
            limits: self.limits,
            districts: Arc::clone(&self.districts),
        }
    }

    /// The finding for bytes over the job's `max_file_bytes`, before anything reads them.
    pub fn over_limit(&self, bytes: u64) -> Option<Finding> {
        (bytes > self.limits.max_file_bytes)
            .then(|| Finding::over_byte_limit(Some(bytes), self.limits.max_file_bytes))
    }

    /// Read and validate bytes (no blob, no classification): what `validate` prints.
    pub fn check(&self, bytes: &[u8], ctx: &SubmissionContext) -> SubmissionOutcome {
        match self.over_limit(bytes.len() as u64) {
            Some(finding) => SubmissionOutcome {
                findings: vec![finding],
                ..SubmissionOutcome::default()
            },
            None => self.reader.validate(bytes, ctx),
        }
    }

    /// One district's submission for one date, as pulled (or uploaded), becomes its result: a found
    /// file is kept in the blob store, read at the reader boundary, validated and its problem texts
    /// classified; a problem found before reading is the result's one finding; nothing is missing.
    pub fn take(
        &self,
        district: &District,
        date: NaiveDate,
        pulled: Pulled,
    ) -> Result<DistrictResult, IntakeError> {
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
                if let Some(blobs) = &self.blobs {
                    blobs
                        .put(&info.sha256, &bytes)
                        .map_err(|source| IntakeError::Blob {
                            place: blobs.describe(),
                            source,
                        })?;
                }
                let outcome = self.check(&bytes, &self.context(&district.code, date, true));
                (Some(info), outcome, None)
            }
        };
        let mut result = DistrictResult::new(district.clone(), source, outcome, pull_failure);
        result.classify_problems(self.schema);
        Ok(result)
    }

    /// Stop the reader workers; the largest peak RSS of a worker in bytes (0 in process).
    pub fn finish(self) -> u64 {
        self.reader.finish()
    }

    /// `finish`, handing over a run's batch of blobs to be sealed (on another thread, while the run
    /// compares and advances its ledger) before the run publishes.
    pub fn finish_run(self) -> (u64, BlobsToSeal) {
        let batch = match self.blobs {
            Some(Blobs::Batch(batch)) => Some(batch),
            _ => None,
        };
        (self.reader.finish(), BlobsToSeal(batch))
    }
}

/// A run's blobs, written and not yet durable.
pub struct BlobsToSeal(Option<BlobBatch>);

impl BlobsToSeal {
    /// Make them durable (nothing to do for an intake that keeps blobs at once, or none).
    pub fn seal(&self) -> Result<(), IntakeError> {
        match &self.0 {
            Some(batch) => batch
                .seal()
                .map(|_| ())
                .map_err(|source| IntakeError::Blob {
                    place: batch.describe(),
                    source,
                }),
            None => Ok(()),
        }
    }
}

/// Where bytes handed over directly (an upload, a file given to `validate`) came from.
pub fn source_info(location: String, file_name: String, bytes: &[u8]) -> SourceInfo {
    SourceInfo {
        location,
        file_name,
        sha256: crate::pull::sha256_hex(bytes),
        bytes: bytes.len() as u64,
        etag: None,
        last_modified: None,
        submitted_at: None,
        kind: String::new(),
    }
}
