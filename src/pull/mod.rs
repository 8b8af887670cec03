//! Pull stage: where a district's workbook for a date comes from. `dir` reads a local inbox folder,
//! `http` downloads. The result is the submission's bytes and where they came from, or why there is
//! none; a source that cannot be reached as a whole is a `SourceError` that fails the run (contract §9):
//! a missing inbox is never a day of `missing` districts.

pub mod blobs;
pub mod dir;
pub mod http;
pub mod upload;

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
    #[error("cannot read the uploads from the run ledger: {reason}")]
    Uploads { reason: String },
}

/// Where a district's submission for a date is looked for (a path or a URL), without opening the
/// source: for `backfill --dry-run`.
pub fn describe(job: &crate::config::Job, district_code: &str, date: NaiveDate) -> String {
    match &job.source {
        crate::config::job::Source::Dir { base, template } => {
            dir::DirSource::new(base.clone(), template.clone()).describe(district_code, date)
        }
        crate::config::job::Source::Http(s) => expand_template(&s.url, district_code, date),
        crate::config::job::Source::Upload => {
            format!("upload: {district_code} {date}")
        }
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

/// Where one kind of submission comes from: a producer of a district's bytes for a date. The kinds are
/// `dir` (an inbox folder), `http` (a report server) and `upload` (what districts hand in through the
/// portal); `open` puts a job's together.
pub trait Source: Send + Sync {
    /// `dir`, `http` or `upload` (the board's and the manifest's word for it).
    fn kind(&self) -> &'static str;

    /// Whether the source can be reached as a whole (a dir source's fixed folder can be read).
    fn check(&self) -> Result<(), SourceError> {
        Ok(())
    }

    /// Pull one district's submission for a date; returns the result and the retries it took.
    /// `previous` is what the ledger holds of the last pull (an HTTP source asks conditionally).
    fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_bytes: u64,
        previous: Option<&crate::ledger::SubmissionRecord>,
    ) -> Result<(Pulled, u32), SourceError>;

    /// Where a district's submission would come from (for `backfill --dry-run`, `check`, notices).
    fn describe(&self, district_code: &str, date: NaiveDate) -> String;

    /// Whether `pull` uses the previous record (conditional requests).
    fn conditional(&self) -> bool {
        false
    }
}

impl Source for dir::DirSource {
    fn kind(&self) -> &'static str {
        "dir"
    }

    fn check(&self) -> Result<(), SourceError> {
        dir::DirSource::check(self)
    }

    fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_bytes: u64,
        _previous: Option<&crate::ledger::SubmissionRecord>,
    ) -> Result<(Pulled, u32), SourceError> {
        Ok((
            dir::DirSource::pull(self, district_code, date, max_bytes)?,
            0,
        ))
    }

    fn describe(&self, district_code: &str, date: NaiveDate) -> String {
        dir::DirSource::describe(self, district_code, date)
    }
}

impl Source for http::HttpSource {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_bytes: u64,
        previous: Option<&crate::ledger::SubmissionRecord>,
    ) -> Result<(Pulled, u32), SourceError> {
        let p = http::HttpSource::pull(self, district_code, date, max_bytes, previous);
        Ok((p.pulled, p.retries))
    }

    fn describe(&self, district_code: &str, date: NaiveDate) -> String {
        expand_template(&self.url_template(), district_code, date)
    }

    fn conditional(&self) -> bool {
        true
    }
}

/// A job's sources: the latest taken upload of a district wins (contract §12); without one, the
/// job's `dir` or `http` source is pulled (none for `kind = "upload"`).
pub struct JobSource {
    pub uploads: upload::UploadSource,
    pub pulled: Option<Box<dyn Source>>,
}

impl JobSource {
    /// The kind of the source that is pulled (`upload` when only uploads count).
    pub fn pulled_kind(&self) -> &'static str {
        self.pulled.as_ref().map_or("upload", |p| p.kind())
    }
}

impl Source for JobSource {
    fn kind(&self) -> &'static str {
        self.pulled_kind()
    }

    fn check(&self) -> Result<(), SourceError> {
        match &self.pulled {
            Some(p) => p.check(),
            None => Ok(()),
        }
    }

    fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_bytes: u64,
        previous: Option<&crate::ledger::SubmissionRecord>,
    ) -> Result<(Pulled, u32), SourceError> {
        let (uploaded, _) = self
            .uploads
            .pull(district_code, date, max_bytes, previous)?;
        match (uploaded, &self.pulled) {
            (Pulled::Missing, Some(source)) => {
                source.pull(district_code, date, max_bytes, previous)
            }
            (uploaded, _) => Ok((uploaded, 0)),
        }
    }

    fn describe(&self, district_code: &str, date: NaiveDate) -> String {
        match &self.pulled {
            Some(p) => p.describe(district_code, date),
            None => self.uploads.describe(district_code, date),
        }
    }

    fn conditional(&self) -> bool {
        self.pulled.as_ref().is_some_and(|p| p.conditional())
    }
}

/// Open a job's sources over its ledger (the uploads) and blobs.
pub fn open(
    job: &crate::config::Job,
    ledger: std::sync::Arc<crate::ledger::Ledger>,
    blobs: blobs::BlobStore,
) -> Result<JobSource, http::HttpSetupError> {
    use crate::config::job::Source as Config;
    let pulled: Option<Box<dyn Source>> = match &job.source {
        Config::Dir { base, template } => Some(Box::new(dir::DirSource::new(
            base.clone(),
            template.clone(),
        ))),
        Config::Http(settings) => Some(Box::new(http::HttpSource::new(
            settings.clone(),
            blobs.clone(),
        )?)),
        Config::Upload => None,
    };
    Ok(JobSource {
        uploads: upload::UploadSource::new(job.name.clone(), ledger, blobs),
        pulled,
    })
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
