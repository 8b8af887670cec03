//! Pull stage: where a district's workbook for a date comes from. `dir` reads a local inbox folder; the
//! result is the submission's bytes and where they came from, or why there is none.

pub mod dir;
pub mod http;

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

/// A job's source, ready to pull from.
pub enum Puller {
    Dir { pattern: String },
    Http(http::HttpSource),
}

impl Puller {
    /// Pull one district's submission for a date; returns the result and the retries it took.
    pub fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_bytes: u64,
        previous: Option<&crate::ledger::SubmissionRecord>,
    ) -> (Pulled, u32) {
        match self {
            Puller::Dir { pattern } => (dir::pull(pattern, district_code, date, max_bytes), 0),
            Puller::Http(source) => {
                let p = source.pull(district_code, date, max_bytes, previous);
                (p.pulled, p.retries)
            }
        }
    }

    /// Where a district's submission would come from (for `backfill --dry-run`).
    pub fn describe(&self, district_code: &str, date: NaiveDate) -> String {
        match self {
            Puller::Dir { pattern } => expand_template(pattern, district_code, date),
            Puller::Http(source) => expand_template(&source.url_template(), district_code, date),
        }
    }
}
