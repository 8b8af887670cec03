//! One report date's results for every district of a job: what was pulled and what validation made of
//! it. This is the type that flows from the validate stage into compare, records and publish.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::District;
use crate::validate::SubmissionOutcome;

/// `submission_status` of `district_daily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionStatus {
    Accepted,
    Partial,
    Rejected,
    Missing,
}

impl SubmissionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionStatus::Accepted => "accepted",
            SubmissionStatus::Partial => "partial",
            SubmissionStatus::Rejected => "rejected",
            SubmissionStatus::Missing => "missing",
        }
    }

    /// Whether the district's rows count in the comparison (`districts_reported`).
    pub fn is_reported(self) -> bool {
        matches!(self, SubmissionStatus::Accepted | SubmissionStatus::Partial)
    }
}

/// Where a submission came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Full path or URL (manifest only).
    pub location: String,
    /// File name only (the tables' `source_file`).
    pub file_name: String,
    pub sha256: String,
    pub bytes: u64,
    /// HTTP validators, kept in the ledger for conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One district's result for the date.
#[derive(Debug, Clone)]
pub struct DistrictResult {
    pub district: District,
    /// None when the district has not submitted.
    pub source: Option<SourceInfo>,
    pub outcome: SubmissionOutcome,
}

impl DistrictResult {
    pub fn status(&self) -> SubmissionStatus {
        if self.source.is_none() && self.outcome.findings.is_empty() {
            SubmissionStatus::Missing
        } else if self.outcome.has_file_error() || self.outcome.rows.is_empty() {
            SubmissionStatus::Rejected
        } else if self.outcome.rows_rejected > 0 {
            SubmissionStatus::Partial
        } else {
            SubmissionStatus::Accepted
        }
    }
}

/// Every district's result for one date, in district-code order.
#[derive(Debug, Clone)]
pub struct DayResult {
    pub report_date: NaiveDate,
    pub districts: Vec<DistrictResult>,
}
