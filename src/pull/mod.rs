//! Pull stage: where a district's workbook for a date comes from. `dir` reads a local inbox folder,
//! `http` downloads. The result is the submission's bytes and where they came from, or why there is
//! none; a source that cannot be reached as a whole is a `SourceError` that fails the run (contract §9):
//! a missing inbox is never a day of `missing` districts.

pub mod blobs;
pub mod dir;
pub mod http;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use crate::config::source::{check_template, expand_template};
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
    /// A file-level problem with what was submitted, found before reading (ambiguous, too large).
    Problem {
        info: Option<SourceInfo>,
        finding: Finding,
    },
    /// The pull itself failed (the server did not answer or refused, the file could not be read): says
    /// nothing about what the district submitted. An automatic run keeps the previous submission.
    Unreachable {
        location: String,
        finding: Finding,
    },
}

/// A source that cannot be reached as a whole: the run fails and publishes nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error(
        "the inbox folder {folder} cannot be read: {reason} (is the share mounted and the job's [source] path right?)"
    )]
    DirUnavailable { folder: PathBuf, reason: String },
    #[error(
        "cannot list {pattern}: {reason} (a folder that cannot be read is never taken as \"not submitted\")"
    )]
    Listing { pattern: String, reason: String },
    #[error(
        "every district's download failed ({districts} districts), e.g. {example} (is the report server up and reachable?)"
    )]
    HttpUnreachable { districts: usize, example: String },
}

/// Where a district's submission for a date is looked for (a path or a URL), without opening the
/// source: for `backfill --dry-run`.
pub fn describe(job: &crate::config::Job, district_code: &str, date: NaiveDate) -> String {
    match &job.source {
        crate::config::job::Source::Dir { base, template } => {
            dir::DirSource::new(base.clone(), template.clone()).describe(district_code, date)
        }
        crate::config::job::Source::Http(s) => expand_template(&s.url, district_code, date),
    }
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The file name of a source location (a path, or a URL without its query): the tables' `source_file`.
pub fn file_name_of(location: &str) -> String {
    if location.contains("://") {
        return http::file_name_of(location);
    }
    Path::new(location)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| location.to_string())
}

/// A job's source, ready to pull from.
pub enum Puller {
    Dir(dir::DirSource),
    Http(http::HttpSource),
}

impl Puller {
    /// Whether the source can be reached as a whole (a dir source's fixed folder can be read).
    pub fn check(&self) -> Result<(), SourceError> {
        match self {
            Puller::Dir(source) => source.check(),
            Puller::Http(_) => Ok(()),
        }
    }

    /// Pull one district's submission for a date; returns the result and the retries it took.
    pub fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_bytes: u64,
        previous: Option<&crate::ledger::SubmissionRecord>,
    ) -> Result<(Pulled, u32), SourceError> {
        match self {
            Puller::Dir(source) => Ok((source.pull(district_code, date, max_bytes)?, 0)),
            Puller::Http(source) => {
                let p = source.pull(district_code, date, max_bytes, previous);
                Ok((p.pulled, p.retries))
            }
        }
    }

    /// Where a district's submission would come from (for `backfill --dry-run` and `check`).
    pub fn describe(&self, district_code: &str, date: NaiveDate) -> String {
        match self {
            Puller::Dir(source) => source.describe(district_code, date),
            Puller::Http(source) => expand_template(&source.url_template(), district_code, date),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_of_paths_and_urls() {
        assert_eq!(
            file_name_of("/srv/inbox/2020-02-24/370102.xlsx"),
            "370102.xlsx"
        );
        assert_eq!(
            file_name_of("https://r.example/370102/20200224.xlsx?t=1"),
            "20200224.xlsx"
        );
    }
}
