//! Pull stage: where a district's workbook for a date comes from. `dir` reads a local inbox folder; the
//! result is the submission's bytes and where they came from, or why there is none.

pub mod dir;

use chrono::NaiveDate;

use crate::day::SourceInfo;
use crate::validate::Finding;

/// What pulling one district's submission gave.
#[derive(Debug)]
pub enum Pulled {
    Found {
        info: SourceInfo,
        bytes: Vec<u8>,
    },
    /// No file for this district and date.
    Missing,
    /// A file-level problem found before reading (ambiguous, too large, unreadable from disk).
    Problem {
        info: Option<SourceInfo>,
        finding: Finding,
    },
}

/// Fill `{date}`, `{yyyymmdd}` and `{district_code}` in a path or URL template.
pub fn expand_template(template: &str, district_code: &str, date: NaiveDate) -> String {
    template
        .replace("{date}", &date.format("%Y-%m-%d").to_string())
        .replace("{yyyymmdd}", &date.format("%Y%m%d").to_string())
        .replace("{district_code}", district_code)
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
