//! What validation makes of one submission, and what it needs besides the bytes: typed values, accepted
//! rows, the districts of the job, the submission's context, and its outcome (rows + findings).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::finding::{Code, Finding, Severity};
use crate::read::{ReadError, ReadLimits};

/// A validated value, typed as its field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Text(String),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    Int(i64),
    Ratio(f64),
    /// Yuan × 100 (fen).
    Money(i64),
}

impl Value {
    pub fn as_f64(&self) -> f64 {
        match self {
            Value::Int(i) => *i as f64,
            Value::Ratio(r) => *r,
            Value::Money(m) => *m as f64 / 100.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Date(d) => f64::from(*d),
            Value::Text(_) => f64::NAN,
        }
    }

    pub fn display(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Bool(b) => if *b { "是" } else { "否" }.into(),
            Value::Date(d) => d.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Ratio(r) => format!("{:.2}%", r * 100.0),
            Value::Money(m) => format!("{}.{:02}", m / 100, m % 100),
        }
    }
}

/// One accepted enterprise row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptedRow {
    /// 1-based sheet row.
    pub source_row: u32,
    /// Indexed by schema field; personal fields are always None.
    pub values: Vec<Option<Value>>,
    /// What its 存在问题及诉求 says, when it was read where the row was validated (None for an empty
    /// text, and for rows from a reader worker: it does not cross the boundary, the parent reads it).
    #[serde(skip)]
    pub problems: Option<crate::problems::classify::Reading>,
}

/// Rows are the same when their cells are: where their problem text was read does not matter.
impl PartialEq for AcceptedRow {
    fn eq(&self, other: &AcceptedRow) -> bool {
        self.source_row == other.source_row && self.values == other.values
    }
}

/// A district of the job, as the 填报单位 check needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownDistrict {
    pub code: String,
    pub name: String,
    pub city_name: String,
}

/// Everything the validation of one submission needs besides its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmissionContext {
    pub district_code: String,
    /// The report date the submission is checked against.
    pub report_date: NaiveDate,
    /// False when no report date is known (`fugong validate` without `--date` on a file without
    /// 填报日期): 填报日期 and dates "not after the report date" are not checked; `report_date` then
    /// only gives the year of a date written without one.
    #[serde(default = "yes")]
    pub date_known: bool,
    pub limits: ReadLimits,
    /// Every district of the job (for 填报单位).
    pub districts: std::sync::Arc<Vec<KnownDistrict>>,
}

fn yes() -> bool {
    true
}

/// What validation made of one submission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmissionOutcome {
    /// The report sheet, when one was found.
    pub sheet: Option<String>,
    pub rows: Vec<AcceptedRow>,
    pub findings: Vec<Finding>,
    /// Distinct rows with at least one error.
    pub rows_rejected: u32,
    /// The key column's header as written and its 0-based column (for findings added after validation).
    pub key_header: Option<String>,
    pub key_column: Option<u32>,
    /// The 填报日期 the workbook states, when it states one that reads as a date.
    #[serde(default)]
    pub stated_date: Option<NaiveDate>,
}

impl SubmissionOutcome {
    pub fn from_read_error(error: &ReadError) -> SubmissionOutcome {
        let mut finding = match error {
            ReadError::Unreadable { message, .. } => {
                Finding::file(Code::FileUnreadable, message.clone())
                    .expecting("能用 Excel/WPS 打开的 .xlsx 或 .xls 日报表")
            }
            ReadError::TooLarge { message, .. } => {
                Finding::file(Code::FileTooLarge, message.clone())
                    .expecting("只含本区县日报表的工作簿")
            }
        };
        if let Some(detail) = error.detail() {
            tracing::info!(detail, "the reader's own words");
            finding.detail = Some(detail.to_string());
        }
        SubmissionOutcome {
            findings: vec![finding],
            ..SubmissionOutcome::default()
        }
    }

    /// True when a file-level error rejects the whole submission.
    pub fn has_file_error(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.is_error() && f.code.is_file_level())
    }

    pub fn warnings(&self) -> u32 {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count() as u32
    }
}
