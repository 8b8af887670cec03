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
    /// Better statuses rank higher: accepted > partial > rejected > missing (contract §9).
    pub fn rank(self) -> u8 {
        match self {
            SubmissionStatus::Accepted => 3,
            SubmissionStatus::Partial => 2,
            SubmissionStatus::Rejected => 1,
            SubmissionStatus::Missing => 0,
        }
    }

    pub fn parse(s: &str) -> Option<SubmissionStatus> {
        Some(match s {
            "accepted" => SubmissionStatus::Accepted,
            "partial" => SubmissionStatus::Partial,
            "rejected" => SubmissionStatus::Rejected,
            "missing" => SubmissionStatus::Missing,
            _ => return None,
        })
    }

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

/// Arrival times are kept to the millisecond, as the ledger and the manifests write them, so that a
/// time read back is the time that was written (and a re-run's tables are the same bytes).
pub fn arrival_precision(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(3)
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
    /// When the submission arrived (contract §13): an upload's receipt time, a `dir` file's
    /// modification time, an `http` file's Last-Modified (else when fugong first pulled those bytes).
    #[serde(default)]
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How it arrived: `upload`, `dir` or `http`.
    #[serde(default)]
    pub kind: String,
}

/// Where the submission a district's rows come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Origin {
    /// Pulled by this run (or nothing to pull).
    #[default]
    Pulled,
    /// The pull failed or the file vanished, so an automatic run kept the previous version's
    /// submission, re-read from its blob (manifest: `kept-previous`).
    KeptPrevious { reason: String },
}

/// What the day keeps of one accepted row once it is written (a credit code is held inline: no
/// allocation per row).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedRow {
    pub key: compact_str::CompactString,
    /// 1-based sheet row.
    pub row: u32,
    /// 职工总数, when the schema has it and the row filled it.
    pub employees: Option<i64>,
    /// 是否开工, likewise.
    pub resumed: Option<bool>,
}

/// One district's result for the date. Its accepted rows stay in `outcome.rows` only until they are
/// written (`seal`); what the rest of the run needs of them is kept: their count, their sums and their
/// keys.
#[derive(Debug, Clone)]
pub struct DistrictResult {
    pub district: District,
    /// None when the district has not submitted.
    pub source: Option<SourceInfo>,
    pub outcome: SubmissionOutcome,
    /// Accepted rows (set by `seal`).
    pub accepted: u64,
    /// Sums over the accepted rows, for the comparison (set by `seal`).
    pub tally: crate::tally::Tally,
    /// Every accepted row's key, sheet row and head counts, for duplicates across districts, the
    /// ledger's reporting enterprises and the anomaly warnings (set by `seal`).
    pub keys: Vec<KeyedRow>,
    /// The accepted rows whose 存在问题及诉求 names problems (set by `seal`), for the problem ledger.
    pub problem_reports: Vec<crate::problems::ledger::Report>,
    pub origin: Origin,
    /// Why the pull failed, when it did (the server or the file could not be reached): such a result
    /// says nothing about what the district submitted.
    pub pull_failure: Option<String>,
}

impl DistrictResult {
    pub fn new(
        district: District,
        source: Option<SourceInfo>,
        outcome: SubmissionOutcome,
        pull_failure: Option<String>,
    ) -> DistrictResult {
        DistrictResult {
            district,
            source,
            accepted: outcome.rows.len() as u64,
            outcome,
            tally: crate::tally::Tally::default(),
            keys: Vec::new(),
            problem_reports: Vec::new(),
            origin: Origin::Pulled,
            pull_failure,
        }
    }

    /// Read the accepted rows' 存在问题及诉求 into problem reports (before `seal`; run where the district
    /// was read, so that classification is spread over the reading threads).
    pub fn classify_problems(&mut self, schema: &crate::config::Schema) {
        let rows = &mut self.outcome.rows;
        let key = schema.key_field;
        let rules = &schema.problems;
        let name = schema.field_index("enterprise_name");
        fn text_of(r: &crate::validate::AcceptedRow, i: Option<usize>) -> &str {
            match i.and_then(|i| r.values.get(i)) {
                Some(Some(crate::validate::Value::Text(t))) => t.as_str(),
                _ => "",
            }
        }
        let district = std::sync::Arc::new(self.district.clone());
        self.problem_reports = rows
            .iter_mut()
            .filter_map(|r| {
                let read_before = r.problems.take();
                let text = text_of(r, Some(rules.field));
                if text.is_empty() {
                    return None;
                }
                // Read where the row was validated, or here (rows from a reader worker).
                let reading =
                    read_before.unwrap_or_else(|| crate::problems::classify::classify(rules, text));
                crate::problems::ledger::report_from(
                    reading,
                    &district,
                    text_of(r, Some(key)),
                    text_of(r, name),
                    text,
                )
            })
            .collect();
    }

    /// Take the accepted rows (to be written); `seal` keeps what the run needs of them.
    pub fn take_rows(&mut self) -> Vec<crate::validate::AcceptedRow> {
        let rows = std::mem::take(&mut self.outcome.rows);
        self.accepted = rows.len() as u64;
        rows
    }

    /// Keep what the run needs of the accepted rows `take_rows` took: their tally and keys.
    pub fn seal(&mut self, schema: &crate::config::Schema, rows: &[crate::validate::AcceptedRow]) {
        self.tally = crate::tally::tally(schema, rows);
        let key = schema.key_field;
        let employees = schema.field_index("employees_total");
        let resumed = schema.field_index("resumed");
        self.keys = rows
            .iter()
            .filter_map(|r| match r.values.get(key) {
                Some(Some(crate::validate::Value::Text(k))) => Some(KeyedRow {
                    key: k.as_str().into(),
                    row: r.source_row,
                    employees: match employees.and_then(|i| r.values.get(i)) {
                        Some(Some(crate::validate::Value::Int(n))) => Some(*n),
                        _ => None,
                    },
                    resumed: match resumed.and_then(|i| r.values.get(i)) {
                        Some(Some(crate::validate::Value::Bool(b))) => Some(*b),
                        _ => None,
                    },
                }),
                _ => None,
            })
            .collect();
    }

    /// Accepted rows that count (none for a rejected or missing district).
    pub fn rows_accepted(&self) -> u64 {
        if self.status().is_reported() {
            self.accepted
        } else {
            0
        }
    }

    pub fn status(&self) -> SubmissionStatus {
        let accepted = self.accepted.max(self.outcome.rows.len() as u64);
        if self.source.is_none() && self.outcome.findings.is_empty() {
            SubmissionStatus::Missing
        } else if self.outcome.has_file_error() || accepted == 0 {
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
