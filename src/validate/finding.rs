//! Findings are data, not errors: every problem found in a submission becomes one `Finding` with a stable
//! contract code (§3), and ends up as one row of the `rejects` table.

use serde::{Deserialize, Serialize};

/// The stable codes of contract §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Code {
    FileUnreadable,
    FileTooLarge,
    HeaderMissing,
    HeaderAmbiguous,
    HeaderUnknown,
    DistrictMismatch,
    DateMismatch,
    AmbiguousSubmission,
    EmptySubmission,
    TypeError,
    RequiredMissing,
    ConstraintError,
    UsccInvalid,
    CrossField,
    DuplicateKey,
    DuplicateAcrossDistricts,
    TotalMismatch,
    /// A figure far from the previous published date's (a warning; contract §11, issue 8).
    Anomaly,
}

impl Code {
    pub const ALL: [Code; 18] = [
        Code::FileUnreadable,
        Code::FileTooLarge,
        Code::HeaderMissing,
        Code::HeaderAmbiguous,
        Code::HeaderUnknown,
        Code::DistrictMismatch,
        Code::DateMismatch,
        Code::AmbiguousSubmission,
        Code::EmptySubmission,
        Code::TypeError,
        Code::RequiredMissing,
        Code::ConstraintError,
        Code::UsccInvalid,
        Code::CrossField,
        Code::DuplicateKey,
        Code::DuplicateAcrossDistricts,
        Code::TotalMismatch,
        Code::Anomaly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::FileUnreadable => "file-unreadable",
            Code::FileTooLarge => "file-too-large",
            Code::HeaderMissing => "header-missing",
            Code::HeaderAmbiguous => "header-ambiguous",
            Code::HeaderUnknown => "header-unknown",
            Code::DistrictMismatch => "district-mismatch",
            Code::DateMismatch => "date-mismatch",
            Code::AmbiguousSubmission => "ambiguous-submission",
            Code::EmptySubmission => "empty-submission",
            Code::TypeError => "type-error",
            Code::RequiredMissing => "required-missing",
            Code::ConstraintError => "constraint-error",
            Code::UsccInvalid => "uscc-invalid",
            Code::CrossField => "cross-field",
            Code::DuplicateKey => "duplicate-key",
            Code::DuplicateAcrossDistricts => "duplicate-across-districts",
            Code::TotalMismatch => "total-mismatch",
            Code::Anomaly => "anomaly",
        }
    }

    /// The severity a code has unless stated otherwise (an Excel error in an optional field is a
    /// `type-error` warning).
    pub fn default_severity(self) -> Severity {
        match self {
            Code::HeaderUnknown
            | Code::DuplicateAcrossDistricts
            | Code::TotalMismatch
            | Code::Anomaly => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// File-level codes reject (or describe) the whole submission rather than a row.
    pub fn is_file_level(self) -> bool {
        matches!(
            self,
            Code::FileUnreadable
                | Code::FileTooLarge
                | Code::HeaderMissing
                | Code::HeaderAmbiguous
                | Code::HeaderUnknown
                | Code::DistrictMismatch
                | Code::DateMismatch
                | Code::AmbiguousSubmission
                | Code::EmptySubmission
                | Code::TotalMismatch
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem in one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// 1-based sheet row; None for file-level findings.
    pub row: Option<u32>,
    /// The header text as the district wrote it.
    pub column: Option<String>,
    /// The canonical field.
    pub field: Option<String>,
    /// The raw value as text.
    pub value: Option<String>,
    /// What is wrong and what to do, in Chinese.
    pub message: String,
    /// The cell as Excel names it (`F12`), when the finding is about one cell.
    #[serde(default)]
    pub cell: Option<String>,
    /// What the cell or file should hold instead, in Chinese.
    #[serde(default)]
    pub expected: Option<String>,
    /// For a developer: the underlying library's own words (the `detail` column of `rejects`), kept out
    /// of the clerk's message.
    #[serde(default)]
    pub detail: Option<String>,
}

impl Finding {
    /// A file-level finding with the code's default severity.
    pub fn file(code: Code, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity: code.default_severity(),
            row: None,
            column: None,
            field: None,
            value: None,
            message: message.into(),
            cell: None,
            expected: None,
            detail: None,
        }
    }

    /// `file-too-large` for a submission over the job's `max_file_bytes` (its size when known), found
    /// before it is read.
    pub fn over_byte_limit(bytes: Option<u64>, max_file_bytes: u64) -> Finding {
        Finding::file(
            Code::FileTooLarge,
            crate::read::guard::over_byte_limit(bytes, max_file_bytes),
        )
        .expecting(format!("不超过 {max_file_bytes} 字节的工作簿"))
    }

    /// The same finding about one cell.
    pub fn at(mut self, cell: impl Into<String>) -> Finding {
        self.cell = Some(cell.into());
        self
    }

    /// The same finding with what is expected.
    pub fn expecting(mut self, expected: impl Into<String>) -> Finding {
        self.expected = Some(expected.into());
        self
    }

    /// The same finding with a developer's detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Finding {
        self.detail = Some(detail.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
